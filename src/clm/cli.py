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


@app.command(
    help="Validate the raw tables: accept good rows, quarantine bad ones with the checks they "
    "failed.\n\nFails when a table cannot be checked (missing file or column, wrong dtype, "
    "empty table) or when a table's quarantined share exceeds validate.max_quarantined_share; "
    "then the report and quarantine files are written and the previous validated tables kept."
)
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
    """Run the validate step with the same paths and params as the DVC stage."""
    # Imported here so `clm --help` does not pay for importing pandera.
    from clm.config import load_section
    from clm.data.validate import QuarantineShareError, ValidateConfig, run_validate
    from clm.io import TableError

    config = load_section(ValidateConfig, "validate", params)
    try:
        summary = run_validate(config, raw_dir, validated_dir, quarantine_dir, report)
    except (TableError, QuarantineShareError) as error:
        typer.secho(f"validate failed: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from error
    for table, counts in summary["tables"].items():
        typer.echo(
            f"{table}: {counts['rows_accepted']} accepted, {counts['rows_quarantined']} "
            f"quarantined of {counts['rows_in']}"
        )


@app.command(
    help="Build features and labels per (subscriber, snapshot month) from the validated tables."
    "\n\nEvery feature at month T reads months <= T only. Labels: churn within "
    "labels.horizon_months (null where the horizon runs past the data), stage_true from the "
    "truth file when present, stage_rule from the seed's rule table."
)
def features(
    params: ParamsOption = DEFAULT_PARAMS,
    validated_dir: Annotated[
        Path, typer.Option(help="Folder with subscribers/usage_monthly/churn_events.parquet.")
    ] = Path("data/validated"),
    truth: Annotated[
        Path, typer.Option(help="Truth stages_monthly.parquet; skipped when absent.")
    ] = Path("data/truth/stages_monthly.parquet"),
    out: Annotated[Path, typer.Option(help="Feature table to write.")] = Path(
        "data/features/features.parquet"
    ),
) -> None:
    """Run the features step with the same paths and params as the DVC stage."""
    from clm.config import load_section
    from clm.features.build import FeatureConfig
    from clm.features.stage import run_features
    from clm.labels import LabelConfig

    rows = run_features(
        load_section(FeatureConfig, "features", params),
        load_section(LabelConfig, "labels", params),
        validated_dir,
        truth,
        out,
    )
    typer.echo(f"{rows:,} feature rows written to {out}")


@app.command(
    help="Split the feature table by snapshot month into train / valid / test (out of time)."
    "\n\nTest is split.test_month (auto: the latest labelled month), valid split.valid_month "
    "(auto: the month before), train the split.train_months months before valid. Fails if "
    "any train month is not before valid and test."
)
def split(
    params: ParamsOption = DEFAULT_PARAMS,
    features_path: Annotated[Path, typer.Option("--features", help="Feature table.")] = Path(
        "data/features/features.parquet"
    ),
    out_dir: Annotated[Path, typer.Option(help="Where train/valid/test.parquet go.")] = Path(
        "data/split"
    ),
    report: Annotated[Path, typer.Option(help="Split report (JSON).")] = Path("reports/split.json"),
) -> None:
    """Run the split step with the same paths and params as the DVC stage."""
    from clm.config import load_section
    from clm.split import SplitConfig, SplitError, run_split

    try:
        summary = run_split(
            load_section(SplitConfig, "split", params), features_path, out_dir, report
        )
    except SplitError as error:
        typer.secho(f"split failed: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from error
    for part, figures in summary.items():
        typer.echo(f"{part}: {figures}")
