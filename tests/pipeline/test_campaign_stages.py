"""The campaign stages end to end on a tiny fixture in a temp dir: plan, outcome, measure."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import openpyxl
import polars as pl
import pytest
import yaml
from tests.chromium import render
from tests.oracle_scores import oracle_customers
from tests.params import REPO_PARAMS, repo_params, write_params
from tests.random_scores import random_customers
from typer.testing import CliRunner

from clm.campaign.config import CampaignConfig
from clm.campaign.measure_stage import (
    NO_TRUTH,
    log_to_mlflow,
    run_measure,
    waiting_for_outcome,
    write_waiting_report,
)
from clm.campaign.operator_outcome import NO_TRUTH_NOTE, write_operator_outcome
from clm.campaign.policies import PRIOR_PLAN, TOP_RISK, UPLIFT_PLAN
from clm.campaign.simulate import Counterfactuals
from clm.campaign.stage import CampaignPaths, run_plan
from clm.cli import app
from clm.config import from_dict, read_params
from clm.data.contract import CHURN_EVENTS, USAGE_MONTHLY
from clm.data.io import TableError
from clm.data.operator import OperatorTables
from clm.data.validate import FAILED_CHECKS
from clm.domain.taxonomy import load_taxonomy
from clm.months import add_months
from clm.synthetic.generate import GenerateConfig, state_at

MONTH = random_customers(1, 0)["scoring_month"][0]


def campaign_params(**changes: object) -> dict:
    section = read_params(REPO_PARAMS)["campaign"]
    return {**section, "total_budget_yuan": 3000.0, "channel_capacity": 150, **changes}


def usage_rows(customers: pl.DataFrame, months: list) -> pl.DataFrame:
    """usage_monthly in the raw contract: each customer's ARPU every month, zeros elsewhere."""
    frame = customers.select("subscriber_id", "arpu_mean_3m").join(
        pl.DataFrame({"month": months}), how="cross"
    )
    taken = {*frame.columns, "arpu"}
    zeros = {c: pl.lit(0).cast(t) for c, t in USAGE_MONTHLY.items() if c not in taken}
    return frame.with_columns(arpu=pl.col("arpu_mean_3m"), **zeros).select(
        [pl.col(c).cast(t) for c, t in USAGE_MONTHLY.items()]
    )


def stage_paths(folder: Path) -> CampaignPaths:
    return CampaignPaths(
        scores=folder / "scores.parquet",
        usage=folder / "usage_monthly.parquet",
        campaign_dir=folder / "campaign",
        outcome_dir=folder / "outcome",
        report_json=folder / "reports" / "campaign.json",
        report_html=folder / "reports" / "campaign.html",
        uplift_dir=folder / "uplift",
    )


@pytest.fixture
def planned(tmp_path: Path) -> tuple[CampaignPaths, CampaignConfig, pl.DataFrame]:
    customers = random_customers(1500, 4)
    paths = stage_paths(tmp_path)
    customers.drop("arpu_mean_3m").write_parquet(paths.scores)
    history = [add_months(MONTH, k) for k in (-2, -1, 0)]
    usage_rows(customers, history).write_parquet(paths.usage)
    config = from_dict(CampaignConfig, campaign_params(control_share=0.3))
    run_plan(config, paths)
    return paths, config, customers


def roll_forward(
    paths: CampaignPaths, customers: pl.DataFrame, seed: int = 0, month: date = MONTH
) -> None:
    """A stand-in for the generator: treated customers churn less, the rest as scored."""
    plan = pl.read_parquet(paths.plan)
    rng = np.random.default_rng(seed)
    treated = (plan["arm"] == "treatment").to_numpy()
    churned = rng.random(plan.height) < plan["churn_probability"].to_numpy() * np.where(
        treated, 0.5, 1.0
    )
    months = [add_months(month, k) for k in (1, 2, 3)]
    stayers = customers.filter(pl.Series(~churned))
    paths.outcome_dir.mkdir(exist_ok=True)
    usage_rows(stayers, months).write_parquet(paths.outcome_dir / "usage_monthly.parquet")
    pl.DataFrame(
        {
            "subscriber_id": plan["subscriber_id"].filter(pl.Series(churned)),
            "churn_month": [months[0]] * int(churned.sum()),
            "reason": ["price"] * int(churned.sum()),
            "destination": ["other"] * int(churned.sum()),
        },
        schema=CHURN_EVENTS,
    ).write_parquet(paths.outcome_dir / "churn_events.parquet")


