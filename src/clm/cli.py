"""The ``clm`` command line: a thin face over the library, one subcommand per pipeline step.

Every subcommand reads its section of ``params.yaml`` (``--params``) and the same files the
DVC stage of the same name reads, so ``clm <step>`` and ``dvc repro <step>`` do the same work.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from clm.config import DEFAULT_PARAMS

app = typer.Typer(
    help="Churn and lifecycle-stage models for mobile operators.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ParamsOption = Annotated[Path, typer.Option("--params", help="params.yaml to read.")]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Configure logging once, at the entry point."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def generate(
    params: ParamsOption = DEFAULT_PARAMS,
    raw_dir: Annotated[Path, typer.Option(help="Where the raw tables go.")] = Path("data/raw"),
    truth_dir: Annotated[
        Path, typer.Option(help="Where the truth goes (latent stages, true reasons).")
    ] = Path("data/truth"),
    n_subscribers: Annotated[
        int | None, typer.Option(help="Override generate.n_subscribers.")
    ] = None,
) -> None:
    """Generate the synthetic operator's raw tables, calibrated to the seed figures."""
    import dataclasses

    from clm.config import load_section
    from clm.data.generate import GenerateConfig, write_dataset

    config = load_section(GenerateConfig, "generate", params)
    if n_subscribers is not None:
        config = dataclasses.replace(config, n_subscribers=n_subscribers)
    tables = write_dataset(config, raw_dir, truth_dir, show_progress=True)
    typer.echo(
        f"{tables.subscribers.height} subscribers, {tables.churn_events.height} churn events "
        f"over {config.n_months} months -> {raw_dir}, truth -> {truth_dir}"
    )


@app.command()
def validate(
    params: ParamsOption = DEFAULT_PARAMS,
    raw_dir: Annotated[
        Path, typer.Option(help="Folder with subscribers/usage_monthly/churn_events.parquet.")
    ] = Path("data/raw"),
    validated_dir: Annotated[Path, typer.Option(help="Where accepted rows go.")] = Path(
        "data/validated"
    ),
    quarantine_dir: Annotated[
        Path, typer.Option(help="Where failing rows go, with their failed_checks.")
    ] = Path("data/quarantine"),
    report: Annotated[Path, typer.Option(help="Validation report (JSON).")] = Path(
        "reports/validation.json"
    ),
) -> None:
    """Validate the raw tables: accept good rows, quarantine bad ones with the checks they failed.

    Fails when a table cannot be checked (missing file or column, wrong dtype, empty) or when
    a table's quarantined share exceeds validate.max_quarantined_share; in the latter case the
    report and quarantine files are written and the previous validated tables are kept.
    """
    # Imported here so `clm --help` does not pay for importing pandera.
    from clm.config import load_section
    from clm.data.validate import QuarantineShareError, ValidateConfig, run_validate
    from clm.io import TableError

    config = load_section(ValidateConfig, "validate", params)
    try:
        run_validate(config, raw_dir, validated_dir, quarantine_dir, report)
    except (TableError, QuarantineShareError) as error:
        typer.secho(f"validate failed: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from error
