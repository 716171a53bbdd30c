"""Benchmark: ``clm snapshot run`` on the three public churn datasets, markdown tables.

Run: .venv/bin/python -m benchmarks.real_datasets [--trials 100] [--timeout 180]
     [--refits 20] [--oversample 0.5] [--draws 3] [--resamples 1000] [--runs-dir runs]
     [--params params.yaml]
Needs ../shared/data/real (the mappings in mappings/ point there). Each row puts clm's test
ROC-AUC and top-decile lift next to the references fitted in the same run on the same split
(logistic regression, scikit-learn GradientBoosting and HistGradientBoosting, default
settings), with the paired bootstrap 95 % interval of clm minus the best reference (the
same resampled test rows for both), and the figures quoted in each dataset's PROVENANCE.md
(5-fold CV on all rows, so not the same split). MLflow: MLFLOW_TRACKING_URI when set, else a
temporary SQLite store. Goal: clm at or above the best same-run reference on each dataset.

The tuning budget is the benchmark's (``--trials``, ``--timeout``), smaller than a user's
default in params.yaml (``snapshot.n_trials``, ``snapshot.timeout_s``); the output says which.

``--refits 20`` adds what one split cannot show: how much each scorer's test figures move
with the training rows. clm's final fit (the tuned parameters, rounds and monotone
constraints of the run fixed: ``refit_on_seen``) and every reference are trained again on
each of 20 bootstrap resamples of the rows they learnt from (the same resample for all) and
scored on the same test rows; the table gives each scorer's mean and clm minus the best
reference (by mean), with the 2.5-97.5 % range over the resamples.

``--oversample 0.5`` runs each dataset again with its training rows' churners copied until
they are half of them (the test part stays at the natural rate) and the natural rate stated
as ``population.churn_rate``, and compares the test Brier score with the natural run's. clm
then tunes, early-stops and trains on rows weighted to the stated rate (the table gives a
churner's weight) and calibrates on the validation part weighted likewise. Which churners get
copied, and how often, is a random draw that alone moves a small dataset's Brier score by a few
per cent, so ``--draws 3`` oversamples each dataset three times (seeds 0, 1, 2) and reports
each draw's ratio and their mean.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import polars as pl
import yaml
from sklearn.metrics import roc_auc_score

from clm.models.evaluate import MODEL
from clm.models.metrics import top_decile_lift
from clm.models.trained import TrainedModel
from clm.safe_yaml import read_yaml
from clm.snapshot.frame import ID, LABEL
from clm.snapshot.mapping import load_mapping
from clm.snapshot.pipeline import (
    TASK,
    SnapshotSettings,
    prepare,
    refit_on_seen,
    run_snapshot,
    scores_with_references,
)

DATASETS = ("ibm_telco", "orange_bigml", "iranian")
# PROVENANCE.md of each dataset: 5-fold stratified CV AUC, logistic regression / HistGB.
QUOTED = {
    "ibm_telco": "LR 0.845, HGB 0.838",
    "orange_bigml": "LR 0.813, HGB 0.918",
    "iranian": "LR 0.931, HGB 0.988 (inflated: duplicates, Status, Customer Value)",
}
REFERENCES = ("logistic_regression", "gradient_boosting", "hist_gradient_boosting")
METRICS = {"roc_auc": roc_auc_score, "top_decile_lift": top_decile_lift}
SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    # the time budget binds: a dataset whose trials are quick runs more of them within it
    parser.add_argument("--trials", type=int, default=100, help="Optuna trials per dataset")
    parser.add_argument("--timeout", type=float, default=180, help="tuning seconds per dataset")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--oversample", type=float, help="churner share of the training rows")
    parser.add_argument("--draws", type=int, default=3, help="oversampling draws per dataset")
    parser.add_argument("--refits", type=int, default=20, help="bootstrap refits (0: none)")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings = with_budget(SnapshotSettings.load(args.params), args.trials, args.timeout)
    print(
        f"tuning budget: {args.trials} trials or {args.timeout:.0f} s per dataset "
        f"(a user's default: {SnapshotSettings.load(args.params).tune.n_trials} trials or "
        f"{SnapshotSettings.load(args.params).tune.timeout_s} s)\n"
    )
    with tempfile.TemporaryDirectory() as store:
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{Path(store) / 'mlflow.db'}")
        rows, refitted, shifted = [], [], []
        for dataset in args.datasets:
            mapping = Path("mappings") / f"{dataset}.yaml"
            start = time.perf_counter()
            document = run_snapshot(mapping, settings, args.runs_dir)
            seconds = time.perf_counter() - start
            scores = pl.read_parquet(args.runs_dir / dataset / "scores.parquet")
            rows.append(_row(dataset, document, scores, args.resamples, seconds))
            if args.refits:
                refitted.append(_refit_row(mapping, document, settings, args.runs_dir, args.refits))
            if args.oversample:
                draws = [
                    run_snapshot(
                        oversampled_mapping(mapping, args.oversample, Path(store), settings, seed),
                        settings,
                        args.runs_dir,
                    )
                    for seed in range(SEED, SEED + args.draws)
                ]
                shifted.append(_brier_row(dataset, args.oversample, document, draws))
    print(
        "| dataset | test rows | clm ROC-AUC / lift | LR | GB | HGB "
        "| clm - best reference ROC-AUC [95 % CI] | clm - best reference lift [95 % CI] "
        "| PROVENANCE.md (5-fold CV) | seconds |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|---|---:|")
    print("\n".join(rows))
    if refitted:
        print(
            f"\n| dataset | {args.refits} refits: clm ROC-AUC / lift | LR | GB | HGB "
            "| clm - best reference ROC-AUC [2.5-97.5 %] | clm - best reference lift [2.5-97.5 %] |"
        )
        print("|---|---:|---:|---:|---:|---|---|")
        print("\n".join(refitted))
    if shifted:
        print(
            "\n| dataset | training churn rate | test churn rate | clm Brier, natural "
            f"| clm Brier, oversampled + population rate ({args.draws} draws) | ratio per draw "
            "| mean ratio | mean probability (oversampled) | ROC-AUC natural / oversampled "
            "| churner weight | Platt-scaled |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        print("\n".join(shifted))


def with_budget(settings: SnapshotSettings, trials: int, timeout: float) -> SnapshotSettings:
    """``settings`` with the benchmark's tuning budget."""
    return replace(
        settings,
        snapshot=replace(settings.snapshot, n_trials=trials, timeout_s=timeout),
        tune=replace(settings.tune, n_trials=trials, timeout_s=timeout),
    )


