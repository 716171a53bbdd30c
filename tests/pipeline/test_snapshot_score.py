"""``clm snapshot score``: a snapshot run's model on customers whose outcome is not known yet."""

from __future__ import annotations

import json
from dataclasses import replace

import mlflow
import numpy as np
import openpyxl
import pandas as pd
import polars as pl
import pytest
import yaml
from tests.params import REPO_PARAMS
from tests.pipeline.test_snapshot_run import MAPPING, small_settings, tiny_dataset, tiny_files
from typer.testing import CliRunner

from clm.cli import app
from clm.models.trained import TrainedModel
from clm.reports.sheets import BOM
from clm.snapshot.frame import read_source
from clm.snapshot.pipeline import run_snapshot
from clm.snapshot.scoring import check_rows, score_file, trained_mapping

pytestmark = pytest.mark.slow


# the tiny run's mapping, dropping the customers who joined last month
FILTERED_MAPPING = MAPPING | {"filter": [{"column": "Months", "below": 2, "reason": "new"}]}


@pytest.fixture
def trained(tracking_store, tmp_path):
    """A snapshot run of the tiny dataset: its mapping file and runs folder."""
    mapping_path = tiny_files(tmp_path, FILTERED_MAPPING)
    run_snapshot(mapping_path, small_settings(), tmp_path / "runs")
    return mapping_path, tmp_path / "runs"


