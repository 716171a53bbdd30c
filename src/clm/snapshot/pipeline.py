"""``clm snapshot run``: a one-row-per-customer churn file from mapping to registered model.

Load + map + validate, split, tune (Optuna, nested MLflow runs), train, evaluate next to
references fitted in the same run, explain (per-customer reasons and the driver report),
and export (model, encoder and mapping to ``<runs>/<dataset>/model``; MLflow registry
``clm-snapshot-<dataset>`` with alias ``challenger``). There is no lifecycle-stage model and
no truth for snapshot data: the metrics file says so instead of reporting those figures.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from clm import paths
from clm.config import load_section
from clm.explain.drivers import ExplainConfig
from clm.models.encoding import FeatureEncoder
from clm.models.evaluate import LOGREG, MODEL, fit_logistic_baseline
from clm.models.metrics import churn_metrics
from clm.models.prior import PriorReport, rates_differ
from clm.models.tasks import (
    CHURN,
    ModelConfig,
    TrainConfig,
    cross_validate,
    grouped_folds,
    train_rounds,
)
from clm.models.train import fit_final, log_and_register
from clm.models.trained import TrainedModel
from clm.models.tune import Matrix, Range, TuneConfig, TuningResult, journal_storage, tune
from clm.snapshot.frame import (
    ID,
    LABEL,
    DroppedRows,
    filter_rows,
    map_frame,
    read_source,
    validate_frame,
)
from clm.snapshot.mapping import Mapping, MappingError, load_mapping
from clm.snapshot.pyfunc import log_snapshot_model
from clm.snapshot.references import boosting_reference_scores
from clm.snapshot.report import (
    SnapshotReport,
    explain_snapshot,
    reasons_table,
    recorded_agreement,
    render_snapshot_report,
)
from clm.snapshot.scoring import MAPPING_COPY
from clm.snapshot.split import check_train_levels, pooled_levels, split_frame
from clm.tracking import file_digest, git_commit, log_to_finished_run, use_experiment

log = logging.getLogger(__name__)

EXPERIMENT = "clm-snapshot"
# Early stopping and tuning on log loss, not AUC: on a validation part of a few hundred rows
# AUC moves in steps and peaks by chance within a handful of rounds; log loss is smooth.
TASK = replace(CHURN, eval_metric="logloss", maximize=False)
SKIPPED = {
    "stage": "skipped: snapshot data has no monthly history, so there is no lifecycle-stage model",
    "attribution": "skipped: snapshot data has no truth about why customers left",
}
NO_RECORDED = "skipped: the mapping has no reason column, or no test churner has a known reason"
MANY_LEVELS = 50  # a category with more values than this gets a hint to pool the rare ones
RARE_ROWS = 30  # the min_count the hint suggests


@dataclass(frozen=True)
class SnapshotConfig:
    """The ``snapshot`` section; the rest comes from ``model``, ``tune``, ``train``, ``explain``."""

    n_trials: int  # Optuna trials per dataset (tune's pruner)
    timeout_s: float | None  # or stop starting trials after this many seconds
    search_space: dict[str, Range]  # deeper trees than the monthly model: tables are small
    first_trial: dict[str, float] | None  # the study's first point (tune.first_trial)
    max_boost_rounds: int  # replaces model.max_boost_rounds (small learning rates need more)
    cv_folds: int  # tune by k-fold cross-validation on train + valid ...
    cv_max_rows: int  # ... when they hold at most this many rows (else on valid alone)
    monotone_contradiction_z: float  # drop a domain constraint the training data contradicts
    monotone_min_gain: float  # ... or whose removal cuts the CV log loss by this share
    data_roots: tuple[str, ...]  # folders besides its own a mapping's data files may be in


@dataclass(frozen=True)
class SnapshotSettings:
    """Every params section a snapshot run reads."""

    snapshot: SnapshotConfig
    model: ModelConfig
    tune: TuneConfig
    train: TrainConfig
    explain: ExplainConfig

    @classmethod
    def load(cls, params: Path = paths.PARAMS) -> SnapshotSettings:
        """The sections of ``params``; tune's trials, time budget, search space and first
        trial, and the model's round limit, replaced by the ``snapshot`` section's."""
        snapshot = load_section(SnapshotConfig, "snapshot", params)
        tune_config = replace(
            load_section(TuneConfig, "tune", params),
            n_trials=snapshot.n_trials,
            timeout_s=snapshot.timeout_s,
            search_space=snapshot.search_space,
            first_trial=snapshot.first_trial,
        )
        model = load_section(ModelConfig, "model", params)
        return cls(
            snapshot=snapshot,
            model=replace(model, max_boost_rounds=snapshot.max_boost_rounds),
            tune=tune_config,
            train=load_section(TrainConfig, "train", params),
            explain=load_section(ExplainConfig, "explain", params),
        )


@dataclass(frozen=True)
class Prepared:
    """A mapping's data, ready to learn from: the three parts and the rows filtered out."""

    parts: dict[str, pl.DataFrame]  # train / valid / test
    dropped: tuple[DroppedRows, ...]  # per filter rule of the mapping
    source: pl.DataFrame  # the rows as read (the registered model's input example)


