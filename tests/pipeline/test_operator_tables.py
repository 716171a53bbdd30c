"""An operator's own tables: renamed, typed and run through the pipeline without truth."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal
from tests.operator_export import (
    THEIR_CODES,
    THEIR_NAMES,
    clm_values,
    export_like_an_operator,
    their_mappings,
)

from clm.data.contract import RAW_TABLES
from clm.data.io import TableError
from clm.data.operator import OperatorTables, import_operator_tables, write_in_contract
from clm.data.validate import validate_tables
from clm.features.metadata import load_feature_metadata
from clm.features.stage import run_features
from clm.models.encoding import FeatureEncoder
from clm.models.tasks import RULE_STAGE, task_for
from clm.synthetic.profile import REGIONS


def test_operator_csv_tables_come_back_as_the_raw_contract(small_data, tmp_path):
    export_like_an_operator(small_data, tmp_path / "export")
    tables = import_operator_tables(OperatorTables(str(tmp_path / "export"), THEIR_NAMES, {}, ""))
    assert {name: dict(frame.schema) for name, frame in tables.items()} == RAW_TABLES
    assert_frame_equal(tables["usage_monthly"], small_data.usage)
    assert_frame_equal(tables["subscribers"], small_data.tables.subscribers)
    assert_frame_equal(tables["churn_events"], small_data.tables.churn_events)


def test_a_value_that_does_not_convert_names_table_and_column(small_data, tmp_path):
    export_like_an_operator(small_data, tmp_path / "export")
    path = tmp_path / "export" / "usage_monthly.csv"
    usage = pl.read_csv(path).with_columns(pl.col("fee").cast(pl.String))
    usage = usage.with_columns(
        fee=pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("n/a")).otherwise("fee")
    )
    usage.write_csv(path)
    with pytest.raises(TableError, match=r"usage_monthly.*'arpu'.*'n/a'"):
        import_operator_tables(OperatorTables(str(tmp_path / "export"), THEIR_NAMES, {}, ""))


def test_missing_table_and_unmapped_column_are_named(small_data, tmp_path):
    with pytest.raises(
        TableError, match=r"subscribers.*no subscribers\.parquet or subscribers\.csv"
    ):
        import_operator_tables(OperatorTables(str(tmp_path), {}, {}, ""))
    export_like_an_operator(small_data, tmp_path / "export")
    with pytest.raises(TableError, match=r"subscribers.*'subscriber_id'.*missing after renaming"):
        import_operator_tables(OperatorTables(str(tmp_path / "export"), {}, {}, ""))


def test_their_codes_are_mapped_to_the_contracts_vocabularies(small_data, tmp_path):
    export_like_an_operator(small_data, tmp_path / "export", THEIR_CODES)

    tables = import_operator_tables(their_mappings(tmp_path / "export"))

    assert_frame_equal(tables["subscribers"], small_data.tables.subscribers)


def test_written_in_contract_batch_by_batch_as_the_import_reads_it(small_data, tmp_path):
    """``clm score --operator-tables``' conversion: CSV read as text, small batches."""
    export_like_an_operator(small_data, tmp_path / "export", THEIR_CODES)
    tables = their_mappings(tmp_path / "export")
    out = tmp_path / "contract"
    out.mkdir()

    write_in_contract(tables, tmp_path / "export", ["usage_monthly", "subscribers"], out, 1000)

    assert sorted(path.name for path in out.iterdir()) == [
        "subscribers.parquet", "usage_monthly.parquet",
    ]  # fmt: skip
    imported = import_operator_tables(tables)
    for name in ("usage_monthly", "subscribers"):
        assert pq.ParquetFile(out / f"{name}.parquet").num_row_groups > 1
        assert_frame_equal(pl.read_parquet(out / f"{name}.parquet"), imported[name])


