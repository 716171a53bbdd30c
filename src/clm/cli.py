"""The ``clm`` command line: a thin face over the library, one subcommand per pipeline step.

Every subcommand reads its section of ``params.yaml`` (``--params``) and the same files the
DVC stage of the same name reads, so ``clm <step>`` and ``dvc repro <step>`` do the same work.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from typer.core import TyperGroup

from clm import paths

if TYPE_CHECKING:
    from rich.progress import Progress


class _OneLineUsageErrors(TyperGroup):
    """A usage mistake (an unknown task, model or option, a bad month) is one red line and exit
    2, not a usage box; the help shown for a bare ``clm`` or ``clm snapshot`` stays as it is."""

    def main(
        self,
        args: Sequence[str] | None = None,
        *more: Any,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, *more, standalone_mode=False, **extra)
        try:
            code = super().main(args, *more, standalone_mode=False, **extra)
        except typer.TyperException as error:
            # typer's own error printer skips this one too: the help is already printed.
            if type(error).__name__ != "NoArgsIsHelpError":
                context = getattr(error, "ctx", None)
                where = f"{context.command_path}: " if context else ""
                typer.secho(f"{where}{error.format_message()}", err=True, fg=typer.colors.RED)
            sys.exit(error.exit_code)
        except typer.Abort:
            typer.secho("aborted", err=True, fg=typer.colors.RED)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineUsageErrors,
    help="Churn and lifecycle-stage models for mobile operators.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ParamsOption = Annotated[Path, typer.Option("--params", help="params.yaml to read.")]


def _month(text: str) -> date:
    """A ``--month`` value; typer turns the ``InputError`` (a ValueError) into a usage error."""
    from clm.months import parse_month

    return parse_month(text)


MonthOption = Annotated[
    date | None,
    typer.Option(
        parser=_month, metavar="YYYY-MM-01", help="The month to work on; default the latest."
    ),
]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Configure logging once, at the entry point (``import clm`` filters pandera's pyspark
    warning for every entry point)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # Spark's Python-JVM bridge logs each connection it opens and closes
        logging.getLogger("py4j").setLevel(logging.WARNING)


@app.command()
def generate(
    params: ParamsOption = paths.PARAMS,
    raw_dir: Annotated[Path, typer.Option(help="Where the raw tables go.")] = paths.RAW_DIR,
    truth_dir: Annotated[
        Path, typer.Option(help="Where the truth goes (latent stages, true reasons).")
    ] = paths.TRUTH_DIR,
    n_subscribers: Annotated[
        int | None, typer.Option(help="Override generate.n_subscribers.")
    ] = None,
) -> None:
    """Generate the synthetic operator's raw tables, calibrated to the seed figures."""
    import dataclasses

    from clm.config import load_section
    from clm.synthetic.generate import GenerateConfig, write_dataset

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
    "empty table, unreadable data; exit 2) or when a table's quarantined share exceeds "
    "validate.max_quarantined_share (exit 1); then the report and quarantine files are written "
    "and the previous validated tables kept. Outputs are replaced together or not at all."
)
def validate(
    params: ParamsOption = paths.PARAMS,
    raw_dir: Annotated[
        Path, typer.Option(help="Folder with subscribers/usage_monthly/churn_events.parquet.")
    ] = paths.RAW_DIR,
    validated_dir: Annotated[
        Path, typer.Option(help="Where accepted rows go.")
    ] = paths.VALIDATED_DIR,
    quarantine_dir: Annotated[
        Path, typer.Option(help="Where failing rows go, with their failed_checks.")
    ] = paths.QUARANTINE_DIR,
    report: Annotated[
        Path, typer.Option(help="Validation report (JSON).")
    ] = paths.VALIDATION_REPORT,
) -> None:
    """Run the validate step with the same paths and params as the DVC stage."""
    # Imported here so `clm --help` does not pay for importing pandera.
    from clm.config import load_section
    from clm.data.validate import QuarantineShareError, ValidateConfig, run_validate

    config = load_section(ValidateConfig, "validate", params)
    with _input_errors("validate", QuarantineShareError):
        summary = run_validate(config, raw_dir, validated_dir, quarantine_dir, report)
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
    params: ParamsOption = paths.PARAMS,
    validated_dir: Annotated[
        Path, typer.Option(help="Folder with subscribers/usage_monthly/churn_events.parquet.")
    ] = paths.VALIDATED_DIR,
    truth: Annotated[
        Path, typer.Option(help="Truth stages_monthly.parquet; skipped when absent.")
    ] = paths.TRUTH_STAGES,
    out: Annotated[Path, typer.Option(help="Feature table to write.")] = paths.FEATURES,
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
    params: ParamsOption = paths.PARAMS,
    features_path: Annotated[
        Path, typer.Option("--features", help="Feature table.")
    ] = paths.FEATURES,
    out_dir: Annotated[
        Path, typer.Option(help="Where train/valid/test.parquet go.")
    ] = paths.SPLIT_DIR,
    report: Annotated[Path, typer.Option(help="Split report (JSON).")] = paths.SPLIT_REPORT,
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


