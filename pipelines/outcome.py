"""DVC stage `outcome`: the months after the plan's month (data/campaign/plan.parquet) in the
raw contract, in data/outcome/. The synthetic operator rolls its generator forward under the
plan and writes the true individual effects to data/campaign_truth/ (params: generate,
campaign.horizon_months); an operator's own are imported from data.operator.outcome_folder
(empty tables while it holds none; data/campaign_truth/ says there is no truth)."""

from __future__ import annotations

import logging

from clm import paths
from clm.campaign.config import CampaignConfig
from clm.campaign.operator_outcome import write_operator_outcome
from clm.config import load_section
from clm.data.io import TableError
from clm.data.operator import DataConfig
from clm.synthetic.generate import GenerateConfig


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    data = load_section(DataConfig, "data")
    if data.source != "synthetic":
        try:
            write_operator_outcome(
                data.operator, paths.PLAN, paths.OUTCOME_DIR, paths.CAMPAIGN_TRUTH_DIR
            )
        except TableError as error:
            raise SystemExit(f"outcome failed: {error}") from error
        return
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
