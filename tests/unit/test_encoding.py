"""The feature encoder: any category text makes a model column XGBoost accepts."""

from __future__ import annotations

import polars as pl
import xgboost as xgb

from clm.features.metadata import FeatureMeta
from clm.models.encoding import FeatureEncoder

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