TaskArgument = Annotated[Literal["churn", "stage"], typer.Argument(help="The model to fit.")]


@app.command()
def tune(task: TaskArgument, params: ParamsOption = paths.PARAMS) -> None:
    """Tune a model with Optuna on the train/valid months; a stored study resumes.

    Best parameters go to models/tuning/<task>.json, the study to optuna/<task>.journal.
    """
    import optuna

    from clm.models.tune_stage import run_tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    result = run_tune(task, params)
    typer.echo(
        f"{result.study_name}: best {result.best_value:.4f} over {result.n_complete} complete "
        f"and {result.n_pruned} pruned trials"
    )


@app.command()
def train(task: TaskArgument, params: ParamsOption = paths.PARAMS) -> None:
    """Train the final model from the tuned parameters; register it as `challenger`."""
    from clm.models.train_stage import run_train

    registration = run_train(task, params)
    typer.echo(f"{task}: registered version {registration['version']} as challenger")


@app.command()
def evaluate(params: ParamsOption = paths.PARAMS) -> None:
    """Evaluate both models, the baselines and the oracle on the out-of-time test month."""
    import json

    from clm.models.evaluate_stage import run_evaluate

    typer.echo(json.dumps(run_evaluate(params)["churn"]["model"], indent=2))


@app.command(
    "train-reasons",
    help="Train the reason model on past churners' recorded reasons (churn_events.reason) at "
    "their last month of service, and choose its blend with the TreeSHAP category shares by "
    "held-out agreement; writes models/reasons (docs/reasons.md).",
)
def train_reasons(params: ParamsOption = paths.PARAMS) -> None:
    """Run the train_reasons step with the same paths and params as the DVC stage."""
    from clm.config import load_section
    from clm.explain.reason_model import ReasonModelConfig
    from clm.explain.reason_stage import run_train_reasons

    model = run_train_reasons(load_section(ReasonModelConfig, "reasons", params))
    typer.echo(f"reason model: blend weight {model.weight:g}; held-out agreement {model.agreement}")


@app.command(
    help="Explain the churn model on the test month in the churn-reason taxonomy.\n\n"
    "Writes each customer's top reasons (cause, category, log-odds contribution) to "
    "data/explain/reasons.parquet, the bilingual driver report (the scored month first, then "
    "the model checks on the test month) to reports/drivers.html and, how often a churner's "
    "top category matches the reason recorded at exit (churn_events.reason) and, when "
    "data/truth exists, the true reason (at the test month and at the churner's last month "
    "of service) to reports/explain.json; the report and metrics are logged to the churn "
    "model's MLflow run."
)
def explain(
    params: ParamsOption = paths.PARAMS,
    log_to_mlflow: Annotated[
        bool, typer.Option(help="Attach the report to the churn model's MLflow run.")
    ] = True,
) -> None:
    """Run the explain step with the same paths and params as the DVC stage."""
    from clm.config import load_section
    from clm.explain.drivers import ExplainConfig
    from clm.explain.stage import ExplainPaths, log_to_run, run_explain

    document = run_explain(load_section(ExplainConfig, "explain", params))
    if log_to_mlflow:
        log_to_run(document)
    figures, at_exit = document.get("attribution"), document.get("attribution_at_exit")
    if figures and at_exit:
        typer.echo(
            f"top category matches the true reason for {at_exit['top_category_accuracy']:.1%} "
            f"of {figures['churners']} churners at their last month of service, "
            f"{figures['top_category_accuracy']:.1%} at the test month "
            f"(naive guess {figures['naive_accuracy']:.1%})"
        )
    recorded = document.get("recorded_reasons", {}).get("at_exit")
    if recorded:
        low, high = recorded["top_category_interval_95"]
        typer.echo(
            f"top category matches the recorded reason for {recorded['top_category_accuracy']:.1%} "
            f"[{low:.1%}, {high:.1%}] of churners at their last month of service "
            f"(naive guess {recorded['naive_accuracy']:.1%})"
        )
    typer.echo(f"report: {ExplainPaths().report}")


