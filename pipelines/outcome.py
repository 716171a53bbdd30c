"""DVC stage `outcome` (synthetic data only): roll the generator forward from the plan's
month under data/campaign/plan.parquet, writing the months after it in the raw contract to
data/outcome/ and the true individual effects to data/campaign_truth/ (params: generate,
campaign.horizon_months). On an operator's own tables the outcome months are theirs: put
their next months' usage_monthly and churn_events in data/outcome/ instead."""

from __future__ import annotations

import logging
import sys

from clm import paths
from clm.campaign.config import CampaignConfig
from clm.config import load_section
from clm.data.operator import DataConfig
from clm.synthetic.generate import GenerateConfig


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if load_section(DataConfig, "data").source != "synthetic":
        sys.exit(
            "stage outcome: data.source is not synthetic; put your next months' usage_monthly "
            f"and churn_events in {paths.OUTCOME_DIR}/ and run `clm campaign measure`"
        )
    from clm.campaign.simulate import write_outcome  # the generator side (issue 15, item 1)

    write_outcome(
        load_section(GenerateConfig, "generate"),
        paths.PLAN,
        paths.OUTCOME_DIR,
        paths.CAMPAIGN_TRUTH_DIR,
        load_section(CampaignConfig, "campaign").horizon_months,
    )


if __name__ == "__main__":
    main()
