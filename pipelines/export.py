"""DVC stage `export`: the batch-scoring pyfunc from models/churn and models/stage, saved to
models/scorer and registered as `clm-scorer@challenger` (params: features, scoring.budget)."""

from __future__ import annotations

import logging

from clm.config import load_section
from clm.features.build import FeatureConfig
from clm.scoring.batches import ScoringConfig
from clm.scoring.export import run_export


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_export(
        load_section(FeatureConfig, "features"), load_section(ScoringConfig, "scoring").budget
    )


if __name__ == "__main__":
    main()
