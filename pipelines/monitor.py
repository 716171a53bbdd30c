"""DVC stage `monitor`: every month from the test month on against the champion's training
reference and the month before -> reports/monitoring.json and reports/monitoring.html, logged
to MLflow (params: monitor).

An alert never fails the stage: the report says it, and `clm monitor`'s exit status (3) is
the retrain trigger. Only input the monitor cannot use fails it.
"""

from __future__ import annotations

import logging

from clm.config import load_section
from clm.monitoring.config import MonitorConfig, MonitorError
from clm.monitoring.stage import log_to_mlflow, run_monitor


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = run_monitor(load_section(MonitorConfig, "monitor"))
    except MonitorError as error:
        raise SystemExit(f"monitor failed: {error}") from error
    log_to_mlflow(result)
    for alert in result.retrain:
        logging.getLogger("monitor").warning("retrain recommended: %s", alert.describe())


if __name__ == "__main__":
    main()
