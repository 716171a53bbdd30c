"""DVC stage `evaluate`: both models, the baselines and the oracle on the test month.

Writes reports/metrics.json (DVC metrics), reports/plots/ (DVC plots) and logs the same to
each model's MLflow run and registry version (params: labels.horizon_months).
"""

from __future__ import annotations

import logging

from clm.models.evaluate_stage import run_evaluate


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_evaluate()


if __name__ == "__main__":
    main()
