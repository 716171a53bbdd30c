"""The pandera schema of the feature table, built from the feature metadata.

Checks types, legal ranges, nulls where a value is required, and one row per
(subscriber_id, snapshot_month).
"""

from __future__ import annotations

from functools import cache

import pandera.polars as pa
import polars as pl

from clm.domain.stages import STAGES
from clm.features.build import CATEGORIES
from clm.features.metadata import FeatureMeta, load_feature_metadata

_KIND_DTYPES = {"float": pl.Float64(), "int": pl.Int64(), "bool": pl.Boolean()}


@cache
def feature_table_schema() -> pa.DataFrameSchema:
    """Keys, every feature of the metadata table, and the three labels."""
    columns = {
        "subscriber_id": pa.Column(pl.Int64(), nullable=False),
        "snapshot_month": pa.Column(pl.Date(), nullable=False),
        **{meta.name: _feature_column(meta) for meta in load_feature_metadata().values()},
        "churn": pa.Column(pl.Int8(), pa.Check.isin([0, 1]), nullable=True),
        "stage_true": pa.Column(pl.Enum(STAGES), nullable=True),
        "stage_rule": pa.Column(pl.Enum(STAGES), nullable=False),
    }
    return pa.DataFrameSchema(
        columns, strict=True, unique=["subscriber_id", "snapshot_month"], name="features"
    )


def _feature_column(meta: FeatureMeta) -> pa.Column:
    dtype = _category_dtype(meta.name) if meta.kind == "category" else _KIND_DTYPES[meta.kind]
    checks = []
    if meta.min is not None:
        checks.append(pa.Check.ge(meta.min))
    if meta.max is not None:
        checks.append(pa.Check.le(meta.max))
    return pa.Column(dtype, checks, nullable=meta.nullable)


def _category_dtype(name: str) -> pl.DataType:
    """An enum of a closed vocabulary, text for an operator's own (``OPEN_CATEGORIES``)."""
    return pl.Enum(CATEGORIES[name]) if name in CATEGORIES else pl.String()
