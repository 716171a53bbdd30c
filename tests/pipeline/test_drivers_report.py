"""The explain step end to end on a tiny fixture, and its report rendered in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl
import pytest
from tests import explained
from tests.chromium import render

from clm.domain.taxonomy import load_taxonomy
from clm.explain.reason_model import ReasonModel
from clm.explain.stage import ExplainPaths, run_explain
from clm.models.tasks import RULE_STAGE
from clm.models.trained import TrainedModel
from clm.synthetic.profile import REGIONS

OCTOBER, NOVEMBER, DECEMBER = date(2024, 10, 1), date(2024, 11, 1), date(2024, 12, 1)


@pytest.fixture(scope="module")
def explain_run(tmp_path_factory, params) -> tuple[ExplainPaths, dict]:
    root = tmp_path_factory.mktemp("explain")
    frame = explained.customers(n=800, seed=1)
    churn, stage = explained.churn_and_stage_models(frame)
    churn.save(root / "models" / "churn")
    stage.save(root / "models" / "stage")
    ReasonModel(None, tuple(load_taxonomy().categories), 0.0, {}).save(root / "models" / "reasons")
    frame.write_parquet(root / "test.parquet")
    # churners driven by dropped calls left for coverage; the few others for price
    reason = np.where(frame["dropped_call_rate"].to_numpy() > 0.12, "coverage_quality", "price")
    truth = frame.select("subscriber_id").with_columns(
        true_reason=pl.when(frame["churn"] == 1).then(pl.Series(reason))
    )
    truth.write_parquet(root / "truth.parquet")
    # churners leave in November: October, their last month of service, is in the features
    october = frame.filter(pl.col("churn") == 1).with_columns(snapshot_month=OCTOBER)
    pl.concat([frame, october]).write_parquet(root / "features.parquet")
    # the exit point recorded the true reason for all but every fifth churner, who said "other"
    recorded = truth.join(october.select("subscriber_id"), on="subscriber_id").with_columns(
        reason=pl.when(pl.int_range(pl.len()) % 5 == 0)
        .then(pl.lit("other"))
        .otherwise("true_reason")
    )
    exits = recorded.select("subscriber_id", "reason", churn_month=pl.lit(NOVEMBER))
    exits.write_parquet(root / "churn_events.parquet")
    stages = pl.concat([frame, october]).select("subscriber_id", month="snapshot_month")
    stages.with_columns(stage=pl.lit("warning")).write_parquet(root / "stages.parquet")
    _scores(frame, DECEMBER).write_parquet(root / "scores.parquet")
    _scores(frame, NOVEMBER, shift=-0.1).write_parquet(root / "previous_month.parquet")
    paths = ExplainPaths(
        models=root / "models",
        test=root / "test.parquet",
        truth=root / "truth.parquet",
        stages=root / "stages.parquet",
        features=root / "features.parquet",
        churn_events=root / "churn_events.parquet",
        scores=root / "scores.parquet",
        previous_scores=root / "previous_month.parquet",
        reasons=root / "out" / "reasons.parquet",
        metrics=root / "out" / "explain.json",
        report=root / "out" / "drivers.html",
    )
    return paths, run_explain(params.explain, paths)


def _scores(frame: pl.DataFrame, month: date, shift: float = 0.0) -> pl.DataFrame:
    """A scorer's output for the fixture's customers (risk from dropped calls)."""
    risk = (frame["dropped_call_rate"] * 5 + shift).clip(0, 1)
    return frame.select(
        "subscriber_id",
        pl.col("value_tier").cast(pl.String),
        scoring_month=pl.lit(month),
        churn_probability=risk,
        stage=pl.when(risk > 0.5).then(pl.lit("warning")).otherwise(pl.lit("stable")),
        reason_1_category=pl.lit("product_quality"),
        measure_codes=pl.lit(["DS001"]),
        maintenance_cap_yuan=pl.lit(5.0),
        winback_cap_yuan=pl.lit(50.0),
    )


def test_outputs(explain_run):
    paths, document = explain_run
    reasons = pl.read_parquet(paths.reasons)
    assert reasons.height == 800
    assert {"subscriber_id", "snapshot_month", "churn_probability", "reason_3_cause"} <= set(
        reasons.columns
    )
    assert "category_product_quality" in reasons.columns
    assert json.loads(paths.metrics.read_text(encoding="utf-8")) == document
    figures = document["attribution"]
    assert figures["churners"] == int(pl.read_parquet(paths.test)["churn"].sum())
    # the driver is coverage for most churners, so the top category is mostly right
    assert figures["top_category_accuracy"] > 0.8
    assert figures["naive_category"] == "product_quality"
    at_exit = document["attribution_at_exit"]
    assert at_exit["churners"] == figures["churners"]
    assert at_exit["top_category_accuracy"] > 0.8
    assert set(at_exit["accuracy_by_true_stage"]) == {"warning"}
    recorded = document["recorded_reasons"]["at_exit"]
    assert recorded["churners"] == figures["churners"]
    # a fifth said "other" (customer behaviour), which the drivers cannot know
    assert 0.6 < recorded["top_category_accuracy"] < at_exit["top_category_accuracy"]
    low, high = recorded["top_category_interval_95"]
    assert low < recorded["top_category_accuracy"] < high
    naive_low, naive_high = recorded["naive_interval_95"]
    assert naive_low < recorded["naive_accuracy"] < naive_high
    assert recorded["top3_category_accuracy"] >= recorded["top_category_accuracy"]
    assert document["scored_month"]["month"] == str(DECEMBER)
    assert document["scored_month"]["previous_month"] == str(NOVEMBER)
    html = paths.report.read_text(encoding="utf-8")
    assert "The scored month 2024-12-01" in html and "Model checks: the test month" in html
    assert "DS001" in html and "one-to-one callback" in html.lower()
    by_region = html.split("By region:")[1].split("</table>")[0]
    assert all(f"<td>{region}</td>" in by_region for region in REGIONS)


def test_without_truth_the_report_says_what_it_skips(explain_run, params, tmp_path):
    paths, _ = explain_run
    stage = TrainedModel.load(paths.models / "stage")
    rule_stage = replace(stage, task=replace(stage.task, label_column=RULE_STAGE))
    shutil.copytree(paths.models / "churn", tmp_path / "models" / "churn")
    shutil.copytree(paths.models / "reasons", tmp_path / "models" / "reasons")
    rule_stage.save(tmp_path / "models" / "stage")
    own_data = replace(
        paths,
        models=tmp_path / "models",
        truth=tmp_path / "no_truth" / "subscribers.parquet",
        metrics=tmp_path / "explain.json",
        report=tmp_path / "drivers.html",
        reasons=tmp_path / "reasons.parquet",
    )
    document = run_explain(params.explain, own_data)
    assert (
        "attribution" not in document and "no true churn reasons" in document["attribution_skipped"]
    )
    assert document["recorded_reasons"]["at_exit"]["churners"] > 0
    html = own_data.report.read_text(encoding="utf-8")
    assert "recorded reason" in html and "真实原因 true reason" not in html
    assert "the stage model learned the seed's rule-table stages" in html

    unrecorded = pl.read_parquet(paths.churn_events).with_columns(reason=pl.lit(None, pl.String))
    unrecorded.write_parquet(tmp_path / "churn_events.parquet")
    document = run_explain(
        params.explain, replace(own_data, churn_events=tmp_path / "churn_events.parquet")
    )
    assert "no recorded exit reasons" in document["recorded_reasons_skipped"]
    html = own_data.report.read_text(encoding="utf-8")
    assert (
        "Skipped: this data has neither reasons recorded at the exit point nor true reasons" in html
    )


def test_report_renders_in_chromium_with_its_charts(explain_run, tmp_path):
    paths, _ = explain_run

    def how_to_read_and_heading_fonts(page):
        return page.locator("#how-to-read").inner_text(), _fonts_drawing(page, "h1")

    shown = render(paths.report, tmp_path / "profile", how_to_read_and_heading_fonts)

    shown.assert_offline_and_clean()
    how_to_read, heading_fonts = shown.extra
    assert "离网驱动因素报告" in shown.title and "Churn driver report" in shown.title
    shown.assert_charts_drawn(3)
    assert "如何阅读" in how_to_read and "How to read" in how_to_read
    assert any("原因核对" in s and "Do the reasons hold up?" in s for s in shown.sections)
    assert any("建议措施" in s and "measures" in s for s in shown.sections)
    # the Chinese of the heading is drawn with glyphs of a Chinese font, not as empty boxes
    chinese_fonts = _chinese_fonts()
    drawn = sum(glyphs for family, glyphs in heading_fonts.items() if family in chinese_fonts)
    assert drawn >= len("离网驱动因素报告"), (
        f"no Chinese font drew the heading ({heading_fonts}); run `bash scripts/setup.sh --tests`"
    )


def _fonts_drawing(page, selector: str) -> dict[str, int]:
    """Glyphs drawn per font family for the first element matching ``selector`` (CDP)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return {font["familyName"]: font["glyphCount"] for font in fonts}


def _chinese_fonts() -> set[str]:
    """Families fontconfig says cover Chinese (Chromium on Linux draws with these)."""
    listing = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True
    ).stdout
    return {name.strip() for line in listing.splitlines() for name in line.split(",")}
