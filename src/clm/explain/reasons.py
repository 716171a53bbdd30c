"""Per-customer churn reasons: exact TreeSHAP contributions summed into the taxonomy.

XGBoost's own ``pred_contribs`` gives exact TreeSHAP values in the model's margin (log-odds
for churn), and each customer's values plus the bias add up to that margin;
``clm.explain.treeshap`` computes the same values once per decision pattern of each tree
instead of once per customer, which makes reasons for every customer cheap. Model columns are
summed back to their metadata feature, features to their cause (``metadata.yaml``), and
causes to their fishbone category (``taxonomy.yaml``), so the same additivity holds at every
level. shap's TreeExplainer is not used: with background data it gives wrong multiclass
values for xgboost 3, and ``pred_contribs`` is exact and faster (the tests check that both
agree without background data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from clm.domain.stages import STAGES
from clm.domain.taxonomy import load_taxonomy
from clm.explain.treeshap import exact_contributions, output_groups
from clm.features.metadata import FeatureMeta, load_feature_metadata
from clm.models.trained import TrainedModel


@dataclass(frozen=True)
class Contributions:
    """TreeSHAP contributions in the model's margin, one column per name.

    Attributes:
        names: What each column of ``values`` is (feature, cause or category codes).
        values: (n, len(names)) contributions, log-odds for the churn model.
        bias: (n,) the expected margin; ``values.sum(axis=1) + bias`` is the margin.
    """

    names: tuple[str, ...]
    values: np.ndarray
    bias: np.ndarray

    def grouped(self, group_of: dict[str, str], groups: tuple[str, ...]) -> Contributions:
        """Sum columns into groups (every group kept, in ``groups`` order, zero if empty)."""
        index = {group: i for i, group in enumerate(groups)}
        summing = np.zeros((len(self.names), len(groups)), dtype=self.values.dtype)
        summing[np.arange(len(self.names)), [index[group_of[name]] for name in self.names]] = 1
        return Contributions(groups, self.values @ summing, self.bias)

    def to_frame(self) -> pl.DataFrame:
        """One float column per name."""
        return pl.DataFrame(self.values, schema=list(self.names), orient="row")


def feature_contributions(
    model: TrainedModel, frame: pl.DataFrame, target_class: str | None = None
) -> Contributions:
    """Exact TreeSHAP contributions per metadata feature (one-hot columns summed back).

    Args:
        model: The trained churn or stage model.
        frame: Feature table with the model's feature columns.
        target_class: For the multiclass stage model, the stage whose margin to explain;
            must be None for the churn model.
    """
    multiclass = output_groups(model.booster) > 1
    if multiclass and target_class is None:
        raise ValueError(f"{model.task.name} model: name a target_class of {STAGES}")
    if not multiclass and target_class is not None:
        raise ValueError(f"{model.task.name} model has one output; target_class must be None")
    output_group = STAGES.index(target_class) if multiclass else 0
    matrix = model.encoder.transform(frame).to_numpy()
    values, bias = exact_contributions(model.booster, matrix, output_group)
    columns = Contributions(tuple(model.encoder.columns), values, bias)
    features = tuple(dict.fromkeys(model.encoder.feature_of(c) for c in columns.names))
    return columns.grouped({c: model.encoder.feature_of(c) for c in columns.names}, features)


def to_causes(
    features: Contributions, metadata: dict[str, FeatureMeta] | None = None
) -> Contributions:
    """Feature contributions summed per taxonomy cause (all 23, in taxonomy order).

    ``metadata`` maps features to causes: clm's own by default, a mapping file's for a
    dataset brought in with ``clm snapshot``.
    """
    metadata = metadata or load_feature_metadata()
    causes = tuple(load_taxonomy().causes)
    return features.grouped({name: metadata[name].cause for name in features.names}, causes)


def to_categories(causes: Contributions) -> Contributions:
    """Cause contributions summed per fishbone category (all 7, in taxonomy order)."""
    taxonomy = load_taxonomy()
    group_of = {code: taxonomy.causes[code].category for code in causes.names}
    return causes.grouped(group_of, tuple(taxonomy.categories))


def cause_contributions(
    model: TrainedModel, frame: pl.DataFrame, metadata: dict[str, FeatureMeta] | None = None
) -> pl.DataFrame:
    """One column per taxonomy cause: its contribution to the churn log-odds, rows as ``frame``."""
    return to_causes(feature_contributions(model, frame), metadata).to_frame()


def rank_reasons(
    causes: Contributions, k: int, scores: Contributions | None = None
) -> pl.DataFrame:
    """The top-``k`` causes of ``causes``: ``reason_<i>_cause``, ``reason_<i>_category`` and
    ``reason_<i>_contribution`` (log-odds) for i = 1..k, strongest first; null where fewer
    than i causes push towards churn (a contribution <= 0 lowers the risk).

    Causes are ranked by ``scores`` (same columns; a cause scoring <= 0 is no reason) where
    given, by their positive contribution otherwise; the contribution shown is always the
    cause's own, in log-odds.
    """
    if not 1 <= k <= len(causes.names):
        raise ValueError(f"k must be between 1 and {len(causes.names)}, got {k}")
    scores = scores or causes
    taxonomy = load_taxonomy()
    cause_of_rank = dict(enumerate(causes.names))
    category_of_rank = {i: taxonomy.causes[c].category for i, c in cause_of_rank.items()}
    order = np.argsort(-scores.values, axis=1, kind="stable")[:, :k]
    values = np.take_along_axis(causes.values, order, axis=1)
    ranked = pl.DataFrame(
        {f"rank_{i}": order[:, i] for i in range(k)}
        | {f"value_{i}": values[:, i] for i in range(k)}
        | {f"score_{i}": np.take_along_axis(scores.values, order, axis=1)[:, i] for i in range(k)}
    )
    reasons = []
    for i in range(k):
        positive = pl.col(f"score_{i}") > 0
        rank = pl.col(f"rank_{i}")
        reasons += [
            pl.when(positive).then(rank.replace_strict(cause_of_rank, return_dtype=pl.String))
            .alias(f"reason_{i + 1}_cause"),
            pl.when(positive).then(rank.replace_strict(category_of_rank, return_dtype=pl.String))
            .alias(f"reason_{i + 1}_category"),
            pl.when(positive).then(pl.col(f"value_{i}").cast(pl.Float64))
            .alias(f"reason_{i + 1}_contribution"),
        ]  # fmt: skip
    return ranked.select(reasons)


def ranked_categories(causes: Contributions, k: int = 3) -> pl.Series:
    """Each customer's ``k`` categories whose causes push hardest towards churn, strongest
    first (a list, shorter where fewer categories push at all).

    Only causes with a positive contribution count, so a cause that lowers the risk cannot
    hide another cause of its category.
    """
    positive = Contributions(causes.names, np.clip(causes.values, 0, None), causes.bias)
    return rank_categories(to_categories(positive), k)


def rank_categories(scores: Contributions, k: int) -> pl.Series:
    """The ``k`` categories of highest positive score per row, strongest first."""
    order = np.argsort(-scores.values, axis=1, kind="stable")[:, :k]
    positive = np.take_along_axis(scores.values, order, axis=1) > 0
    names = pl.Series(scores.names, dtype=pl.String)
    # rank by rank, not customer by customer: a Python list per customer costs seconds per 100k
    ranked = pl.select(
        pl.when(pl.Series(positive[:, rank])).then(names.gather(order[:, rank])).alias(str(rank))
        for rank in range(order.shape[1])
    )
    return ranked.select(top_categories=pl.concat_list(pl.all()).list.drop_nulls()).to_series()


def cause_scores(causes: Contributions, category_scores: Contributions) -> Contributions:
    """Each category's score split among its causes by their positive contributions.

    A category the reason model names although none of its causes pushes the churn risk
    (a flipped SIM card barely used, say) goes whole to its representative cause: that of
    its most common exit-survey reason, or its first cause where no survey reason maps to
    it.
    """
    taxonomy = load_taxonomy()
    positive = np.clip(causes.values, 0, None)
    category_index = {code: i for i, code in enumerate(category_scores.names)}
    column = np.array([category_index[taxonomy.causes[c].category] for c in causes.names])
    totals = np.zeros((causes.values.shape[0], len(category_scores.names)))
    np.add.at(totals.T, column, positive.T)
    representative = _representative_causes(causes.names)
    within = np.where(
        totals[:, column] > 0,
        positive / np.where(totals[:, column] > 0, totals[:, column], 1),
        representative[None, :],
    )
    return Contributions(causes.names, category_scores.values[:, column] * within, causes.bias)


def _representative_causes(names: tuple[str, ...]) -> np.ndarray:
    """1 for the cause that stands for its category when none of its causes pushes."""
    taxonomy = load_taxonomy()
    chosen = {}
    by_share = sorted(
        taxonomy.survey_reasons.values(), key=lambda reason: -sum(reason.share.values())
    )
    for reason in by_share:
        chosen.setdefault(taxonomy.causes[reason.cause].category, reason.cause)
    for code, cause in taxonomy.causes.items():
        chosen.setdefault(cause.category, code)
    return np.array([1.0 if chosen[taxonomy.causes[c].category] == c else 0.0 for c in names])


def top_categories(causes: Contributions) -> pl.Series:
    """Each customer's top category: the one whose causes push hardest towards churn; null
    where no cause pushes towards churn."""
    return ranked_categories(causes, 1).list.first().alias("top_category")
