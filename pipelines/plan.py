"""DVC stage `plan`: plan the latest scored month of data/scores/scores.parquet (ARPU from
data/validated/usage_monthly.parquet) into data/campaign/: plan.parquet, plan.json and the
call sheet callsheet.csv / callsheet.xlsx (params: campaign)."""

from __future__ import annotations

import logging

from clm.campaign.config import CampaignConfig
from clm.campaign.stage import CampaignPaths, run_plan
from clm.config import load_section


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_plan(load_section(CampaignConfig, "campaign"), CampaignPaths())


if __name__ == "__main__":
    main()
