"""The ``measure`` stage's file edges: measure the pilot, learn the uplift model and, on the
synthetic operator, judge the policies of issue 15 on its counterfactual truth.

Its own module (the plan stage's edges are ``clm.campaign.stage``), so the ``plan`` stage does
not depend on the generator code that only ``measure`` runs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from datetime import date
from pathlib import Path

import polars as pl

from clm import paths
from clm.campaign.candidates import PriorEffects
from clm.campaign.config import CampaignConfig, CampaignError, check_config
from clm.campaign.measure import (
    by_group,
    campaign_roi,
    compare,
    outcome_months,
    pilot_rows,
    qini_coefficient,
    qini_curve,
    realised_outcomes,
)
from clm.campaign.plan import scores_for_month, with_arpu
from clm.campaign.policies import compare_policies
from clm.campaign.report import render_report
from clm.campaign.simulate import NO_TRUTH, Counterfactuals
from clm.campaign.stage import CampaignPaths, scan_table
from clm.campaign.uplift import fit_uplift, load_uplift
from clm.config import load_section
from clm.data.io import write_text_atomic, write_together
from clm.data.operator import DataConfig
from clm.domain.taxonomy import load_taxonomy
from clm.months import to_index
from clm.synthetic.generate import GenerateConfig, state_at

logger = logging.getLogger(__name__)

FRESH_DRAW = 1  # seed offset of the months the policies are judged on (see _judge_policies)


def run_measure(
    config: CampaignConfig, files: CampaignPaths, generator: GenerateConfig | None = None
) -> dict:
    """Measure the plan on its outcome months; write the JSON and HTML reports and the
    uplift model learned from the pilot.

    ``generator`` is the synthetic operator's config: with it the three policies of
    ``clm.campaign.policies`` are judged on its counterfactual truth; without it (an
    operator's own data) that section says it was skipped and why.
    """
    taxonomy = load_taxonomy()
    check_config(config, taxonomy)
    for needed in (files.plan, files.plan_summary):
        if not needed.is_file():
            raise CampaignError(f"plan: {needed} not found; run clm campaign plan first")
    plan = pl.read_parquet(files.plan)
    month = plan["month"][0]
    usage = scan_table(
        files.outcome_dir / "usage_monthly.parquet",
        "usage_monthly",
        ("subscriber_id", "month", "arpu"),
    )
    churn_events = scan_table(
        files.outcome_dir / "churn_events.parquet", "churn_events", ("subscriber_id", "churn_month")
    )
    observed = usage.select(pl.col("month").unique()).collect()["month"].to_list()
    months = outcome_months(month, observed, config.horizon_months)
    outcomes = realised_outcomes(plan, usage, churn_events, months, config)
    rows = pilot_rows(outcomes)
    curve = qini_curve(rows)
    document = {
        "month": str(month),
        "outcome_months": [str(m) for m in months],
        "overall": compare(rows),
        "by_value_tier": by_group(rows, "value_tier"),
        "by_measure": by_group(rows, "measure"),
        "roi": campaign_roi(rows),
        "qini_coefficient": qini_coefficient(curve),
        "qini_curve": curve.to_dict(as_series=False),
        "plan": json.loads(files.plan_summary.read_text(encoding="utf-8")),
        "uplift_model": _learn_uplift(outcomes, config, files.uplift_dir),
    }
    document["policies"] = _judge_policies(
        config, files, generator, month, document["uplift_model"]
    )
    _write_reports(document, files)
    return document


def waiting_for_outcome(files: CampaignPaths) -> bool:
    """Whether the outcome tables hold no row at all: an operator's campaign whose months are
    not lived and exported yet (``clm.campaign.operator_outcome``)."""
    usage = files.outcome_dir / "usage_monthly.parquet"
    return usage.is_file() and pl.scan_parquet(usage).select(pl.len()).collect().item() == 0


def write_waiting_report(files: CampaignPaths) -> dict:
    """The reports of a plan whose outcome months are not in, saying so, and no uplift model
    (a stale one is never planned with)."""
    month = pl.read_parquet(files.plan, columns=["month"])["month"][0]
    reason = (
        f"the outcome months after {month} are not in: export them (usage_monthly, "
        "churn_events) into the folder data.operator.outcome_folder names and run dvc repro"
    )
    document = {"month": str(month), "waiting_for_outcome": reason}
    _empty_uplift_folder(files.uplift_dir)
    _say_not_learned(files.uplift_dir, reason)
    _write_reports(document, files)
    logger.info("measure: %s", reason)
    return document


def _write_reports(document: dict, files: CampaignPaths) -> None:
    """campaign.json and campaign.html as one commit: a killed run leaves both old."""
    with write_together(files.report_json, files.report_html) as (json_staged, html_staged):
        json_staged.write_text(json.dumps(document, indent=2), encoding="utf-8")
        html_staged.write_text(render_report(document), encoding="utf-8")


def _empty_uplift_folder(folder: Path) -> None:
    """Remove any older model, so a stale one is never planned with."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def _say_not_learned(folder: Path, reason: str) -> None:
    write_text_atomic(f"{reason}\n", folder / "not_learned.txt")


def _learn_uplift(outcomes: pl.DataFrame, config: CampaignConfig, folder: Path) -> dict:
    """Fit and save the T-learner when the pilot is big enough, with the out-of-fold check
    that says whether the next plan uses its effects or the prior's; say why not otherwise (in
    the folder too, which replaces any older model so a stale one is never planned with)."""
    _empty_uplift_folder(folder)
    try:
        model = fit_uplift(outcomes, config, load_taxonomy())
    except CampaignError as error:
        logger.warning("uplift model not learned: %s", error)
        _say_not_learned(folder, str(error))
        return {"learned": False, "reason": str(error)}
    model.save(folder)
    return {
        "learned": True,
        "folder": str(folder),
        "measures": sorted({code for fold in model.folds for code in fold.measures}),
        "boosting_rounds": {  # per fold of the pilot
            "control": [fold.control.num_boosted_rounds() for fold in model.folds],
            "treated": [fold.treated.num_boosted_rounds() for fold in model.folds],
        },
        "policy_check": dataclasses.asdict(model.check),
    }


def synthetic_generator(params: Path = paths.PARAMS) -> GenerateConfig | None:
    """The generator's config when ``data.source`` is synthetic: the only data with truth."""
    if load_section(DataConfig, "data", params).source != "synthetic":
        return None
    return load_section(GenerateConfig, "generate", params)


def _judge_policies(
    config: CampaignConfig,
    files: CampaignPaths,
    generator: GenerateConfig | None,
    month: date,
    uplift: dict,
) -> dict:
    """The policies of issue 15 on the plan month's whole base, judged on a fresh draw of
    the months after it (the uplift model was learned on the outcome stage's draw, so
    judging it there would be judging it in-sample)."""
    if generator is None:
        return {"skipped": NO_TRUTH}
    taxonomy = load_taxonomy()
    scores = scores_for_month(pl.read_parquet(files.scores), month)
    usage = scan_table(files.usage, "usage_monthly", ("subscriber_id", "month", "arpu"))
    customers = with_arpu(scores, usage)
    month_index = to_index(month) - to_index(date.fromisoformat(generator.first_month))
    world = Counterfactuals(
        state_at(generator, month_index), config.horizon_months, generator.seed + FRESH_DRAW
    )
    prior = PriorEffects(config)
    model = load_uplift(files.uplift_dir, fallback=prior) if uplift["learned"] else None
    judged = compare_policies(customers, config, taxonomy, world, model)
    if model is None:
        judged["uplift_plan_skipped"] = f"no uplift model: {uplift['reason']}"
    return judged


def log_to_mlflow(document: dict, report_html: Path) -> str:
    """Log the measured figures and the report to an MLflow run; return its id."""
    import mlflow

    from clm.tracking import EXPERIMENT

    overall, roi = document["overall"], document["roi"]
    metrics = {
        "churn_cut": overall["churn_cut"],
        "net_value_uplift_yuan": overall["net_value_uplift_yuan"],
        "incremental_value_yuan": roi["incremental_value_yuan"],
        "roi": roi["roi"],
        "qini_coefficient": document["qini_coefficient"],
        "treated": overall["treated"],
        "control": overall["control"],
    }
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=f"campaign {document['month']}") as run:
        mlflow.set_tag("clm.stage", "campaign-measure")
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        mlflow.log_dict(document, "campaign.json")
        mlflow.log_artifact(str(report_html))
    return run.info.run_id
