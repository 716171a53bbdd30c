"""The campaign stages' file locations and the ``plan`` stage's edges (``measure``'s are in
``clm.campaign.measure_stage``).

``clm campaign plan|measure`` and ``pipelines/{plan,measure}.py`` call these with the same
default paths, so the CLI and ``dvc repro`` do the same work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from clm import paths
from clm.campaign.callsheet import call_sheet, write_call_sheet
from clm.campaign.candidates import EffectModel, PriorEffects
from clm.campaign.config import CampaignConfig, CampaignError, check_config
from clm.campaign.plan import build_plan, scores_for_month, with_arpu
from clm.campaign.uplift import load_uplift
from clm.data.contract import RAW_TABLES
from clm.data.io import check_contract, write_together
from clm.domain.taxonomy import load_taxonomy


@dataclass(frozen=True)
class CampaignPaths:
    """Where the campaign stages read and write, relative to the repository root."""

    scores: Path = paths.SCORES
    usage: Path = paths.VALIDATED_USAGE
    campaign_dir: Path = paths.CAMPAIGN_DIR
    outcome_dir: Path = paths.OUTCOME_DIR
    report_json: Path = paths.CAMPAIGN_METRICS
    report_html: Path = paths.CAMPAIGN_REPORT
    uplift_dir: Path = paths.UPLIFT_DIR

    @property
    def plan(self) -> Path:
        return self.campaign_dir / "plan.parquet"

    @property
    def plan_summary(self) -> Path:
        return self.campaign_dir / "plan.json"


def run_plan(
    config: CampaignConfig,
    files: CampaignPaths,
    month: date | None = None,
    uplift_dir: Path | None = None,
) -> dict:
    """Plan a scored month; write the plan, its summary and the call sheet (CSV, XLSX).

    With ``uplift_dir`` the effects come from the uplift model learned from the last pilot
    instead of the prior effect table, where the pilot's out-of-fold check kept them (the
    summary's ``uplift_check`` says which and why).
    """
    taxonomy = load_taxonomy()
    check_config(config, taxonomy)  # before any file is read: a bad param is named first
    if not files.scores.is_file():
        raise CampaignError(f"scores: {files.scores} not found; run clm score first")
    scores = scores_for_month(pl.read_parquet(files.scores), month)
    usage = scan_table(files.usage, "usage_monthly", ("subscriber_id", "month", "arpu"))
    effects: EffectModel = PriorEffects(config)
    summary: dict = {"effects": "prior table"}
    if uplift_dir is not None:
        uplift = load_uplift(uplift_dir, fallback=effects)
        effects, summary = uplift, {"effects": "uplift model", "uplift_check": uplift.check.reason}
    plan = build_plan(with_arpu(scores, usage), config, taxonomy, effects)
    summary = {**plan.summary, **summary}
    sheet = call_sheet(plan.table, taxonomy)
    # one commit: a killed run never leaves a new plan beside an older call sheet
    sheets = (files.campaign_dir / "callsheet.csv", files.campaign_dir / "callsheet.xlsx")
    with write_together(files.plan, files.plan_summary, *sheets) as staged:
        plan_staged, summary_staged, csv_staged, xlsx_staged = staged
        plan.table.write_parquet(plan_staged)
        summary_staged.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        write_call_sheet(sheet, csv_staged, xlsx_staged)
    return summary


def scan_table(path: Path, table: str, columns: tuple[str, ...]) -> pl.LazyFrame:
    """The ``columns`` of a raw-contract table, lazily, after checking they are there with
    the contract's dtypes (TableError otherwise): the plan needs 3 of usage's 18 columns."""
    if not path.is_file():
        raise CampaignError(f"{table}: {path} not found")
    frame = pl.scan_parquet(path)
    contract = {column: RAW_TABLES[table][column] for column in columns}
    check_contract(frame.collect_schema(), table, contract)
    return frame.select(columns)
