"""Feature table -> model matrix: numeric columns as they are, categories one-hot encoded.

One-hot columns are named ``<feature>=<level>`` so every model column traces back to a
feature of the metadata table (and so to a churn cause). The levels are learned at fit time
and travel with the model, so scoring sees exactly the training columns. XGBoost refuses
column names holding ``[``, ``]`` or ``<``, so those (and ``%``, to keep names distinct) are
percent-encoded in the name: any level text works.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from clm.features.metadata import FeatureMeta

SEPARATOR = "="
_NAME_ESCAPES = str.maketrans({"%": "%25", "<": "%3C", "[": "%5B", "]": "%5D"})


class UnknownCategoryError(ValueError):
    """A categorical feature holds a level the model never saw."""


@dataclass(frozen=True)
class FeatureEncoder:
    """Numeric features and the categorical levels seen in training."""

    numeric: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]

    @classmethod
    def fit(cls, frame: pl.DataFrame, metadata: dict[str, FeatureMeta]) -> FeatureEncoder:
        """Learn the categorical levels of ``frame`` for the features in ``metadata``."""
        categorical = [name for name, meta in metadata.items() if meta.kind == "category"]
        return cls(
            numeric=tuple(name for name, meta in metadata.items() if meta.kind != "category"),
            levels={
                name: tuple(sorted(frame[name].drop_nulls().unique().to_list()))
                for name in categorical
            },
        )

    @property
    def columns(self) -> list[str]:
        """Model column names, in matrix order."""
        one_hot = [_one_hot_name(name, level) for name, lv in self.levels.items() for level in lv]
        return [*self.numeric, *one_hot]

    def feature_of(self, column: str) -> str:
        """The metadata feature a model column comes from."""
        return column.split(SEPARATOR, 1)[0]

    def transform(self, frame: pl.DataFrame) -> pd.DataFrame:
        """The model matrix (float32; null numeric values stay NaN for XGBoost)."""
        for name, known in self.levels.items():
            unknown = set(frame[name].drop_nulls().unique().to_list()) - set(known)
            if unknown:
                raise UnknownCategoryError(
                    f"feature '{name}': unknown levels {sorted(unknown)}; the model knows {known}"
                )
        numeric = frame.select(pl.col(name).cast(pl.Float32) for name in self.numeric)
        one_hot = frame.select(
            (pl.col(name) == level)
            .fill_null(False)
            .cast(pl.Float32)
            .alias(_one_hot_name(name, level))
            for name, levels in self.levels.items()
            for level in levels
        )
        matrix = pl.concat([numeric, one_hot], how="horizontal").to_pandas()
        return matrix.astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "numeric": list(self.numeric),
            "levels": {k: list(v) for k, v in self.levels.items()},
        }

    @classmethod
    def from_dict(cls, values: dict) -> FeatureEncoder:
        return cls(
            numeric=tuple(values["numeric"]),
            levels={name: tuple(levels) for name, levels in values["levels"].items()},
        )


def known_levels(*encoders: FeatureEncoder) -> dict[str, frozenset[str]]:
    """Per categorical feature every encoder reads, the levels they all know: a row holding
    another cannot be scored by all of them."""
    shared = set.intersection(*(set(encoder.levels) for encoder in encoders))
    return {
        name: frozenset.intersection(*(frozenset(e.levels[name]) for e in encoders))
        for name in sorted(shared)
    }


def _one_hot_name(feature: str, level: str) -> str:
    """``<feature>=<level>``, the level's XGBoost-reserved characters percent-encoded."""
    return f"{feature}{SEPARATOR}{level.translate(_NAME_ESCAPES)}"