def test_plan_writes_the_plan_and_a_bilingual_call_sheet(planned) -> None:
    paths, config, customers = planned
    plan = pl.read_parquet(paths.plan)
    assert plan.height == customers.height
    treated = plan.filter(arm="treatment")
    assert 0 < treated.height <= config.channel_capacity
    assert treated["cost_yuan"].sum() <= config.total_budget_yuan
    csv = pl.read_csv(paths.campaign_dir / "callsheet.csv")
    assert csv.height == treated.height
    assert csv["expected_value_yuan"].is_sorted(descending=True)
    assert {"measure_zh", "measure_en", "reason_1_zh", "reason_1_en"} <= set(csv.columns)
    sheet = openpyxl.load_workbook(paths.campaign_dir / "callsheet.xlsx").active
    assert sheet.max_row == treated.height + 1
    header = [cell.value for cell in sheet[1]]
    assert header == csv.columns
    first = dict(zip(header, [cell.value for cell in sheet[2]], strict=True))
    assert first["subscriber_id"] == csv["subscriber_id"][0]
    assert first["measure_zh"] and first["measure_en"]
    summary = json.loads(paths.plan_summary.read_text(encoding="utf-8"))
    assert summary["gap_to_lp_bound"] < 0.01


def campaign_files(paths: CampaignPaths) -> dict[Path, bytes]:
    """Every file of the plan and the reports, with its bytes."""
    folders = (paths.campaign_dir, paths.report_json.parent)
    return {file: file.read_bytes() for folder in folders for file in folder.rglob("*")}


def test_a_plan_or_report_that_fails_while_writing_leaves_the_last_ones_whole(
    planned, monkeypatch
) -> None:
    paths, config, customers = planned
    roll_forward(paths, customers)
    run_measure(config, paths)
    before = campaign_files(paths)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    # a new plan (half the budget) failing at its call sheet, a report failing at its HTML
    monkeypatch.setattr("clm.campaign.stage.write_call_sheet", fail)
    with pytest.raises(OSError, match="disk full"):
        run_plan(replace(config, total_budget_yuan=config.total_budget_yuan / 2), paths)
    monkeypatch.setattr("clm.campaign.measure_stage.render_report", fail)
    with pytest.raises(OSError, match="disk full"):
        run_measure(config, paths)

    assert campaign_files(paths) == before  # never a new plan beside an older call sheet


def test_measure_reports_uplift_learns_a_model_and_logs_to_mlflow(planned, tracking_store) -> None:
    paths, config, customers = planned
    roll_forward(paths, customers)
    document = run_measure(config, paths)
    overall = document["overall"]
    assert overall["treated"] > 0 and overall["control"] > 0
    assert overall["churn_cut"] > 0  # the stand-in halves the treated's churn
    assert document["by_value_tier"] and document["by_measure"]
    assert document["roi"]["spend_yuan"] > 0
    assert json.loads(paths.report_json.read_text(encoding="utf-8"))["month"] == str(MONTH)
    html = paths.report_html.read_text(encoding="utf-8")
    assert "挽留活动评估报告" in html and "Retention campaign report" in html and "<svg" in html
    assert document["uplift_model"]["learned"], document["uplift_model"]
    run_plan(config, paths, uplift_dir=paths.uplift_dir)  # next month's plan uses the model
    assert json.loads(paths.plan_summary.read_text())["effects"] == "uplift model"

    run = mlflow.get_run(log_to_mlflow(document, paths.report_html))
    assert run.data.metrics["treated"] == overall["treated"]