def prepare(mapping: Mapping) -> Prepared:
    """Read, filter, map, validate and split the mapping's data."""
    source = read_source(mapping)
    kept, dropped = filter_rows(mapping, source)
    table = validate_frame(mapping, map_frame(mapping, kept))
    log.info(
        "%s: %d customers, churn rate %.3f", mapping.dataset, table.height, table[LABEL].mean()
    )
    categories = [
        name
        for name, meta in mapping.metadata.items()
        if meta.kind == "category" and not meta.min_count  # pooled: any level is scored
    ]
    try:
        parts = split_frame(table, mapping.split)
        check_train_levels(parts, categories)
    except MappingError as error:
        raise MappingError(f"{mapping.path}:split: {error}") from error
    for name in categories:
        _warn_of_many_levels(name, parts["train"][name])
    return Prepared(parts, dropped, source)


def _warn_of_many_levels(name: str, values: pl.Series) -> None:
    """Say when a category has so many values that their columns slow every boosting round
    (740 service areas: 20 tuning trials in 600 s against 100 in 325 s pooled)."""
    counts = values.drop_nulls().value_counts()
    if counts.height > MANY_LEVELS:
        rare = counts.filter(pl.col("count") < RARE_ROWS).height
        log.warning(
            "category '%s' has %d values in the training part, %d of them held by fewer than %d "
            "customers: each value is a model column; 'min_count: %d' pools the rare ones "
            "(docs/mapping.md)",
            name, counts.height, rare, RARE_ROWS, RARE_ROWS,
        )  # fmt: skip