def paired_bootstrap(
    scores: pl.DataFrame, reference: str, metric: str, resamples: int
) -> tuple[float, float]:
    """95 % interval of clm's ``metric`` minus ``reference``'s over resampled test rows (the
    same rows for both in each resample)."""
    rng = np.random.default_rng(SEED)
    y = scores[LABEL].to_numpy()
    clm, other = scores[MODEL].to_numpy(), scores[reference].to_numpy()
    function = METRICS[metric]
    gaps = []
    for _ in range(resamples):
        rows = rng.integers(0, y.size, y.size)
        if 0 < y[rows].sum() < y.size:
            gaps.append(function(y[rows], clm[rows]) - function(y[rows], other[rows]))
    low, high = np.percentile(gaps, [2.5, 97.5])
    return float(low), float(high)


def _row(dataset: str, document: dict, scores: pl.DataFrame, resamples: int, seconds: float):
    churn = document["churn"]
    model = churn[MODEL]
    references = [
        f"{churn[name]['roc_auc']:.3f} / {churn[name]['top_decile_lift']:.2f}"
        for name in REFERENCES
    ]
    gaps = []
    for metric in METRICS:
        best = max(REFERENCES, key=lambda name: churn[name][metric])
        low, high = paired_bootstrap(scores, best, metric, resamples)
        gap = model[metric] - churn[best][metric]
        gaps.append(f"{gap:+.3f} vs {_short(best)} [{low:+.3f}, {high:+.3f}]")
    return (
        f"| {dataset} | {document['rows']['test']:,} "
        f"| {model['roc_auc']:.3f} / {model['top_decile_lift']:.2f} | {' | '.join(references)} "
        f"| {' | '.join(gaps)} | {QUOTED[dataset]} | {seconds:.0f} |"
    )


def _refit_row(
    mapping_path: Path, document: dict, settings: SnapshotSettings, runs_dir: Path, refits: int
) -> str:
    """The run's scorers trained again on bootstrap resamples of the rows they learnt from:
    each one's mean test figures, and clm minus the best reference (by mean) over the
    resamples."""
    mapping = load_mapping(mapping_path, settings.snapshot.data_roots)
    parts = prepare(mapping).parts
    seen, test = pl.concat([parts["train"], parts["valid"]]), parts["test"]
    trained = TrainedModel.load(runs_dir / mapping.dataset / "model")
    kept = {TASK.name: document["monotone_constraints"]["kept"]}
    model = replace(settings.model, monotone_constraints=kept)
    rng = np.random.default_rng(SEED)
    labels = TASK.labels(test)
    found = {name: {metric: [] for metric in METRICS} for name in (MODEL, *REFERENCES)}
    for _ in range(refits):
        sample = seen[rng.integers(0, seen.height, seen.height)]
        refit = refit_on_seen(
            trained, document["tuning"]["best_params"], sample, model,
            document["fit"]["best_rounds"], mapping.population_rate,
        )  # fmt: skip
        scores = scores_with_references(refit, sample, test, settings.model.seed)
        for name, values in found.items():
            for metric, function in METRICS.items():
                values[metric].append(function(labels, scores[name]))
    means = {
        name: {metric: float(np.mean(v)) for metric, v in values.items()}
        for name, values in found.items()
    }
    gaps = []
    for metric in METRICS:
        best = max(REFERENCES, key=lambda name: means[name][metric])
        gap = np.array(found[MODEL][metric]) - np.array(found[best][metric])
        low, high = np.percentile(gap, [2.5, 97.5])
        gaps.append(f"{gap.mean():+.3f} vs {_short(best)} [{low:+.3f}, {high:+.3f}]")
    cells = [f"{means[n]['roc_auc']:.3f} / {means[n]['top_decile_lift']:.2f}" for n in found]
    return f"| {mapping.dataset} | {' | '.join(cells)} | {' | '.join(gaps)} |"