def test_report_renders_in_chromium_with_its_qini_chart(planned, tmp_path) -> None:
    paths, config, customers = planned
    roll_forward(paths, customers)
    run_measure(config, paths)

    shown = render(paths.report_html, tmp_path / "profile")

    shown.assert_offline_and_clean()
    assert "挽留活动评估报告" in shown.title and "Retention campaign report" in shown.title
    shown.assert_charts_drawn(1)
    assert any("总体效果" in s and "Overall" in s for s in shown.sections)


def test_measure_judges_the_policies_on_the_synthetic_operators_truth(tmp_path) -> None:
    generator = GenerateConfig(
        seed=5, n_subscribers=3000, n_months=6, first_month="2023-01-01", cdma_share=0.35, shocks=()
    )
    config = from_dict(CampaignConfig, campaign_params(control_share=0.3))
    world = Counterfactuals(
        state_at(generator, generator.n_months - 1), config.horizon_months, generator.seed
    )
    customers = oracle_customers(
        world, load_taxonomy(), repo_params().features.tiers, repo_params().scoring.budget
    )
    month = customers["scoring_month"][0]
    paths = stage_paths(tmp_path)
    customers.drop("arpu_mean_3m").write_parquet(paths.scores)
    usage_rows(customers, [add_months(month, k) for k in (-2, -1, 0)]).write_parquet(paths.usage)
    run_plan(config, paths)
    roll_forward(paths, customers, month=month)

    document = run_measure(config, paths, generator)

    judged = json.loads(paths.report_json.read_text(encoding="utf-8"))["policies"]
    assert judged == document["policies"]
    assert judged["month"] == str(month)
    rows = {row["policy"]: row for row in judged["policies"]}
    assert TOP_RISK in rows and PRIOR_PLAN in rows
    assert (UPLIFT_PLAN in rows) == document["uplift_model"]["learned"]
    for row in rows.values():
        assert 0 < row["spend_yuan"] <= config.total_budget_yuan
        assert row["contacted"] <= config.channel_capacity
        assert row["net_value_yuan"] == pytest.approx(
            row["retained_value_yuan"] - row["contact_cost_yuan"], abs=0.02
        )


def test_outcome_for_a_month_that_had_no_plan_fails_with_one_line(planned) -> None:
    paths, config, customers = planned
    paths.outcome_dir.mkdir()
    later = [add_months(MONTH, k) for k in (2, 3)]
    usage_rows(customers, later).write_parquet(paths.outcome_dir / "usage_monthly.parquet")
    pl.DataFrame(schema=CHURN_EVENTS).write_parquet(paths.outcome_dir / "churn_events.parquet")
    with pytest.raises(ValueError, match="a month that had no plan; the plan is for"):
        run_measure(config, paths)


def test_an_operators_campaign_waits_for_its_months_then_measures_them(planned, tmp_path) -> None:
    paths, config, customers = planned
    truth = tmp_path / "campaign_truth"
    later = tmp_path / "later_export"  # where the operator will export the months after the plan
    later.mkdir()
    tables = OperatorTables(str(tmp_path), {}, {}, outcome_folder=str(later))

    assert write_operator_outcome(tables, paths.plan, paths.outcome_dir, truth) == {
        "usage_monthly": 0,
        "churn_events": 0,
    }
    assert waiting_for_outcome(paths)
    waiting = write_waiting_report(paths)
    assert json.loads(paths.report_json.read_text(encoding="utf-8")) == waiting
    assert "outcome_folder" in waiting["waiting_for_outcome"]
    shown = render(paths.report_html, tmp_path / "profile")
    shown.assert_offline_and_clean()
    assert "等待观察月份 / Waiting for the outcome months" in shown.subsections
    assert (paths.uplift_dir / "not_learned.txt").is_file()
    assert (truth / NO_TRUTH_NOTE).is_file()

    export = replace(paths, outcome_dir=later)
    roll_forward(export, customers)  # the months after the plan, as the operator exports them
    exported = pl.read_parquet(later / "usage_monthly.parquet")
    plan_month = usage_rows(customers.head(3), [MONTH])  # older months are in an export too
    negative = usage_rows(customers.tail(1), [add_months(MONTH, 1)]).with_columns(
        subscriber_id=pl.lit(10**9, pl.Int64), arpu=-1.0
    )
    pl.concat([exported, plan_month, negative]).write_parquet(later / "usage_monthly.parquet")

    kept = write_operator_outcome(tables, paths.plan, paths.outcome_dir, truth)

    quarantined = pl.read_parquet(paths.outcome_dir / "quarantine" / "usage_monthly.parquet")
    assert quarantined[FAILED_CHECKS].to_list() == [["arpu:non_negative"]]
    assert kept["usage_monthly"] == exported.height
    outcome = pl.read_parquet(paths.outcome_dir / "usage_monthly.parquet")
    assert outcome["month"].min() == add_months(MONTH, 1)
    assert not waiting_for_outcome(paths)
    assert run_measure(config, paths)["overall"]["treated"] > 0