def test_an_empty_or_missing_table_to_convert_is_named(small_data, tmp_path):
    export = tmp_path / "export"
    export_like_an_operator(small_data, export, THEIR_CODES)
    tables = their_mappings(export)
    with pytest.raises(TableError, match=r"churn_events.*no churn_events\.parquet or"):
        write_in_contract(tables, tmp_path, ["churn_events"], export, 1000)
    with pytest.raises(ValueError, match="would overwrite the operator's export"):
        write_in_contract(tables, export, ["subscribers"], export, 1000)
    subscribers = export / "subscribers.csv"
    subscribers.write_text(subscribers.read_text().splitlines()[0] + "\n")
    with pytest.raises(TableError, match=r"subscribers.*non_empty.*has no rows"):
        write_in_contract(tables, export, ["subscribers"], tmp_path, 1000)


def test_a_value_the_value_mapping_does_not_list_is_named(small_data, tmp_path):
    export_like_an_operator(small_data, tmp_path / "export", THEIR_CODES)
    values = clm_values(THEIR_CODES)
    del values["subscribers"]["brand"]["神州行"]

    with pytest.raises(TableError, match=r"subscribers.*'brand'.*value_mapped.*'神州行'"):
        import_operator_tables(OperatorTables(str(tmp_path / "export"), THEIR_NAMES, values, ""))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"subscribers": {"brand_name": {"A": "youth"}}}, "'brand_name' is not a column"),
        ({"subscriber": {"brand": {"A": "youth"}}}, r"values: unknown tables \['subscriber'\]"),
        ({"subscribers": {"is_group": {True: True}}}, "boolean.*quote the data value"),
    ],
)
def test_a_value_mapping_clm_cannot_apply_is_refused(params, values, message):
    operator = replace(params.data.operator, folder="export", values=values)
    with pytest.raises(ValueError, match=message):
        replace(params.data, source="operator", operator=operator)


def test_operator_source_needs_a_folder(params):
    no_folder = replace(params.data.operator, folder="")
    with pytest.raises(ValueError, match="folder is empty"):
        replace(params.data, source="operator", operator=no_folder)


def test_the_outcome_folder_must_be_named(params):
    unnamed = replace(params.data.operator, outcome_folder="")
    with pytest.raises(ValueError, match="outcome_folder is empty: name the folder"):
        replace(params.data, operator=unnamed)


def test_without_truth_the_stage_model_learns_the_rule_table(small_data, params, tmp_path):
    export_like_an_operator(small_data, tmp_path / "export")
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, frame in import_operator_tables(
        OperatorTables(str(tmp_path / "export"), THEIR_NAMES, {}, "")
    ).items():
        frame.write_parquet(raw / f"{name}.parquet")
    out = tmp_path / "features.parquet"
    run_features(params.features, params.labels, raw, tmp_path / "no_truth.parquet", out)
    features = pl.read_parquet(out)
    assert features["stage_true"].null_count() == features.height
    assert task_for("stage", features).label_column == RULE_STAGE
    assert task_for("churn", features).label_column == "churn"


def test_the_operators_own_region_names_reach_the_churn_model(small_data, params, tmp_path):
    provinces = dict(zip(REGIONS, ["浙江", "江苏", "上海", "安徽", "Region <5>"], strict=True))
    export_like_an_operator(small_data, tmp_path / "export", {"region": provinces})
    tables = import_operator_tables(OperatorTables(str(tmp_path / "export"), THEIR_NAMES, {}, ""))
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, result in validate_tables(tables).items():
        assert result.quarantined.is_empty(), name
        result.accepted.write_parquet(raw / f"{name}.parquet")

    out = tmp_path / "features.parquet"
    run_features(params.features, params.labels, raw, tmp_path / "no_truth.parquet", out)
    features = pl.read_parquet(out)

    assert set(features["region"].unique()) == set(provinces.values())
    encoder = FeatureEncoder.fit(features, load_feature_metadata())
    assert encoder.levels["region"] == tuple(sorted(provinces.values()))
    matrix = encoder.transform(features)
    assert matrix["region=浙江"].sum() == (features["region"] == "浙江").sum() > 0
    assert "region=Region %3C5>" in matrix.columns