def _short(reference: str) -> str:
    return {"logistic_regression": "LR", "gradient_boosting": "GB"}.get(reference, "HGB")


def _brier_row(dataset: str, share: float, natural: dict, draws: list[dict]) -> str:
    """The natural run's test Brier score beside each oversampling draw's (a cell with several
    values lists the draws in seed order)."""
    brier = natural["churn"][MODEL]["brier"]
    over = [draw["churn"][MODEL] for draw in draws]
    ratios = [model["brier"] / brier for model in over]
    prior = draws[0]["prior"]  # the rates and the churner weight are the same in every draw

    def each(template: str, values) -> str:
        return " / ".join(template.format(value) for value in values)

    return (
        f"| {dataset} | {prior['train_rate']:.3f} ({share:.0%} target) | {prior['test_rate']:.3f} "
        f"| {brier:.4f} | {each('{:.4f}', (model['brier'] for model in over))} "
        f"| {each('{:.3f}', ratios)} | **{np.mean(ratios):.3f}** "
        f"| {each('{:.3f}', (draw['prior']['test_mean_probability'] for draw in draws))} "
        f"| {natural['churn'][MODEL]['roc_auc']:.3f} / "
        f"{each('{:.3f}', (model['roc_auc'] for model in over))} "
        f"| {prior['churner_weight']:.3f} "
        f"| {each('{}', ('yes' if draw['fit']['calibrated'] else 'no' for draw in draws))} |"
    )


def oversampled_mapping(
    mapping_path: Path, share: float, folder: Path, settings: SnapshotSettings, seed: int
) -> Path:
    """A copy of the mapping and its data in ``folder`` with the training rows' churners
    copied (a draw with replacement, seeded by ``seed``) until they are ``share`` of the
    training rows, the test rows untouched, and the natural training rate stated as the
    population rate.

    Copies are identical rows, so the split puts each beside its original: the train / valid /
    test parts are those of the natural run, with more churners in train and valid.
    """
    mapping = load_mapping(mapping_path, settings.snapshot.data_roots)
    parts = prepare(mapping).parts
    learn = pl.concat([parts["train"], parts["valid"]])
    churners = learn.filter(pl.col(LABEL) == 1)[ID].to_list()
    stayers = learn.height - len(churners)
    extra = round(share * stayers / (1 - share)) - len(churners)
    drawn = np.random.default_rng(seed).choice(churners, size=max(extra, 0), replace=True)
    copies = dict(zip(*np.unique(drawn, return_counts=True), strict=True))
    raw = read_yaml(mapping_path)
    files, offset = [], 0
    for index, source in enumerate(mapping.files):
        table = pl.read_csv(source.path, separator=mapping.separator, infer_schema=False)
        ids = (
            table[mapping.id_column].str.strip_chars()
            if mapping.id_column
            else pl.Series([str(offset + i + 1) for i in range(table.height)])
        )
        offset += table.height
        times = ids.replace_strict(copies, default=0, return_dtype=pl.Int64)
        repeated = table.with_columns(_times=times).filter(pl.col("_times") > 0)
        repeated = repeated.select(pl.exclude("_times").repeat_by(pl.col("_times"))).explode(
            pl.all()
        )
        if mapping.id_column:
            suffix = pl.int_range(pl.len()).cast(pl.String)
            repeated = repeated.with_columns(pl.col(mapping.id_column) + "-copy" + suffix)
        name = f"{index}-{source.path.name}"
        pl.concat([table, repeated]).write_csv(folder / name, separator=mapping.separator)
        files.append({"path": name, **({"part": source.part} if source.part else {})})
    raw |= {
        "dataset": f"{mapping.dataset}_oversampled",
        "files": files,
        "population": {"churn_rate": float(learn[LABEL].mean())},
    }
    path = folder / f"{mapping.dataset}_oversampled.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


if __name__ == "__main__":
    main()
