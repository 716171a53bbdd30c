"""Feature table -> model matrix: numeric columns as they are, categories one-hot encoded.

One-hot columns are named ``<feature>=<level>`` so every model column traces back to a
feature of the metadata table (and so to a churn cause). The levels are learned at fit time
and travel with the model, so scoring sees exactly the training columns. XGBoost refuses
column names holding ``[``, ``]`` or ``<``, so those (and ``%``, to keep names distinct) are
percent-encoded in the name: any level text works.

A feature with a ``min_count`` (a snapshot mapping's key: a service-area code with hundreds
of values) keeps a column only for the levels at least that many training rows hold; rarer
levels, and levels training never saw, share the column ``<feature>=(other)``. Hundreds of
near-empty columns would cost every boosting round their histograms and still learn nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from clm.features.metadata import FeatureMeta

SEPARATOR = "="
OTHER = "(other)"  # the pooled level of a feature with a min_count
_NAME_ESCAPES = str.maketrans({"%": "%25", "<": "%3C", "[": "%5B", "]": "%5D"})


class UnknownCategoryError(ValueError):
    """A categorical feature holds a level the model never saw."""


@dataclass(frozen=True)
class FeatureEncoder:
    """Numeric features and the categorical levels seen in training."""

    numeric: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    pooled: tuple[str, ...] = ()  # features whose other levels share the column (other)

    @classmethod
    def fit(cls, frame: pl.DataFrame, metadata: dict[str, FeatureMeta]) -> FeatureEncoder:
        """Learn the categorical levels of ``frame`` for the features in ``metadata``."""
        categorical = [name for name, meta in metadata.items() if meta.kind == "category"]
        return cls(
            numeric=tuple(name for name, meta in metadata.items() if meta.kind != "category"),
            levels={name: _frequent_levels(frame[name], metadata[name]) for name in categorical},
            pooled=tuple(name for name in categorical if metadata[name].min_count),
        )

    @property
    def columns(self) -> list[str]:
        """Model column names, in matrix order."""
        return [*self.numeric, *(_one_hot_name(name, level) for name, level in self._one_hot())]

    def feature_of(self, column: str) -> str:
        """The metadata feature a model column comes from."""
        return column.split(SEPARATOR, 1)[0]

    def transform(self, frame: pl.DataFrame) -> pd.DataFrame:
        """The model matrix (float32; null numeric values stay NaN for XGBoost)."""
        for name, known in self.levels.items():
            unknown = set(frame[name].drop_nulls().unique().to_list()) - set(known)
            if unknown and name not in self.pooled:
                raise UnknownCategoryError(
                    f"feature '{name}': unknown levels {sorted(unknown)}; the model knows {known}"
                )
        numeric = frame.select(pl.col(name).cast(pl.Float32) for name in self.numeric)
        one_hot = frame.select(
            self._indicator(name, level)
            .fill_null(False)
            .cast(pl.Float32)
            .alias(_one_hot_name(name, level))
            for name, level in self._one_hot()
        )
        matrix = pl.concat([numeric, one_hot], how="horizontal").to_pandas()
        return matrix.astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "numeric": list(self.numeric),
            "levels": {k: list(v) for k, v in self.levels.items()},
            "pooled": list(self.pooled),
        }

    @classmethod
    def from_dict(cls, values: dict) -> FeatureEncoder:
        return cls(
            numeric=tuple(values["numeric"]),
            levels={name: tuple(levels) for name, levels in values["levels"].items()},
            pooled=tuple(values.get("pooled", ())),  # models saved before pooling have none
        )

    def _one_hot(self) -> list[tuple[str, str]]:
        """(feature, level) per one-hot column, in matrix order; a pooled feature's last."""
        return [
            (name, level)
            for name, levels in self.levels.items()
            for level in (*levels, *((OTHER,) if name in self.pooled else ()))
        ]

    def _indicator(self, name: str, level: str) -> pl.Expr:
        """True where the row holds ``level`` (for (other): any level without a column)."""
        if level == OTHER and name in self.pooled:
            return pl.col(name).is_not_null() & ~pl.col(name).is_in(list(self.levels[name]))
        return pl.col(name) == level


def known_levels(*encoders: FeatureEncoder) -> dict[str, frozenset[str]]:
    """Per categorical feature every encoder reads, the levels they all know: a row holding
    another cannot be scored by all of them. An encoder that pools a feature scores any level
    of it, so only the others' levels bound it."""
    shared = set.intersection(*(set(encoder.levels) for encoder in encoders))
    bounded = {name: [e for e in encoders if name not in e.pooled] for name in sorted(shared)}
    return {
        name: frozenset.intersection(*(frozenset(e.levels[name]) for e in bounding))
        for name, bounding in bounded.items()
        if bounding
    }


def _frequent_levels(values: pl.Series, meta: FeatureMeta) -> tuple[str, ...]:
    """The levels of ``values`` that get a column: all, or those held by at least
    ``meta.min_count`` rows (the pooled level's own name never: it is the pool)."""
    counts = values.drop_nulls().value_counts()
    kept = counts.filter(pl.col("count") >= (meta.min_count or 1))[values.name]
    return tuple(sorted(level for level in kept.to_list() if not meta.min_count or level != OTHER))


def _one_hot_name(feature: str, level: str) -> str:
    """``<feature>=<level>``, the level's XGBoost-reserved characters percent-encoded."""
    return f"{feature}{SEPARATOR}{level.translate(_NAME_ESCAPES)}"
