"""DVC stage `explain`: per-customer churn reasons in the taxonomy for the test month, the
attribution check against the synthetic truth, and the driver report, logged to the churn
model's MLflow run (params: explain)."""

from __future__ import annotations

import logging

from clm.config import load_section
from clm.explain.drivers import ExplainConfig
from clm.explain.stage import log_to_run, run_explain


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    log_to_run(run_explain(load_section(ExplainConfig, "explain")))


if __name__ == "__main__":
    main()
