"""The feature encoder: training levels travel with the model, an unseen level is refused
(or, for a feature with a min_count, pooled with the rare ones), and any category text makes
a model column XGBoost accepts."""

from __future__ import annotations

import polars as pl
import pytest
import xgboost as xgb

from clm.features.metadata import FeatureMeta, load_feature_metadata
from clm.models.encoding import FeatureEncoder, UnknownCategoryError, known_levels

LEVELS = ["<5 GB", "[legacy]", "plan]2", "50%", "50%25", "plain"]  # [, ] and < XGBoost refuses


def test_category_levels_with_xgboost_reserved_characters_train_and_stay_distinct():
    frame = pl.DataFrame({"tariff": LEVELS * 4, "tenure": list(range(24))})
    metadata = {
        "tariff": FeatureMeta("tariff", "Tariff", "", "service_offering", "category"),
        "tenure": FeatureMeta("tenure", "Tenure", "months", "dealer_speculation", "int"),
    }
    encoder = FeatureEncoder.fit(frame, metadata)
    matrix = encoder.transform(frame)

    assert list(matrix.columns) == encoder.columns
    assert len(set(encoder.columns)) == len(LEVELS) + 1  # "50%" and "50%25" do not collide
    assert {encoder.feature_of(column) for column in encoder.columns} == {"tariff", "tenure"}
    assert matrix["tariff=%3C5 GB"].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0] * 4
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(matrix, [0, 1] * 12), 2)
    assert booster.feature_names == encoder.columns


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


def test_a_min_count_pools_rare_and_unseen_levels_into_one_column_that_survives_saving():
    metadata = {
        "area": FeatureMeta(
            "area", "Service area", "", "market_separation", "category", min_count=3
        ),
        "brand": load_feature_metadata()["brand"],
    }
    train = pl.DataFrame(
        {"area": ["big"] * 4 + ["small"] * 2 + ["(other)", None], "brand": ["youth"] * 8}
    )
    encoder = FeatureEncoder.from_dict(FeatureEncoder.fit(train, metadata).to_dict())
    scored = pl.DataFrame(
        {"area": ["big", "small", "new", None, "(other)"], "brand": ["youth"] * 5}
    )
    matrix = encoder.transform(scored)

    assert list(matrix.columns) == ["area=big", "area=(other)", "brand=youth"]
    assert matrix["area=big"].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert matrix["area=(other)"].tolist() == [0.0, 1.0, 1.0, 0.0, 1.0]  # a null is no level
    # a pooled feature bounds no level: scoring checks only the others
    assert known_levels(encoder) == {"brand": frozenset({"youth"})}
