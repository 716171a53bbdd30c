"""Benchmark: do the monitor's alerts fire when the market moves, and only then?

One synthetic operator (params.yaml ``generate``: 20,000 subscribers, 24 months from
2023-01) per scenario: no shock, or one shock of the generator profile from ``--onset``
(competitor launch in the west, network outage in the north, tariff change everywhere). The
champion is trained with the test month just before the onset; ``clm monitor``'s logic then
watches the 12 months after it. For each scenario:
  - the months with alerts, and the first month with a driver-mix alert or any alert:
    detected within one month of the onset, and the driver-mix alert names the category of
    the shock's reason (taxonomy: survey reason -> cause -> category), overall or in a region
    (``west: competitor_behaviour``; a regional shock must name its region);
  - without a shock, no alert in the 12 months;
  - after retraining the churn model as ``dvc repro`` does once the monitor recommends it
    (params.yaml's split: the latest labelled month as test, the month before as validation,
    ``split.train_months`` before it: every post-shock month before the validation month while
    the shock is less than that old, with the months before it; an Optuna study with
    params.yaml's ``tune`` budget; the final fit from its best parameters), its ROC-AUC
    against the oracle's (which knows the shock) on the test month, and for a regional shock
    inside and outside the region; without a shock, the same retraining's gap for comparison.
    The stage model is not retrained: no figure reads it.

Run: OMP_NUM_THREADS=1 python3 -m uv run python -m benchmarks.monitoring_scenarios
[--subscribers N] [--scenarios none competitor_launch ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import optuna
import polars as pl
from sklearn.metrics import roc_auc_score
from tests.params import repo_params

from benchmarks.monitoring_support import prepare_data, retrain_churn, split_at, train_run
from clm.domain.taxonomy import load_taxonomy
from clm.monitoring.stage import run_monitor
from clm.months import add_months
from clm.synthetic.oracle import oracle_churn_probability
from clm.synthetic.profile import load_profile
from clm.synthetic.shocks import Shock

SCENARIOS = {
    "none": None,
    "competitor_launch": "west",
    "network_outage": "north",
    "tariff_change": None,
}


def shock_category(kind: str) -> str:
    taxonomy = load_taxonomy()
    reason = load_profile().shocks[kind].reason
    return taxonomy.causes[taxonomy.survey_reasons[reason].cause].category


def run_scenario(kind: str, onset: date, subscribers: int, root: Path) -> dict:
    params = repo_params()
    shocks = () if kind == "none" else (Shock(kind, onset.isoformat(), SCENARIOS[kind], 0),)
    generate = replace(params.generate, n_subscribers=subscribers, shocks=shocks)
    started = time.perf_counter()
    prepare_data(root, generate, params)
    before = add_months(onset, -1)
    champion = train_run(root, split_at(params, before.isoformat(), 12), params, "champion")
    result = run_monitor(params.monitor, champion)
    months = [m["month"] for m in result.document["months"]][1:]
    alerts = result.alerts
    first_any = min((a.month for a in alerts), default=None)
    drivers = [a for a in alerts if a.kind == "driver_mix_shift"]
    first_driver = min((a.month for a in drivers), default=None)
    changes, regional_changes = (
        [
            abs(row["change"])
            for month in result.document["months"][1:]
            for row in month[part]
            if row["change"] is not None
        ]
        for part in ("categories", "regions")
    )
    figures = {
        "scenario": kind,
        "largest_driver_share_change": round(max(changes), 4),
        "largest_regional_change": round(max(regional_changes), 4),
        **{
            f"smallest_regional_{name}": float(
                f"{min(r[name] for m in result.document['months'][1:] for r in m['regions']):.2g}"
            )
            for name in ("p_value", "p_adjusted")
        },
        "monitored": f"{months[0]}..{months[-1]} ({len(months)} months)",
        "alerts": len(alerts),
        "alert_months": sorted({a.month.isoformat() for a in alerts}),
        "first_alert": first_any and first_any.isoformat(),
        "first_driver_alert": first_driver and first_driver.isoformat(),
        "driver_categories_at_first": sorted(
            {f"{a.subject} {a.value:+.3f}" for a in drivers if a.month == first_driver}
        ),
    }
    if kind != "none":
        expected = shock_category(kind)
        lag = None if first_driver is None else _months_between(onset, first_driver)
        figures |= {
            "expected_category": expected,
            "detected_within_1_month": lag is not None and lag <= 1,
            "names_the_category": any(
                _names(a.subject, expected, SCENARIOS[kind]) and a.value > 0
                for a in drivers
                if a.month == first_driver
            ),
        }
    # retrained in the unshocked scenario too: the gap retraining reaches without a shock
    figures |= _retrained(root, params, generate, onset, SCENARIOS[kind])
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def _retrained(root: Path, params, generate, onset: date, region: str | None) -> dict:
    """Retrain the churn model as ``dvc repro`` does (params.yaml's split and tuning); its
    ROC-AUC on the latest labelled month vs the oracle's, overall and, for a regional shock,
    inside and outside the region."""
    started = time.perf_counter()
    model, tuning = retrain_churn(root, params, "retrained")
    split = json.loads((root / "retrained" / "split.json").read_text(encoding="utf-8"))
    train_months = [date.fromisoformat(month) for month in split["train"]["months"]]
    part = pl.read_parquet(root / "retrained" / "split" / "test.parquet")
    subscribers = pl.read_parquet(root / "validated" / "subscribers.parquet")
    oracle = oracle_churn_probability(
        part,
        subscribers,
        pl.read_parquet(root / "truth" / "subscribers.parquet"),
        params.labels.horizon_months,
        shocks=generate.shocks,
    )
    labels, scores = part["churn"].to_numpy(), model.predict(part)
    figures = {
        "retrained_on": f"{train_months[0]}..{train_months[-1]}",
        **(
            {"post_shock_training_months": sum(month >= onset for month in train_months)}
            if generate.shocks
            else {}
        ),
        "tuning": f"{tuning.n_complete + tuning.n_pruned} trials ({tuning.n_pruned} pruned)",
        "retrained_auc": round(float(roc_auc_score(labels, scores)), 4),
        "oracle_auc": round(float(roc_auc_score(labels, oracle)), 4),
        "auc_gap_to_oracle": _gap(labels, scores, oracle),
    }
    if region is not None:
        regions = part.join(subscribers.select("subscriber_id", "region"), on="subscriber_id")
        inside = (regions["region"] == region).to_numpy()
        figures |= {
            f"auc_gap_in_{region}": _gap(labels[inside], scores[inside], oracle[inside]),
            "auc_gap_elsewhere": _gap(labels[~inside], scores[~inside], oracle[~inside]),
        }
    return figures | {"retrain_seconds": round(time.perf_counter() - started, 1)}


def _gap(labels: np.ndarray, scores: np.ndarray, oracle: np.ndarray) -> float:
    """The oracle's ROC-AUC minus the model's."""
    return round(float(roc_auc_score(labels, oracle) - roc_auc_score(labels, scores)), 4)


def _names(subject: str, category: str, region: str | None) -> bool:
    """Whether a driver-mix alert's subject names ``category`` (and, for a regional shock, its
    region): ``category`` overall, or ``region: category``."""
    where, _, code = subject.rpartition(": ")
    return code == category and where in ("", region)


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=repo_params().generate.n_subscribers)
    parser.add_argument("--onset", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for kind in args.scenarios:
        with tempfile.TemporaryDirectory() as temp:
            figures = run_scenario(kind, args.onset, args.subscribers, Path(temp))
        print("  ".join(f"{key}={value}" for key, value in figures.items()), flush=True)


if __name__ == "__main__":
    main()
