"""DVC stage `measure`: measure data/campaign/plan.parquet on the outcome months in
data/outcome/ into reports/campaign.json and reports/campaign.html, learn the uplift model
into models/uplift/ and log the figures to MLflow. On the synthetic operator the policies of
issue 15 are also judged on its counterfactual truth, which replays the generator and reads
the plan month's scores (data/scores/scores.parquet) and ARPU (data/validated/
usage_monthly.parquet) (params: campaign, data.source, generate). While the outcome tables
are empty (an operator's campaign whose months are not in yet) the reports say it waits."""

from __future__ import annotations

import logging

from clm.campaign.config import CampaignConfig
from clm.campaign.measure_stage import (
    log_to_mlflow,
    run_measure,
    synthetic_generator,
    waiting_for_outcome,
    write_waiting_report,
)
from clm.campaign.stage import CampaignPaths
from clm.config import load_section


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    paths = CampaignPaths()
    if waiting_for_outcome(paths):
        write_waiting_report(paths)
        return
    config = load_section(CampaignConfig, "campaign")
    document = run_measure(config, paths, synthetic_generator())
    log_to_mlflow(document, paths.report_html)


if __name__ == "__main__":
    main()
