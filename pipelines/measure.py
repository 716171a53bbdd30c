"""DVC stage `measure`: measure data/campaign/plan.parquet on the outcome months in
data/outcome/ into reports/campaign.json and reports/campaign.html, learn the uplift model
into models/uplift/ and log the figures to MLflow (params: campaign)."""

from __future__ import annotations

import logging

from clm.campaign.config import CampaignConfig
from clm.campaign.stage import CampaignPaths, log_to_mlflow, run_measure
from clm.config import load_section


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    paths = CampaignPaths()
    log_to_mlflow(run_measure(load_section(CampaignConfig, "campaign"), paths), paths.report_html)


if __name__ == "__main__":
    main()
