"""Realised performance: how the champion's scores of a month did once its churn window closed.

A month's label (``churn`` in the feature table) is known only when every month of its window
(``labels.horizon_months``) is in the data; until then it is null and the month is left out.
The months in order are the decay curve.
"""

from __future__ import annotations

import polars as pl

from clm.models.metrics import churn_metrics

REPORTED = ("roc_auc", "top_decile_lift", "ece", "brier")


def realised_performance(scored: pl.DataFrame) -> pl.DataFrame:
    """Per month with a closed window: customers, churn rate and the ``REPORTED`` metrics."""
    rows = []
    for (month,), part in scored.filter(pl.col("churn").is_not_null()).group_by(
        "snapshot_month", maintain_order=True
    ):
        labels = part["churn"].to_numpy()
        if labels.min() == labels.max():  # one class: no ranking to judge
            continue
        metrics = churn_metrics(labels, part["churn_probability"].to_numpy())
        rows.append(
            {
                "snapshot_month": month,
                "customers": part.height,
                "churn_rate": float(labels.mean()),
                **{name: metrics[name] for name in REPORTED},
            }
        )
    schema = {"snapshot_month": pl.Date, "customers": pl.Int64, "churn_rate": pl.Float64}
    schema |= {name: pl.Float64 for name in REPORTED}
    return pl.DataFrame(rows, schema=schema).sort("snapshot_month")
