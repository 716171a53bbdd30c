"""A reason model learned from what past churners said, blended with the TreeSHAP shares.

TreeSHAP says what pushes a customer's churn risk, cause by cause; it does not say which of
those pushes a churner would name as the reason. The exit point records that answer for
every churner, noisy as it is. The reason model learns it: a multiclass XGBoost over the
churn model's features and the customer's cause contributions, trained on past churners'
recorded reasons at their last month of service (out of time: only churners who left by
the month the model is made for). Its category probabilities are blended with the TreeSHAP
category shares, ``(1 - weight) * shares + weight * probabilities``, with ``weight`` chosen
by agreement with the recorded reasons on the latest training months held out (see
docs/reasons.md for why).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import xgboost as xgb

from clm.domain.taxonomy import load_taxonomy
from clm.explain.reasons import (
    Contributions,
    cause_scores,
    feature_contributions,
    rank_categories,
    rank_reasons,
    to_categories,
    to_causes,
)
from clm.models.trained import TrainedModel

logger = logging.getLogger(__name__)

BOOSTER_FILE = "reason_model.ubj"
META_FILE = "reason_model.json"


@dataclass(frozen=True)
class ReasonModelConfig:
    """The ``reasons`` section of params.yaml."""

    holdout_months: int  # latest months of past churners held out to choose the weight
    weights: tuple[float, ...]  # blend weights tried (0: TreeSHAP only, 1: the model only)
    max_depth: int
    learning_rate: float
    rounds: int
    min_churners: int  # fewer past churners with a recorded reason: no model, TreeSHAP only
    seed: int


@dataclass(frozen=True)
class ReasonModel:
    """The learned reason model and its blend weight with the TreeSHAP shares."""

    booster: xgb.Booster | None  # None: too few recorded reasons, TreeSHAP only (weight 0)
    categories: tuple[str, ...]  # the booster's classes, in taxonomy order
    weight: float
    agreement: dict[str, float]  # held-out agreement per weight tried, for the record

    def category_scores(
        self, churn: TrainedModel, frame: pl.DataFrame, causes: Contributions
    ) -> Contributions:
        """Blended category scores per customer, every taxonomy category a column."""
        shares = positive_shares(causes)
        if self.booster is None or self.weight == 0:
            return shares
        learned = self.booster.inplace_predict(_inputs(churn, frame, causes))  # no DMatrix copy
        return Contributions(
            shares.names, (1 - self.weight) * shares.values + self.weight * learned, shares.bias
        )

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / BOOSTER_FILE).unlink(missing_ok=True)
        if self.booster is not None:
            self.booster.save_model(folder / BOOSTER_FILE)
        meta = {"categories": self.categories, "weight": self.weight}
        (folder / META_FILE).write_text(
            json.dumps(meta | {"agreement": self.agreement}, indent=2) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> ReasonModel:
        booster = None
        if (folder / BOOSTER_FILE).exists():
            booster = xgb.Booster()
            booster.load_model(folder / BOOSTER_FILE)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        return cls(booster, tuple(meta["categories"]), meta["weight"], meta["agreement"])


def positive_shares(causes: Contributions) -> Contributions:
    """Each category's share of the customer's positive cause contributions (0 where none)."""
    positive = Contributions(causes.names, np.clip(causes.values, 0, None), causes.bias)
    totals = to_categories(positive)
    sums = totals.values.sum(axis=1, keepdims=True)
    shares = np.divide(totals.values, sums, where=sums > 0, out=np.zeros_like(totals.values))
    return Contributions(totals.names, shares, totals.bias)


def _inputs(churn: TrainedModel, frame: pl.DataFrame, causes: Contributions) -> np.ndarray:
    """The churn model's encoded features beside the customer's cause contributions."""
    return np.hstack([churn.encoder.transform(frame), causes.values]).astype(np.float32)


def fit_reason_model(
    churn: TrainedModel,
    frame: pl.DataFrame,
    causes: Contributions,
    recorded_category: pl.Series,
    months: pl.Series,
    config: ReasonModelConfig,
) -> ReasonModel:
    """Train on past churners' last months and choose the blend weight out of time.

    Args:
        churn: The churn model whose features and contributions the model reads.
        frame: Past churners' feature rows at their last month of service.
        causes: Their cause contributions (rows as ``frame``).
        recorded_category: The category of the reason each recorded.
        months: Each row's snapshot month; the latest ``holdout_months`` choose the weight.
        config: The ``reasons`` section.

    Returns:
        The model; without a booster (TreeSHAP only) when fewer than ``min_churners``
        recorded a reason.
    """
    categories = tuple(load_taxonomy().categories)
    if frame.height < config.min_churners:
        logger.info(
            "%d past churners with a recorded reason (< %d): reasons stay TreeSHAP only",
            frame.height,
            config.min_churners,
        )
        return ReasonModel(None, categories, 0.0, {})
    labels = recorded_category.replace_strict(
        {c: i for i, c in enumerate(categories)}, return_dtype=pl.Int32
    ).to_numpy()
    inputs = _inputs(churn, frame, causes)
    cutoff = sorted(months.unique())[-config.holdout_months] if config.holdout_months else None
    held = (months >= cutoff).to_numpy() if cutoff is not None else np.zeros(frame.height, bool)
    agreement = {}
    if held.any() and (~held).any():
        booster = _train(inputs[~held], labels[~held], len(categories), config)
        learned = booster.predict(xgb.DMatrix(inputs[held]))
        shares = positive_shares(
            Contributions(causes.names, causes.values[held], causes.bias[held])
        )
        for weight in config.weights:
            blended = (1 - weight) * shares.values + weight * learned
            agreement[f"{weight:g}"] = float((blended.argmax(axis=1) == labels[held]).mean())
        weight = max(config.weights, key=lambda w: (agreement[f"{w:g}"], -w))
    else:
        weight = max(config.weights)
    logger.info("reason model: held-out agreement per blend weight %s; chose %g", agreement, weight)
    return ReasonModel(
        _train(inputs, labels, len(categories), config), categories, weight, agreement
    )


def _train(
    inputs: np.ndarray, labels: np.ndarray, classes: int, config: ReasonModelConfig
) -> xgb.Booster:
    params = {
        "objective": "multi:softprob",
        "num_class": classes,
        "max_depth": config.max_depth,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
        "nthread": 1,
    }
    return xgb.train(params, xgb.DMatrix(inputs, label=labels), num_boost_round=config.rounds)


def explain_reasons(
    churn: TrainedModel,
    frame: pl.DataFrame,
    causes: Contributions,
    k: int,
    model: ReasonModel | None = None,
) -> pl.DataFrame:
    """Each customer's top-``k`` reasons (``rank_reasons``' columns) and ``top_categories``,
    ranked by the blended category scores; by the TreeSHAP shares alone without a model."""
    categories = model.category_scores(churn, frame, causes) if model else positive_shares(causes)
    return pl.concat(
        [
            rank_reasons(causes, k, cause_scores(causes, categories)),
            rank_categories(categories, 3).to_frame(),
        ],
        how="horizontal",
    )


def scored_reasons(
    churn: TrainedModel, frame: pl.DataFrame, k: int, model: ReasonModel | None = None
) -> pl.DataFrame:
    """The scorer's top-``k`` reason columns, rows as ``frame``."""
    causes = to_causes(feature_contributions(churn, frame))
    return explain_reasons(churn, frame, causes, k, model).drop("top_categories")
