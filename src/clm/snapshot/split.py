"""Train / valid / test parts of a snapshot table (there is no time axis to split on).

Test is what the mapping says: the rows of the files marked ``test``, the rows whose split
column holds a test value, or a stratified random share. Validation (for early stopping and
tuning) is a stratified share carved from the rest. Identical rows (same features and label)
always land in the same part, so a dataset with duplicates (the Iranian file has 300) cannot
score a model on rows it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
from sklearn.model_selection import train_test_split

from clm.features.metadata import FeatureMeta
from clm.models.encoding import FeatureEncoder
from clm.snapshot.frame import FILE, ID, LABEL, PART
from clm.snapshot.mapping import MappingError, SplitSpec

PARTS = ("train", "valid", "test")
_GROUP = "_row_group"


def split_frame(table: pl.DataFrame, spec: SplitSpec) -> dict[str, pl.DataFrame]:
    """The three parts of the mapped table (``map_frame``), each in the table's row order."""
    grouped = table.with_columns(pl.struct(pl.exclude(ID, FILE, PART)).hash(seed=0).alias(_GROUP))
    if spec.method in ("file", "column"):  # map_frame put each row's part in PART
        is_test = grouped[PART] == "test"
    else:
        test_groups = _stratified_groups(grouped, spec.test_share, spec.seed)
        is_test = grouped[_GROUP].is_in(test_groups.implode())
    rest = grouped.filter(~is_test)
    valid_groups = _stratified_groups(rest, spec.valid_share, spec.seed)
    parts = {
        "train": rest.filter(~pl.col(_GROUP).is_in(valid_groups.implode())),
        "valid": rest.filter(pl.col(_GROUP).is_in(valid_groups.implode())),
        "test": grouped.filter(is_test),
    }
    for name, part in parts.items():
        if part.height == 0 or part[LABEL].n_unique() < 2:
            raise MappingError(f"split part '{name}' needs churners and non-churners")
    return {name: part.drop(_GROUP) for name, part in parts.items()}


def check_train_levels(parts: dict[str, pl.DataFrame], categories: Sequence[str]) -> None:
    """Every category value of valid and test occurs in train: the encoder learns its levels
    from train, and a level it never saw cannot be scored (unless the feature pools its rare
    levels, ``min_count``: the caller leaves those out)."""
    for name in categories:
        seen = parts["train"][name].drop_nulls().unique()
        for part in ("valid", "test"):
            values = parts[part][name].drop_nulls().unique()
            unseen = values.filter(~values.is_in(seen.implode())).sort().to_list()
            if unseen:
                raise MappingError(
                    f"category feature '{name}': value(s) {unseen[:5]} occur in the {part} part "
                    f"but not in train; merge rare values with a recode, or give the feature a "
                    f"min_count to score them as one level (docs/mapping.md)"
                )


@dataclass(frozen=True)
class PooledLevels:
    """A category feature's levels without a column of their own (its ``min_count``), and
    the rows of each part scored as its pooled level (rare in train, or never in train)."""

    feature: str
    min_count: int
    levels_kept: int  # levels with a column of their own
    levels_pooled: int  # training levels held by fewer than min_count rows
    rows: dict[str, int]  # part -> rows holding a pooled level


def pooled_levels(
    encoder: FeatureEncoder, parts: dict[str, pl.DataFrame], metadata: dict[str, FeatureMeta]
) -> tuple[PooledLevels, ...]:
    """What pooling did to each pooled feature, for metrics.json and the report."""
    pooled = []
    for name in encoder.pooled:
        kept = pl.Series(encoder.levels[name], dtype=pl.String)
        is_pooled = pl.col(name).is_not_null() & ~pl.col(name).is_in(kept.implode())
        pooled.append(
            PooledLevels(
                feature=name,
                min_count=metadata[name].min_count,
                levels_kept=kept.len(),
                levels_pooled=parts["train"][name].drop_nulls().n_unique() - kept.len(),
                rows={part: int(parts[part].select(is_pooled.sum()).item()) for part in PARTS},
            )
        )
    return tuple(pooled)


def _stratified_groups(table: pl.DataFrame, share: float, seed: int) -> pl.Series:
    """A ``share`` of the row groups, stratified by label."""
    groups = table.group_by(_GROUP, maintain_order=True).agg(pl.col(LABEL).first())
    try:
        _, chosen = train_test_split(
            groups[_GROUP].to_numpy(),
            test_size=share,
            random_state=seed,
            stratify=groups[LABEL].to_numpy(),
        )
    except ValueError as error:  # too few churners or non-churners to stratify
        churners = int(groups[LABEL].sum())
        raise MappingError(
            f"a {share} share cannot be stratified by label: {churners} churner(s) and "
            f"{groups.height - churners} non-churner(s) (distinct rows); each side of the "
            f"split needs both"
        ) from error
    return pl.Series(_GROUP, chosen)