@app.command(
    help="Export the batch scorer: one MLflow pyfunc bundling feature building, the churn and "
    "stage models, the taxonomy, measures and budget rules (scoring.budget).\n\nSaves it to "
    "--out-dir and registers it as clm-scorer with the alias challenger (MLFLOW_TRACKING_URI)."
)
def export(
    params: ParamsOption = paths.PARAMS,
    validated_dir: Annotated[
        Path, typer.Option(help="Validated tables; the input example comes from them.")
    ] = paths.VALIDATED_DIR,
    model_dir: Annotated[
        Path, typer.Option(help="Folder with churn/, stage/ and reasons/.")
    ] = paths.MODELS_DIR,
    out_dir: Annotated[
        Path, typer.Option(help="Folder for the local copy of the artifact.")
    ] = paths.SCORER_DIR,
) -> None:
    """Run the export step with the same paths and params as the DVC stage."""
    from clm.config import load_section
    from clm.features.build import FeatureConfig
    from clm.scoring.batches import ScoringConfig
    from clm.scoring.export import run_export

    version = run_export(
        load_section(FeatureConfig, "features", params),
        load_section(ScoringConfig, "scoring", params).budget,
        validated_dir,
        model_dir,
        out_dir,
    )
    typer.echo(
        f"scorer saved to {out_dir}, registered as clm-scorer version {version} (challenger)"
    )


@app.command(
    help="Score a month: churn probability, risk decile, stage, value tier, top-3 reasons, "
    "measures and budget caps per subscriber.\n\n--input: scoring input (usage_monthly "
    "columns plus the subscriber columns, one row per subscriber and month) as a parquet or "
    "CSV file or a folder of them, or a folder with subscribers.parquet and "
    "usage_monthly.parquet. It must hold the scoring month and the 6 months before it. "
    "Streams in batches of subscribers (scoring.batch_rows). Rows failing their checks go, "
    "with all rows of their subscriber, to <--out stem>.quarantine.parquet, written together "
    "with the scores. Exits 2 on bad input (empty or unreadable file, missing or mistyped "
    "column, missing history month, bad --month), 1 on too many quarantined rows "
    "(scoring.max_quarantined_share) or a scorer that cannot be loaded; the previous output "
    "files are then left as they were."
)
def score(
    scorer_uri: Annotated[
        str,
        typer.Option(
            "--scorer",
            help="Scorer artifact: models:/clm-scorer@champion, models:/clm-scorer@challenger "
            "or a folder (models/scorer).",
        ),
    ],
    input_path: Annotated[Path, typer.Option("--input", help="Scoring input file or folder.")],
    out: Annotated[Path, typer.Option(help="Scores parquet file to write.")],
    month: MonthOption = None,
    params: ParamsOption = paths.PARAMS,
    spark_master: Annotated[
        str | None,
        typer.Option(
            help="Score on Spark on this machine, e.g. local[4] or local-cluster[2,1,2048]: "
            "--input is a folder of raw tables, --out a folder. On a cluster: "
            "scripts/spark_score.py with spark-submit.",
        ),
    ] = None,
    operator_tables: Annotated[
        bool,
        typer.Option(
            help="--input is a folder of your own subscribers and usage_monthly tables (parquet "
            "or CSV) in your names and codes: params.yaml's data.operator columns and values "
            "bring them into clm's contract first, as dvc repro's import does.",
        ),
    ] = False,
) -> None:
    """Score with the artifact behind a progress bar, then print the run and risk-mix tables."""
    import tempfile

    from rich.console import Console

    if spark_master:
        _score_on_spark(scorer_uri, input_path, out, month, params, spark_master, operator_tables)
        return

    with _scoring_progress() as progress:
        loading = progress.add_task(f"loading the scorer {scorer_uri}", total=None)
        # the heavy imports (MLflow, the scorer's libraries) happen here, behind the spinner
        from mlflow.exceptions import MlflowException

        from clm.config import load_section
        from clm.data.operator import DataConfig, write_in_contract
        from clm.scoring import batches
        from clm.scoring.inputs import SCORED_TABLES

        config = load_section(batches.ScoringConfig, "scoring", params)
        try:
            scorer = batches.load_scorer_from(scorer_uri)
        except (MlflowException, OSError) as error:
            typer.secho(
                f"score failed: cannot load {scorer_uri}: {error}", err=True, fg=typer.colors.RED
            )
            raise typer.Exit(code=1) from error
        with (
            _input_errors(f"score {input_path}", batches.QuarantineShareError),
            tempfile.TemporaryDirectory() as temp,
        ):
            if operator_tables:
                progress.update(loading, description=f"converting {input_path} to clm's contract")
                operator = load_section(DataConfig, "data", params).operator
                write_in_contract(
                    operator, input_path, SCORED_TABLES, Path(temp), config.batch_rows
                )
                input_path = Path(temp)
            progress.remove_task(loading)
            summary = batches.score_input(
                batches.scan_input(input_path, Path(temp)), scorer, out, config, month, progress
            )
    from clm.scoring.tables import mix_table, run_table

    console = Console()
    console.print(run_table(summary, str(out)))
    for column, mix in summary.mix.items():
        console.print(mix_table(column, mix))