def test_an_outcome_export_missing_one_table_is_named(planned, tmp_path) -> None:
    paths, _, _ = planned
    export = tmp_path / "export"
    export.mkdir()
    pl.DataFrame(schema=CHURN_EVENTS).write_csv(export / "churn_events.csv")
    tables = OperatorTables(str(tmp_path), {}, {}, outcome_folder=str(export))

    with pytest.raises(TableError, match=r"file_exists.*no usage_monthly\.parquet or"):
        write_operator_outcome(tables, paths.plan, paths.outcome_dir, tmp_path / "truth")


def test_an_outcome_export_without_a_month_after_the_plan_is_named(planned, tmp_path) -> None:
    paths, _, customers = planned
    export = tmp_path / "export"
    export.mkdir()
    usage_rows(customers, [MONTH]).write_parquet(export / "usage_monthly.parquet")
    pl.DataFrame(schema=CHURN_EVENTS).write_parquet(export / "churn_events.parquet")
    tables = OperatorTables(str(tmp_path), {}, {}, outcome_folder=str(export))

    with pytest.raises(TableError, match=r"months_after_plan.*no month after the plan month"):
        write_operator_outcome(tables, paths.plan, paths.outcome_dir, tmp_path / "truth")


def test_cli_names_a_zero_budget_in_one_line(tmp_path, monkeypatch) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"campaign": campaign_params(total_budget_yuan=0)}))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["campaign", "plan", "--params", str(params)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "campaign plan failed: params.yaml campaign.total_budget_yuan must be > 0, got 0.0"
    ]


def test_cli_plans_and_measures_on_the_stage_paths(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    paths = CampaignPaths()
    customers = random_customers(1200, 6)
    paths.scores.parent.mkdir(parents=True)
    customers.drop("arpu_mean_3m").write_parquet(paths.scores)
    paths.usage.parent.mkdir(parents=True)
    usage_rows(customers, [add_months(MONTH, k) for k in (-2, -1, 0)]).write_parquet(paths.usage)
    own_data = {
        "source": "operator",
        "operator": {
            "folder": str(tmp_path),
            "columns": {},
            "values": {},
            "outcome_folder": str(tmp_path),
        },
    }
    params = write_params(
        tmp_path / "params.yaml", campaign=campaign_params(control_share=0.3), data=own_data
    )
    runner = CliRunner()
    planned = runner.invoke(app, ["campaign", "plan", "--params", str(params)])
    assert planned.exit_code == 0, planned.output
    assert "150 contacts of 1,200 subscribers" in planned.output
    roll_forward(paths, customers)
    measured = runner.invoke(
        app, ["campaign", "measure", "--params", str(params), "--no-log-to-mlflow"]
    )
    assert measured.exit_code == 0, measured.output
    assert "comparable control; churn cut +" in measured.output
    assert paths.report_html.is_file() and paths.report_json.is_file()
    policies = json.loads(paths.report_json.read_text(encoding="utf-8"))["policies"]
    assert policies == {"skipped": NO_TRUTH}  # an operator's own data has no truth
    again = runner.invoke(
        app, ["campaign", "plan", "--params", str(params), "--month", "2030-01-01"]
    )
    assert again.exit_code == 1
    assert "no scores for month 2030-01-01" in again.output
