"""The champion's scores of every monitored month, from the feature table.

The score stage scores only the latest month, from the raw tables; the monitor needs every
month after the training reference. Their features are already in the feature table, so the
champion's two models score them in memory, chunk by chunk (TreeSHAP's matrices are the
memory that grows with rows), with the same top reasons the batch scorer gives.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import polars as pl

from clm.domain.stages import STAGES
from clm.explain.reason_model import ReasonModel, scored_reasons
from clm.models.trained import TrainedModel
from clm.monitoring.config import MonitorError

TOP_REASONS = 3  # as the batch scorer (clm.scoring.score.TOP_REASONS)
KEPT = ("subscriber_id", "snapshot_month", "value_tier", "churn")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unscored:
    """A month's customers the champion cannot score: they hold a level it never trained on
    (a region opened since, for example); a retrain on months that hold it brings them in."""

    month: date
    rows: int
    levels: dict[str, list[str]]  # column -> its levels the champion never trained on

    def describe(self) -> str:
        return "; ".join(f"{name}: {', '.join(new)}" for name, new in self.levels.items())

    def to_dict(self) -> dict:
        return asdict(self) | {"month": self.month.isoformat()}


def model_features(model: TrainedModel) -> list[str]:
    """The feature columns ``model`` reads, numeric then categorical."""
    return [*model.encoder.numeric, *model.encoder.levels]


def require_features(frame: pl.DataFrame, model: TrainedModel, where: str) -> None:
    """Raise MonitorError unless ``frame`` has every feature ``model`` reads."""
    missing = sorted(set(model_features(model)) - set(frame.columns))
    if missing:
        raise MonitorError(f"{where}: missing feature column(s) {missing} the model reads")


def score_frame(
    churn: TrainedModel,
    stage: TrainedModel,
    features: pl.DataFrame,
    chunk_rows: int,
    reasons: bool = True,
    reason_model: ReasonModel | None = None,
) -> pl.DataFrame:
    """Keys, value tier, label (null while the churn window is open), churn probability,
    predicted stage and, with ``reasons``, the top reasons (ranked with ``reason_model`` as
    the batch scorer ranks them); rows as ``features``."""
    parts = []
    for start in range(0, features.height, chunk_rows):
        chunk = features.slice(start, chunk_rows)
        scored = chunk.select(
            *KEPT[:2], pl.col("value_tier").cast(pl.String), pl.col("churn")
        ).with_columns(
            churn_probability=pl.Series(churn.predict(chunk).astype(np.float64)),
            stage=pl.Series(np.asarray(STAGES)[stage.predict(chunk).argmax(axis=1)]),
        )
        if reasons:
            scored = scored.hstack(scored_reasons(churn, chunk, TOP_REASONS, reason_model))
        parts.append(scored)
    return pl.concat(parts)


def split_unscorable(
    months: pl.DataFrame, known: dict[str, frozenset[str]]
) -> tuple[pl.DataFrame, list[Unscored]]:
    """The rows the champion can score (``known``: the levels its encoders know per column),
    and per month the customers left out, with the levels it never trained on."""
    unknown = pl.any_horizontal(
        ~pl.col(name).is_in(list(levels)) for name, levels in known.items()
    ).fill_null(False)
    unscored = [
        Unscored(
            month,
            part.height,
            {
                name: new
                for name, levels in known.items()
                if (new := sorted(set(part[name].drop_nulls().cast(pl.String)) - levels))
            },
        )
        for (month,), part in months.filter(unknown).group_by("snapshot_month", maintain_order=True)
    ]
    for row in unscored:
        logger.warning(
            "%s: %d rows left out, levels the champion never trained on: %s",
            row.month,
            row.rows,
            row.describe(),
        )
    return months.filter(~unknown), unscored