def run_snapshot(
    mapping_path: Path,
    settings: SnapshotSettings,
    runs_dir: Path = paths.RUNS_DIR,
    *,
    allow_outside: bool = False,
) -> dict:
    """Run the whole pipeline; write ``<runs_dir>/<dataset>/`` and return the metrics.

    The mapping's data files must lie in its folder or ``snapshot.data_roots`` unless
    ``allow_outside``.
    """
    mapping = load_mapping(mapping_path, settings.snapshot.data_roots, allow_outside=allow_outside)
    prepared = prepare(mapping)
    parts = prepared.parts
    out = runs_dir / mapping.dataset
    out.mkdir(parents=True, exist_ok=True)
    use_experiment(EXPERIMENT)
    model, dropped_constraints = supported_constraints(
        parts["train"], settings.model, settings.snapshot.monotone_contradiction_z
    )
    settings = replace(settings, model=model)
    # the population rate is the dataset's, stated in its mapping, never params' monthly one;
    # tuning, constraint checks, the final fit and the refit all learn weighted to it
    population = mapping.population_rate
    tuning = _tune(mapping, parts, settings, out)
    train_config = replace(settings.train, population_churn_rate=population)
    # rounds found by cross-validation are steadier than early stopping on a small valid part
    folds = tuning_folds(parts, settings.snapshot)
    cv_rounds = tuning.best_rounds if folds else None
    if folds:
        model, cv_rounds, costly = drop_costly_constraints(
            _seen_matrix(mapping, parts), tuning, folds, settings.model,
            settings.snapshot.monotone_min_gain, population,
        )  # fmt: skip
        settings = replace(settings, model=model)
        dropped_constraints |= costly
    log.info("final fit, then the refit on train + valid")
    trained, fit = fit_final(
        TASK, tuning.best_params, parts["train"], parts["valid"], mapping.metadata,
        settings.model, train_config, rounds=cv_rounds,
    )  # fmt: skip
    test = parts["test"]
    seen = pl.concat([parts["train"], parts["valid"]])
    trained = refit_on_seen(
        trained, tuning.best_params, seen, settings.model, fit.best_rounds, population
    )
    pooled = pooled_levels(trained.encoder, parts, mapping.metadata)
    log.info("references: logistic regression and scikit-learn gradient boosting, same rows")
    scores = scores_with_references(trained, seen, test, settings.model.seed)
    metrics = {name: churn_metrics(TASK.labels(test), score) for name, score in scores.items()}
    k = settings.explain.top_reasons
    log.info("explaining %d test customers (TreeSHAP)", test.height)
    explained = explain_snapshot(trained, test, mapping, k)
    agreement = recorded_agreement(explained, test, mapping)
    prior = prior_summary(fit.prior, test, explained["churn_probability"].mean(), settings.train)
    report = SnapshotReport(
        mapping.dataset, mapping.description, metrics, mapping.excluded, agreement,
        prior=prior, dropped=prepared.dropped, overrides=cause_overrides(mapping), pooled=pooled,
    )  # fmt: skip
    html = render_snapshot_report(explained, mapping, report, settings.explain)
    document = _document(mapping, parts, metrics, tuning, asdict(fit))
    document |= {
        "prior": prior,
        "dropped_rows": [asdict(rows) for rows in prepared.dropped],
        "pooled_levels": [asdict(levels) for levels in pooled],
        "cause_overrides": cause_overrides(mapping),
        "tuning_cv_folds": tuning_folds(parts, settings.snapshot),
        "monotone_constraints": {
            "kept": {
                feature: sign
                for feature, sign in settings.model.monotone_constraints[TASK.name].items()
                if feature in mapping.metadata
            },
            "dropped": dropped_constraints,
        },
    }
    document["recorded_reasons"] = agreement.summary() if agreement else NO_RECORDED
    provenance = {
        "git_commit": git_commit(),
        "data_version": _data_digest(mapping),
        "study_name": tuning.study_name,
        "dataset": mapping.dataset,
        "device": settings.model.device,
    }
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp) / "model"  # what the registered model holds: a scratch copy
        trained.save(folder)
        shutil.copyfile(mapping.path, folder / MAPPING_COPY)
        run_id, version = log_and_register(
            trained, fit, tuning.best_params,
            lambda name: log_snapshot_model(folder, prepared.source, name), mapping.metadata,
            provenance, registered_name=f"clm-snapshot-{mapping.dataset}",
        )  # fmt: skip
    document["registered"] = {
        "name": f"clm-snapshot-{mapping.dataset}",
        "version": version,
        "run_id": run_id,
    }
    # every scorer's test probabilities, row by row: for paired comparisons (bootstrap)
    scored = test.select(ID, LABEL).with_columns(pl.Series(n, s) for n, s in scores.items())
    written = _write_outputs(
        out, scored, reasons_table(explained, k), html, trained, mapping.path, document
    )
    log_to_finished_run(
        run_id,
        {f"test_{name}": value for name, value in metrics[MODEL].items()},
        [written["metrics"], written["report"], written["mapping"]],
        "snapshot",
    )
    return document


def _write_outputs(
    out: Path,
    scores: pl.DataFrame,
    reasons: pl.DataFrame,
    html: str,
    trained: TrainedModel,
    mapping_path: Path,
    document: dict,
) -> dict[str, Path]:
    """Every file of the run and the model in one commit (``TrainedModel.saved_with``): a run
    that fails or is killed leaves the last run's files as they were, never one run's report
    beside another's model. Returns the files by role."""
    targets = {
        "scores": out / "scores.parquet",
        "reasons": out / "reasons.parquet",
        "report": out / "drivers.html",
        "mapping": out / "model" / MAPPING_COPY,
        "metrics": out / "metrics.json",
    }
    with trained.saved_with(out / "model", *targets.values()) as staged_paths:
        staged = dict(zip(targets, staged_paths, strict=True))
        scores.write_parquet(staged["scores"])
        reasons.write_parquet(staged["reasons"])
        staged["report"].write_text(html, encoding="utf-8")
        shutil.copyfile(mapping_path, staged["mapping"])
        staged["metrics"].write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return targets


