"""DVC stage `features`: features and labels per (subscriber, snapshot month).

Params: features, labels. Reads data/validated/{subscribers,usage_monthly,churn_events}.parquet
and (when present) data/truth/stages_monthly.parquet; writes data/features/features.parquet.
"""

from __future__ import annotations

import logging

from clm.config import load_section
from clm.features.build import FeatureConfig
from clm.features.stage import run_features
from clm.labels import LabelConfig


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_features(load_section(FeatureConfig, "features"), load_section(LabelConfig, "labels"))


if __name__ == "__main__":
    main()