def _score_on_spark(
    scorer_uri: str,
    input_path: Path,
    out: Path,
    month: date | None,
    params: Path,
    master: str,
    operator_tables: bool,
) -> None:
    """``clm score`` on a local Spark session: same checks, summary and exit codes."""
    from rich.console import Console

    from clm.config import load_section
    from clm.data.operator import DataConfig
    from clm.scoring import batches, spark
    from clm.scoring.tables import mix_table, run_table

    config = load_section(batches.ScoringConfig, "scoring", params)
    step = f"score {input_path} on Spark"
    # the session stops before an error is printed: its shutdown logs would follow the line
    with _input_errors(step, batches.QuarantineShareError), _executor_input_errors(step):
        session = spark.local_session(master)
        try:
            usage, subscribers = spark.read_raw_tables(session, str(input_path))
            if operator_tables:
                operator = load_section(DataConfig, "data", params).operator
                usage, subscribers = spark.conform_tables(usage, subscribers, operator)
            summary = spark.score_tables(usage, subscribers, scorer_uri, str(out), config, month)
        finally:
            session.stop()
    console = Console()
    console.print(run_table(summary.run, str(out), summary.decile_rows_off))
    for column, mix in summary.run.mix.items():
        console.print(mix_table(column, mix))


@contextmanager
def _scoring_progress() -> Iterator[Progress]:
    """A transient progress display: spinner, step, bar, steps done, time elapsed and left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        yield progress


ModelOption = Annotated[
    Literal["churn", "stage", "scorer"],
    typer.Option("--model", help="Registered model: churn (clm-churn), stage, scorer."),
]


@app.command(
    help="Promote the challenger to champion if every gate passes.\n\nRe-scores challenger and "
    "champion from the registry on the same out-of-time test month and checks metric margins "
    "and floors (promote.metrics; the scorer: its churn and stage parts), calibration, the "
    "input signature, a clean raw-data validation report, the driver report, and that the "
    "version was never rolled back. On success moves the champion alias, appends the move to "
    "the champion history (registered-model tags champion_history.<n>) and writes the gate "
    "table as the version's description. Exits 1 when a gate fails (also with --dry-run) or on "
    "any error, leaving the registry unchanged; exits 0 when the version is already champion. "
    "Uses MLFLOW_TRACKING_URI."
)
def promote(
    model: ModelOption,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the gate table; move and tag nothing.")
    ] = False,
    version: Annotated[
        str | None, typer.Option(help="Version to promote instead of the challenger alias.")
    ] = None,
    params: ParamsOption = paths.PARAMS,
    split_dir: Annotated[Path, typer.Option(help="Folder with test.parquet.")] = paths.SPLIT_DIR,
    validation_report: Annotated[
        Path, typer.Option(help="Raw-data validation report.")
    ] = paths.VALIDATION_REPORT,
    driver_report: Annotated[
        Path, typer.Option(help="Driver report that must exist.")
    ] = paths.DRIVERS_REPORT,
) -> None:
    """Run a gated promotion and print its gate table."""
    from rich.console import Console

    from clm.config import load_section
    from clm.promotion.gates import PromoteConfig
    from clm.promotion.promote import PromotionInputs
    from clm.promotion.promote import promote as run_promote
    from clm.promotion.table import gate_table

    inputs = PromotionInputs(split_dir, validation_report, driver_report)
    with _registry_errors():
        config = load_section(PromoteConfig, "promote", params)
        decision = run_promote(model, config, inputs, version=version, dry_run=dry_run)
    if decision.already_champion:
        typer.secho(f"{decision.name} v{decision.challenger} is already champion; nothing to do")
        return
    Console().print(gate_table(decision))
    if decision.promoted:
        typer.secho(f"{decision.name} v{decision.challenger} is now champion", fg="green")
        return
    verdict = "would pass" if decision.passed else "failed a gate"
    typer.secho(
        f"{'dry run: ' if dry_run else 'refused: '}{decision.name} v{decision.challenger} "
        f"{verdict}; registry unchanged",
        err=not decision.passed,
        fg=typer.colors.GREEN if decision.passed else typer.colors.RED,
    )
    if not decision.passed:
        raise typer.Exit(code=1)


@app.command(
    help="Move champion back to the last earlier champion that was not rolled back, walking "
    "the champion history backwards.\n\nAppends the move, with who, when and --reason, to "
    "the history and tags the version it leaves promotion_decision=rolled_back; a rolled-back "
    "version is never champion again (later promotions refuse it, rollbacks skip it). Exits 1 "
    "with nothing changed when there is no such version. Uses MLFLOW_TRACKING_URI."
)
def rollback(
    model: ModelOption,
    reason: Annotated[str, typer.Option(help="Why, recorded in the history.")] = "manual rollback",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say where champion would go; change nothing.")
    ] = False,
    params: ParamsOption = paths.PARAMS,
) -> None:
    """Roll the champion back one step of its history."""
    from clm.config import load_section
    from clm.promotion.gates import PromoteConfig
    from clm.promotion.rollback import rollback as run_rollback

    with _registry_errors():
        config = load_section(PromoteConfig, "promote", params)
        done = run_rollback(model, config, reason, dry_run=dry_run)
    move = f"{done.name}: champion v{done.from_version} -> v{done.to_version}"
    if done.moved:
        typer.secho(move, fg="green")
    else:
        typer.echo(f"dry run: {move} would be the rollback; registry unchanged")


RETRAIN_EXIT = 3  # clm monitor: an alert that recommends retraining fired (0 and 1 taken, 2 usage)


@app.command(
    help="Monitor every month after the test month: drift of every feature, of the score and "
    "of the stage and value-tier mix (PSI with a KS or chi-square test) against the champion's "
    "training reference and the month before; the driver mix (category and cause shares of the "
    "high-risk customers, overall and per value tier x stage) with its change from last month; "
    "the quarantined share per table and month; and the realised ROC-AUC, top-decile lift and "
    "calibration of each month whose churn window has closed (the decay curve).\n\nWrites "
    "reports/monitoring.json and the bilingual reports/monitoring.html and logs them to MLflow "
    "against the champion's version. Exit status: 0 no alert that matters; 3 retrain "
    "recommended (a performance-decay or driver-mix-shift alert, named on the console); 2 bad "
    "input (a month without rows, a reference without the model's features, months out of "
    "order), nothing written; 1 any other failure.",
)
def monitor(
    params: ParamsOption = paths.PARAMS,
    month: MonthOption = None,
    log_to_mlflow: Annotated[bool, typer.Option(help="Log figures and report to MLflow.")] = True,
) -> None:
    """Run the monitor step with the same paths and params as the DVC stage."""
    from clm.config import ConfigError, load_section
    from clm.monitoring.config import MonitorConfig
    from clm.monitoring.stage import MonitorPaths, run_monitor
    from clm.monitoring.stage import log_to_mlflow as log_monitoring

    with _input_errors("monitor", ConfigError):
        result = run_monitor(load_section(MonitorConfig, "monitor", params), MonitorPaths(), month)
    if log_to_mlflow:
        log_monitoring(result)
    document = result.document
    typer.echo(
        f"monitored {document['baseline_month']}..{document['latest_month']}: "
        f"{len(result.alerts)} alert(s); report: {MonitorPaths().report}"
    )
    for alert in result.alerts:
        if not alert.retrain:
            typer.echo(f"  {alert.describe()}")
    if result.retrain:
        for alert in result.retrain:
            typer.secho(f"retrain: {alert.describe()}", fg=typer.colors.YELLOW)
        raise typer.Exit(code=RETRAIN_EXIT)


@contextmanager
def _input_errors(step: str, *refusals: type[Exception]) -> Iterator[None]:
    """Print bad input (``InputError``) as one red line and exit 2, ``refusals`` and exit 1."""
    from clm.errors import InputError

    try:
        yield
    except InputError as error:
        typer.secho(f"{step} failed: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from error
    except refusals as error:
        typer.secho(f"{step} failed: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from error


@contextmanager
def _executor_input_errors(step: str) -> Iterator[None]:
    """A table's value refused on a Spark executor (``--operator-tables``: the import's
    ``TableError`` in a worker's traceback) as one red line, exit 2, as on this machine."""
    from pyspark.errors import PythonException

    from clm.scoring.spark import worker_error

    try:
        yield
    except PythonException as error:
        line = worker_error(error)
        if "TableError:" not in line:
            raise
        typer.secho(f"{step} failed: {line}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from error


@contextmanager
def _registry_errors() -> Iterator[None]:
    """Check the tracking server first, then turn config and registry errors into one red line
    and exit 1."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from clm.config import ConfigError
    from clm.promotion.champion import ChampionMovedError, RegistryMoveError
    from clm.promotion.evaluators import VersionLoadError
    from clm.promotion.lease import LeaseBusyError
    from clm.promotion.promote import PromotionError
    from clm.promotion.rollback import RollbackError
    from clm.promotion.server import RegistryUnreachableError, check_reachable, shorten_http_retries
    from clm.registry import UnknownModelError

    uri = mlflow.get_tracking_uri()
    shorten_http_retries()
    try:
        check_reachable(uri)
        yield
    except (
        ConfigError, UnknownModelError, RegistryUnreachableError, PromotionError, RollbackError,
        VersionLoadError, LeaseBusyError, ChampionMovedError, RegistryMoveError,
    ) as error:  # fmt: skip
        typer.secho(str(error), err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from error
    except MlflowException as error:
        typer.secho(f"MLflow registry at {uri}: {error.message}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from error


snapshot_app = typer.Typer(
    help="Bring your own data: one-row-per-customer churn files described by a mapping file "
    "(docs/mapping.md).",
    no_args_is_help=True,
)
app.add_typer(snapshot_app, name="snapshot")
MappingArgument = Annotated[Path, typer.Argument(help="Mapping file, e.g. mappings/iranian.yaml.")]
AllowOutsideOption = Annotated[
    bool,
    typer.Option(
        "--allow-outside",
        help="Read data files wherever the mapping points, not only in its folder and "
        "snapshot.data_roots.",
    ),
]


@contextmanager
def _snapshot_errors(action: str) -> Iterator[None]:
    """A bad mapping, data file or params section: one red line naming it, exit 2."""
    from clm.config import ConfigError
    from clm.snapshot.mapping import MappingError

    try:
        yield
    except (MappingError, ConfigError) as error:
        typer.secho(f"{action} failed: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from error


@snapshot_app.command(
    "check",
    help="Load the mapping, map and validate its data and split it; train nothing.\n\nPrints "
    "each part's rows and churn rate. Exits 2 with the problem named in one line (unknown clm "
    "feature or cause, a data file outside the mapping's folder and snapshot.data_roots, an "
    "empty or unreadable file, missing column, a value that does not convert, a failed schema "
    "check).",
)
def snapshot_check(
    mapping: MappingArgument,
    params: ParamsOption = paths.PARAMS,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Check a mapping file against its data."""
    from clm.config import load_section
    from clm.snapshot.mapping import load_mapping
    from clm.snapshot.pipeline import SnapshotConfig, prepare

    with _snapshot_errors("mapping check"):
        roots = load_section(SnapshotConfig, "snapshot", params).data_roots
        prepared = prepare(load_mapping(mapping, roots, allow_outside=allow_outside))
    for rows in prepared.dropped:
        typer.echo(f"filter: {rows.rows} customers dropped where {rows.rule} ({rows.reason})")
    for name, part in prepared.parts.items():
        typer.echo(f"{name}: {part.height} customers, churn rate {part['churn'].mean():.3f}")


@snapshot_app.command(
    "run",
    help="Run the whole pipeline on a mapped dataset: validate, filter, split, tune "
    "(snapshot.n_trials Optuna trials or snapshot.timeout_s seconds; k-fold CV on small data), "
    "train, correct to the mapping's population churn rate, evaluate next to logistic "
    "regression and scikit-learn gradient boosting fitted in the same run, explain, export."
    "\n\nWrites <runs-dir>/<dataset>/: metrics.json, drivers.html, reasons.parquet, "
    "scores.parquet, model/ (model, encoder, mapping) and the "
    "Optuna study; registers clm-snapshot-<dataset> with the alias challenger "
    "(MLFLOW_TRACKING_URI). No stage model and no attribution check: snapshot data has "
    "neither monthly history nor truth. Exits 2 with one line on a bad mapping, data file or "
    "params section, as check does.",
)
def snapshot_run(
    mapping: MappingArgument,
    params: ParamsOption = paths.PARAMS,
    runs_dir: Annotated[Path, typer.Option(help="Where <dataset>/ goes.")] = paths.RUNS_DIR,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Run the snapshot pipeline and print the test metrics."""
    import optuna

    from clm.snapshot.pipeline import SnapshotSettings, run_snapshot

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _snapshot_errors("snapshot run"):
        settings = SnapshotSettings.load(params)
        document = run_snapshot(mapping, settings, runs_dir, allow_outside=allow_outside)
    for scorer, figures in document["churn"].items():
        typer.echo(
            f"{scorer}: ROC-AUC {figures['roc_auc']:.3f}, top-decile lift "
            f"{figures['top_decile_lift']:.2f}"
        )
    typer.echo(f"-> {runs_dir / document['dataset']}/ (metrics.json, drivers.html)")


@snapshot_app.command(
    "score",
    help="Score customers whose outcome is not known yet (a newer export of the mapped table) "
    "with the model the last 'clm snapshot run' of the mapping trained: churn probability, "
    "risk decile within the file and the top reasons with their Chinese and English names."
    "\n\nThe file is mapped by the mapping copy saved with the model and needs no label, "
    "split or reason column. Rows failing the mapped schema, or holding a category value the "
    "model never saw (a feature without min_count), go to quarantine.csv with their failed "
    "checks. Writes <out-dir>/scores.parquet, scores.csv, scores.xlsx (the --xlsx-rows "
    "riskiest), quarantine.csv and "
    "summary.json (rows in = scored + quarantined + filtered). Exits 2 with one line on a "
    "missing model or file, a missing column or a value that does not convert.",
)
def snapshot_score(
    mapping: MappingArgument,
    data: Annotated[Path, typer.Option("--input", help="The CSV file to score.")],
    out_dir: Annotated[
        Path | None,
        typer.Option(help="Output folder; default <runs-dir>/<dataset>/scored/<input stem>/."),
    ] = None,
    xlsx_rows: Annotated[
        int,
        typer.Option(
            min=1, max=1_048_575, help="The riskiest customers scores.xlsx holds (the CSV all)."
        ),
    ] = 100_000,
    params: ParamsOption = paths.PARAMS,
    runs_dir: Annotated[Path, typer.Option(help="Where <dataset>/ is.")] = paths.RUNS_DIR,
) -> None:
    """Score a file with a snapshot run's model and print the counts."""
    from clm.config import load_section
    from clm.explain.drivers import ExplainConfig
    from clm.snapshot.mapping import load_mapping
    from clm.snapshot.scoring import MAPPING_COPY, score_file, write_scored

    with _snapshot_errors("snapshot score"):
        dataset = load_mapping(mapping, allow_outside=True).dataset
        model_dir = runs_dir / dataset / "model"
        copy = model_dir / MAPPING_COPY
        if copy.is_file() and copy.read_bytes() != mapping.read_bytes():
            typer.secho(
                f"{mapping} changed since the model was trained: scoring with the mapping it "
                f"was trained with ({copy})",
                err=True,
                fg=typer.colors.YELLOW,
            )
        reasons = load_section(ExplainConfig, "explain", params).top_reasons
        scored = score_file(model_dir, data, reasons)
        out_dir = out_dir or runs_dir / dataset / "scored" / data.stem
        summary = write_scored(scored, out_dir, model_dir, data, xlsx_rows)
    typer.echo(
        f"{summary['rows_in']} rows: {summary['scored']} scored, {summary['quarantined']} "
        f"quarantined, {summary['filtered']} filtered; mean churn probability "
        f"{summary['mean_churn_probability']:.4f} -> {out_dir}/"
    )


campaign_app = typer.Typer(
    help="Retention campaigns judged by value: plan whom to contact under budget with a "
    "control group, then measure the uplift once the outcome months are in.",
    no_args_is_help=True,
)
app.add_typer(campaign_app, name="campaign")


@campaign_app.command(
    "plan",
    help="Plan a scored month: hold out a control group (campaign.control_share per value "
    "tier x risk decile), then choose at most one measure per customer to maximise expected "
    "retained value net of cost under the customers' caps, the tier budgets, the total budget "
    "and the channel capacity (HiGHS).\n\nWrites data/campaign/plan.parquet, plan.json and the "
    "call sheet callsheet.csv / callsheet.xlsx. Exits 1 with the problem named (a budget or "
    "capacity <= 0, an unknown measure code, a month without scores).",
)
def campaign_plan(
    params: ParamsOption = paths.PARAMS,
    month: MonthOption = None,
    uplift_dir: Annotated[
        Path | None,
        typer.Option(
            help="Uplift model folder from the last pilot (models/uplift); default "
            "the prior effect table campaign.measures."
        ),
    ] = None,
) -> None:
    """Run the plan step with the same paths and params as the DVC stage."""
    from clm.campaign.config import CampaignConfig
    from clm.campaign.stage import CampaignPaths, run_plan
    from clm.config import load_section

    with _campaign_errors("plan"):
        config = load_section(CampaignConfig, "campaign", params)
        summary = run_plan(config, CampaignPaths(), month, uplift_dir)
    typer.echo(
        f"{summary['month']}: {summary['contacts']:,} contacts of {summary['subscribers']:,} "
        f"subscribers ({summary['arms']['control']:,} held out as control), spend "
        f"{summary['spend_yuan']:,.2f} of {summary['total_budget_yuan']:,.2f} yuan, expected "
        f"value {summary['expected_value_yuan']:,.2f} yuan ({summary['gap_to_lp_bound']:.3%} "
        f"below the LP bound) -> {CampaignPaths().campaign_dir}/"
    )
    if "uplift_check" in summary:
        typer.echo(f"effects from {uplift_dir}: {summary['uplift_check']}")


@campaign_app.command(
    "measure",
    help="Measure the plan once its outcome months are in (data/outcome: usage_monthly and "
    "churn_events for the months after the plan month): churn and net value, treated vs "
    "comparable control, overall, per value tier and per measure with 95 % intervals, the "
    "Qini curve and the ROI; learn the uplift model (models/uplift) from the pilot.\n\nWrites "
    "reports/campaign.json and the bilingual reports/campaign.html and logs them to MLflow "
    "(MLFLOW_TRACKING_URI). Exits 1 when the outcome months are not in or follow a month "
    "that had no plan.",
)
def campaign_measure(
    params: ParamsOption = paths.PARAMS,
    log_to_mlflow: Annotated[bool, typer.Option(help="Log figures and report to MLflow.")] = True,
) -> None:
    """Run the measure step with the same paths and params as the DVC stage."""
    from clm.campaign import measure_stage as stage
    from clm.campaign.config import CampaignConfig
    from clm.config import load_section

    paths = stage.CampaignPaths()
    with _campaign_errors("measure"):
        config = load_section(CampaignConfig, "campaign", params)
        document = stage.run_measure(config, paths, stage.synthetic_generator(params))
    if log_to_mlflow:
        stage.log_to_mlflow(document, paths.report_html)
    overall, roi = document["overall"], document["roi"]
    typer.echo(
        f"{document['month']}: {overall['treated']:,} treated vs {overall['control']:,} "
        f"comparable control; churn cut {_signed(overall['churn_cut'], '.1%')} (95 % CI "
        f"{' to '.join(_signed(b, '.1%') for b in overall['churn_cut_ci95'] or [None, None])}); "
        f"ROI {_signed(roi['roi'], '.2f')}; report: {paths.report_html}"
    )


def _signed(value: float | None, spec: str) -> str:
    """A figure with its sign, or 'n/a' where the pilot was too small to give one."""
    return "n/a" if value is None else format(value, "+" + spec)


@contextmanager
def _campaign_errors(step: str) -> Iterator[None]:
    """A campaign input problem becomes one red line and exit code 1."""
    from clm.campaign.config import CampaignError
    from clm.config import ConfigError
    from clm.data.io import TableError

    try:
        yield
    except (CampaignError, ConfigError, TableError) as error:
        typer.secho(f"campaign {step} failed: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from error