def prior_summary(
    prior: PriorReport, test: pl.DataFrame, mean_predicted: float, config: TrainConfig
) -> dict:
    """The churn rates seen and stated, what was done, and a warning where the training and
    test parts churn at different rates and no population rate was stated (the probabilities
    then hold at the training rate, not the test's)."""
    test_rate = float(test[LABEL].mean())
    warning = None
    if prior.population_rate is None and rates_differ(
        prior.train_rate, prior.train_rows, test_rate, test.height, config.rate_z_max
    ):
        warning = (
            f"the training part churns at {prior.train_rate:.3f} and the test part at "
            f"{test_rate:.3f}: probabilities hold at the training rate; state the population's "
            f"churn rate in the mapping (population: {{churn_rate: ...}}) to correct them"
        )
        log.warning(warning)
    return {
        "train_rate": prior.train_rate,
        "valid_rate": prior.valid_rate,
        "test_rate": test_rate,
        "population_rate": prior.population_rate,
        "stated_in": "the mapping's population.churn_rate"
        if prior.population_rate is not None
        else "not stated",
        "churner_weight": prior.churner_weight,
        "valid_at_natural_rate": prior.valid_at_natural_rate,
        "action": prior.action,
        "test_mean_probability": float(mean_predicted),
        "warning": warning,
    }


def cause_overrides(mapping: Mapping) -> dict[str, dict[str, str]]:
    """The clm features whose cause this mapping changed: clm's cause, the new one, why."""
    return {
        spec.meta.name: {
            "clm_cause": spec.cause_override.clm_cause,
            "cause": spec.meta.cause,
            "reason": spec.cause_override.reason,
        }
        for spec in mapping.features
        if spec.cause_override
    }


def scores_with_references(
    trained: TrainedModel, seen: pl.DataFrame, test: pl.DataFrame, seed: int
) -> dict[str, np.ndarray]:
    """Churn probabilities on ``test`` of the clm model and of each reference fitted on
    ``seen`` (the rows the clm model learnt from), keyed as ``metrics.json``'s scorers."""
    baseline = fit_logistic_baseline(trained, seen)
    return {
        MODEL: trained.predict(test),
        LOGREG: baseline.predict_proba(trained.encoder.transform(test))[:, 1],
        **boosting_reference_scores(trained, seen, test, seed),
    }


def refit_on_seen(
    trained: TrainedModel,
    params: dict,
    seen: pl.DataFrame,
    model: ModelConfig,
    rounds: int,
    population_rate: float | None = None,
) -> TrainedModel:
    """The tuned model trained again on train + valid for the rounds of the validated fit
    (weighted to ``population_rate`` as that fit was).

    On a few thousand rows the validation fifth is data the model should learn from (the
    references learn from it too). Encoder and calibrator stay those of the validated fit.
    """
    matrix = (trained.encoder.transform(seen), TASK.labels(seen))
    booster = train_rounds(
        TASK, params, matrix, rounds, model=model, population_rate=population_rate
    )
    return replace(trained, booster=booster)


def _tune(
    mapping: Mapping, parts: dict[str, pl.DataFrame], settings: SnapshotSettings, out: Path
) -> TuningResult:
    """Run (or resume) the dataset's study, stored beside its outputs.

    A journal file, not SQLite: pruning reports every boosting round, and on tables this
    small one SQLite write per round costs more than the round itself.
    """
    encoder = FeatureEncoder.fit(parts["train"], mapping.metadata)
    return tune(
        TASK,
        (encoder.transform(parts["train"]), TASK.labels(parts["train"])),
        (encoder.transform(parts["valid"]), TASK.labels(parts["valid"])),
        settings.model,
        settings.tune,
        storage=journal_storage(out / "optuna.journal"),
        data_digest=_data_digest(mapping),
        show_progress=True,  # trials on a large table take minutes: say how far it is
        cv_folds=tuning_folds(parts, settings.snapshot),
        population_rate=mapping.population_rate,
    )


def _seen_matrix(mapping: Mapping, parts: dict[str, pl.DataFrame]) -> Matrix:
    """Train and valid as one model matrix, encoded as in tuning (encoder fitted on train)."""
    encoder = FeatureEncoder.fit(parts["train"], mapping.metadata)
    seen = pl.concat([parts["train"], parts["valid"]])
    return encoder.transform(seen), TASK.labels(seen)