def unlabelled(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` as a newer export would hold them: no outcome yet, so no label and no status."""
    return rows.drop("Churned", "Status")


def test_scores_equal_the_runs_test_scores_and_bad_rows_are_quarantined(trained, tmp_path):
    _, runs = trained
    model_dir = runs / "tiny" / "model"
    test_scores = pl.read_parquet(runs / "tiny" / "scores.parquet")
    rows = unlabelled(tiny_dataset())
    base = rows.filter(pl.col("Customer").is_in(test_scores["customer_id"].implode()))
    odd = pl.DataFrame(
        {
            "Customer": ["n1", "n2", "n3", "n4", base["Customer"][0]],
            "Months": [12, 12, 12, 1, 12],  # 1: joined last month, filtered
            "Day min": [-500.0, 100.0, 100.0, 100.0, 100.0],  # negative minutes fail a range
            "Night min": [30.0] * 5,
            "Complaints": [0, 1, 0, 0, 0],
            "Plan": ["basic", "premium", "basic", "basic", "basic"],  # premium: never trained on
            "Area": ["A01", "A01", "Z99", "A01", "A01"],  # Z99: new, scored as the pooled level
        },
        schema_overrides=base.schema,
    )
    data = tmp_path / "new.csv"
    pl.concat([base, odd]).write_csv(data)

    scored = score_file(model_dir, data, reasons=3)

    checked = scored.checked
    assert checked.rows_in == base.height + odd.height
    (filtered,) = checked.dropped
    assert filtered.rows == 1
    assert scored.scores.height + checked.quarantined.height + filtered.rows == checked.rows_in
    failed = dict(checked.quarantined.select("Customer", "failed_checks").iter_rows())
    duplicate = base["Customer"][0]
    assert failed == {
        "n1": ["mou:greater_than_or_equal_to(0)"],
        "n2": ["plan:unknown_to_model"],
        duplicate: ["customer_id:field_uniqueness"],
    }
    assert checked.quarantined.filter(pl.col("Customer") == duplicate).height == 2
    assert "n3" in scored.scores["customer_id"].to_list()  # a new area: the pooled level

    # the customers of the run's test part get the probabilities the run gave them
    again = test_scores.join(scored.scores, on="customer_id")
    assert again.height == test_scores.height - 1  # all but the duplicated one
    np.testing.assert_allclose(again["churn_probability"], again["model"], rtol=1e-6)
    assert scored.scores["risk_decile"].to_list() == sorted(scored.scores["risk_decile"])
    assert scored.scores["risk_decile"].value_counts()["count"].max() <= -(
        -scored.scores.height // 10
    )


def test_the_command_writes_readable_scores_and_names_what_it_cannot_read(trained, tmp_path):
    mapping_path, runs = trained
    data = tmp_path / "april.csv"
    new_plan = pl.int_range(pl.len()) == 7  # a plan launched after the run: 套餐 X
    april = unlabelled(tiny_dataset(seed=9, rows=120)).with_columns(
        Plan=pl.when(new_plan).then(pl.lit("套餐 X")).otherwise("Plan"),
        Months=pl.when(new_plan).then(12).otherwise("Months"),
    )
    april.write_csv(data)
    args = ["snapshot", "score", str(mapping_path), "--input", str(data)]
    common = ["--runs-dir", str(runs), "--params", str(REPO_PARAMS)]

    result = CliRunner().invoke(app, [*args, "--xlsx-rows", "10", *common])

    assert result.exit_code == 0, result.output
    out = runs / "tiny" / "scored" / "april"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["filtered"] == summary["dropped_rows"][0]["rows"] > 0
    assert (
        summary["rows_in"] == 120 == sum(summary[k] for k in ("scored", "quarantined", "filtered"))
    )
    assert f"120 rows: {summary['scored']} scored" in result.output
    assert summary["quarantined"] == 1 and summary["failed_checks"] == {"plan:unknown_to_model": 1}
    quarantine = (out / "quarantine.csv").read_text(encoding="utf-8")
    assert quarantine.startswith(BOM) and "套餐 X" in quarantine
    assert pl.read_csv(out / "quarantine.csv")["failed_checks"].to_list() == [
        "plan:unknown_to_model"
    ]
    text = (out / "scores.csv").read_text(encoding="utf-8")
    assert text.startswith(BOM)
    sheet = pl.read_csv(out / "scores.csv")
    assert {"reason_1_cause", "reason_1_zh", "reason_1_en", "reason_1_category_en"} <= set(
        sheet.columns
    )
    named = sheet.filter(pl.col("reason_1_cause") == "falling_satisfaction")
    assert set(named["reason_1_en"]) == {"falling satisfaction"}
    assert sheet.height == summary["scored"]
    workbook = openpyxl.load_workbook(out / "scores.xlsx").active  # the 10 riskiest
    header, *riskiest = [row for row in workbook.iter_rows(values_only=True)]
    assert summary["xlsx_rows"] == len(riskiest) == 10 and list(header) == sheet.columns
    assert [row[0] for row in riskiest] == sheet["customer_id"].head(10).to_list()

    too_many = CliRunner().invoke(app, [*args, "--xlsx-rows", "1048576", *common])
    assert too_many.exit_code == 2 and "less than or equal to 1048575" in too_many.output

    # a column the model reads is missing: one line, exit 2, nothing written
    april.drop("Complaints").write_csv(data)
    missing = CliRunner().invoke(app, [*args, "--out-dir", str(tmp_path / "x"), *common])
    assert missing.exit_code == 2
    assert "column(s) ['Complaints'] not in april.csv" in missing.output
    assert not (tmp_path / "x").exists()

    # the mapping edited since the run: scored with the copy the model was trained with
    edited = MAPPING | {"features": MAPPING["features"] | {"complaints": "Months"}}
    mapping_path.write_text(yaml.safe_dump(edited), encoding="utf-8")
    april.write_csv(data)
    warned = CliRunner().invoke(app, [*args, *common])
    assert warned.exit_code == 0
    assert "changed since the model was trained" in warned.output
    rescored = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert rescored["mean_churn_probability"] == summary["mean_churn_probability"]


def test_the_registered_model_scores_the_files_own_columns_as_the_command_does(trained, tmp_path):
    _, runs = trained
    data = tmp_path / "may.csv"
    rows = unlabelled(tiny_dataset(seed=11, rows=60))
    odd = rows.head(2).with_columns(
        Customer=pl.Series(["n1", "n2"]), Months=pl.Series([1, 12]), Plan=pl.Series(["basic", "x"])
    )  # n1 filtered (joined last month), n2 quarantined (a plan never trained on)
    pl.concat([rows, odd]).write_csv(data)
    by_command = score_file(runs / "tiny" / "model", data, reasons=3).scores

    model = mlflow.pyfunc.load_model("models:/clm-snapshot-tiny@challenger")
    frame = pd.read_csv(data)  # pandas' own dtypes: int64, float64, object
    predicted = pl.from_pandas(model.predict(frame))

    assert predicted.height == frame.shape[0]  # one row per input row, in input order
    assert predicted["customer_id"].to_list() == frame["Customer"].tolist()
    tail = predicted.tail(2).select("churn_probability", "failed_checks").rows()
    assert tail == [(None, "filtered"), (None, "plan:unknown_to_model")]
    joined_last_month = predicted.filter(
        pl.col("customer_id").is_in(rows.filter(pl.col("Months") < 2)["Customer"].implode())
    )
    assert set(joined_last_month["failed_checks"]) == {"filtered"}
    same = predicted.join(by_command, on="customer_id", suffix="_command")
    assert same.height == by_command.height == rows.filter(pl.col("Months") >= 2).height
    np.testing.assert_allclose(same["churn_probability"], same["churn_probability_command"])
    assert (same["reason_1_cause"] == same["reason_1_cause_command"]).all()
    assert same["failed_checks"].is_null().all()

    # a batch of new joiners alone (a Spark partition may be one): every row filtered
    joiners = model.predict(frame.head(3).assign(Months=1))
    assert joiners["churn_probability"].isna().all()
    assert joiners["failed_checks"].tolist() == ["filtered"] * 3


def test_without_an_id_column_rows_are_numbered_as_in_the_file(trained, tmp_path):
    _, runs = trained
    model_dir = runs / "tiny" / "model"
    data = tmp_path / "june.csv"
    rows = unlabelled(tiny_dataset(seed=13, rows=30)).drop("Customer")
    joined = pl.int_range(pl.len()).is_in([1, 4])  # lines 2 and 5: joined last month
    rows = rows.with_columns(Months=pl.when(joined).then(1).otherwise(pl.col("Months")))
    rows.write_csv(data)
    mapping = replace(trained_mapping(model_dir, data), id_column=None)

    checked = check_rows(mapping, TrainedModel.load(model_dir), read_source(mapping))

    # the customers who joined last month are filtered; the others keep their line numbers
    kept = [str(i + 1) for i, months in enumerate(rows["Months"]) if months >= 2]
    assert kept == [str(line) for line in range(1, 31) if line not in (2, 5)]
    assert checked.accepted["customer_id"].to_list() == kept
