"""The feature encoder: training levels travel with the model; an unseen level is refused."""

from __future__ import annotations

import polars as pl
import pytest

from clm.features.metadata import load_feature_metadata
from clm.models.encoding import FeatureEncoder, UnknownCategoryError


def metadata_subset(*names: str) -> dict:
    metadata = load_feature_metadata()
    return {name: metadata[name] for name in names}


def test_unknown_level_is_refused_naming_feature_and_level() -> None:
    meta = metadata_subset("tenure_months", "brand")
    train = pl.DataFrame({"tenure_months": [1.0, 2.0], "brand": ["youth", "budget"]})
    encoder = FeatureEncoder.fit(train, meta)
    with pytest.raises(UnknownCategoryError, match=r"brand.*'flagship'"):
        encoder.transform(pl.DataFrame({"tenure_months": [3.0], "brand": ["flagship"]}))


def test_known_levels_one_hot_in_training_order_and_survive_a_round_trip() -> None:
    meta = metadata_subset("tenure_months", "brand")
    train = pl.DataFrame({"tenure_months": [1.0, None], "brand": ["youth", "budget"]})
    encoder = FeatureEncoder.from_dict(FeatureEncoder.fit(train, meta).to_dict())
    matrix = encoder.transform(pl.DataFrame({"tenure_months": [None], "brand": ["youth"]}))
    assert list(matrix.columns) == ["tenure_months", "brand=budget", "brand=youth"]
    assert matrix.iloc[0].isna().tolist() == [True, False, False]
    assert matrix.iloc[0, 1:].tolist() == [0.0, 1.0]