def drop_costly_constraints(
    seen: Matrix,
    tuning: TuningResult,
    folds: int,
    model: ModelConfig,
    min_gain: float,
    population_rate: float | None = None,
) -> tuple[ModelConfig, int, dict[str, str]]:
    """``model`` without the churn constraints whose removal cuts the tuned model's
    cross-validated loss by more than ``min_gain`` (relative), the rounds to train, and the
    constraints dropped with the losses that dropped them.

    A domain rule holds for clm's own features; a column mapped onto one may break it in some
    corner of the data (many care calls that are sales calls), where forcing the rule costs
    accuracy. Each rule is tried out in turn with the tuned parameters, weighted to
    ``population_rate`` as in tuning.
    """
    best, rounds = tuning.best_value, tuning.best_rounds
    rules_here = [f for f in model.monotone_constraints.get(TASK.name, {}) if f in seen[0].columns]
    splits = grouped_folds(seen, folds, model.seed) if rules_here else []
    if rules_here:
        log.info("trying each of %d monotone constraints out by %d-fold CV", len(rules_here), folds)
    dropped = {}
    for feature in rules_here:
        rules = {f: s for f, s in model.monotone_constraints[TASK.name].items() if f != feature}
        without = replace(
            model, monotone_constraints={**model.monotone_constraints, TASK.name: rules}
        )
        loss, without_rounds = cross_validate(
            TASK, tuning.best_params, seen, splits, model=without, population_rate=population_rate
        )
        if loss < best * (1 - min_gain):
            dropped[feature] = f"cross-validated log loss {best:.4f} with it, {loss:.4f} without"
            model, best, rounds = without, loss, without_rounds
    if dropped:
        log.warning("monotone constraints that cost accuracy here, dropped: %s", dropped)
    return model, rounds, dropped


def tuning_folds(parts: dict[str, pl.DataFrame], config: SnapshotConfig) -> int:
    """Cross-validation folds to tune with: ``cv_folds`` on small data, else 0 (the
    validation part alone)."""
    seen_rows = parts["train"].height + parts["valid"].height
    return config.cv_folds if seen_rows <= config.cv_max_rows else 0


def supported_constraints(
    train: pl.DataFrame, model: ModelConfig, z_max: float
) -> tuple[ModelConfig, dict[str, str]]:
    """``model`` without the churn constraints this dataset's training part contradicts.

    A constraint is domain knowledge about clm's own features; a snapshot column mapped onto
    one may mean something else (a care-call count that includes sales calls), so a rule the
    data contradicts beyond noise (Spearman correlation of the other sign, ``z_max`` standard
    errors from zero) is dropped and named, rather than forced on the model.
    """
    constraints = model.monotone_constraints.get(TASK.name, {})
    dropped = {}
    for feature, sign in constraints.items():
        if feature not in train.columns or not train[feature].dtype.is_numeric():
            continue
        pairs = train.select(pl.col(feature).cast(pl.Float64), pl.col(LABEL)).drop_nulls()
        rho = pairs.select(pl.corr(feature, LABEL, method="spearman")).item()
        if rho is not None and rho * sign < 0 and abs(rho) * (pairs.height - 1) ** 0.5 > z_max:
            dropped[feature] = f"constraint {sign:+d}, but Spearman {rho:+.3f} on train"
    if dropped:
        log.warning("monotone constraints the data contradicts, dropped: %s", dropped)
    kept = {feature: sign for feature, sign in constraints.items() if feature not in dropped}
    monotone = {**model.monotone_constraints, TASK.name: kept}
    return replace(model, monotone_constraints=monotone), dropped


def _data_digest(mapping: Mapping) -> str:
    """Changes with the mapping or any of its data files."""
    return file_digest(mapping.path, *(source.path for source in mapping.files))


def _document(
    mapping: Mapping,
    parts: dict[str, pl.DataFrame],
    metrics: dict[str, dict[str, float]],
    tuning: TuningResult,
    fit: dict,
) -> dict:
    """The metrics file: sizes, every scorer's test metrics, the best reference, and what
    was skipped and why."""
    references = {name: m for name, m in metrics.items() if name != MODEL}
    best = max(references, key=lambda name: references[name]["roc_auc"])
    return {
        "dataset": mapping.dataset,
        "split": mapping.split.method,
        "rows": {name: part.height for name, part in parts.items()},
        "churn_rate": {name: float(part[LABEL].mean()) for name, part in parts.items()},
        "churn": metrics,
        "best_reference": {
            "name": best,
            "roc_auc_gap": metrics[MODEL]["roc_auc"] - metrics[best]["roc_auc"],
        },
        "tuning": {
            "study_name": tuning.study_name,
            "n_complete": tuning.n_complete,
            "n_pruned": tuning.n_pruned,
            f"best_{TASK.eval_metric}": tuning.best_value,  # on valid, or CV (tuning_cv_folds)
            "best_params": tuning.best_params,
        },
        "fit": fit,
        "features": list(mapping.metadata),
        "excluded": mapping.excluded,
        **SKIPPED,
    }
