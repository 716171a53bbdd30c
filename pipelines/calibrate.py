"""DVC stage `calibrate`: seed figures next to the same figures measured on the raw tables."""

from __future__ import annotations

import json
import logging

from clm import paths
from clm.data.io import read_table, write_text_atomic
from clm.synthetic.calibration import measure_calibration, render_markdown


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    figures = measure_calibration(
        read_table(paths.RAW_DIR / "subscribers.parquet", "subscribers"),
        read_table(paths.RAW_DIR / "usage_monthly.parquet", "usage_monthly").lazy(),
        read_table(paths.RAW_DIR / "churn_events.parquet", "churn_events"),
    )
    write_text_atomic(render_markdown(figures), paths.CALIBRATION_REPORT)
    # The headline for `dvc metrics show` / `dvc exp show`; every figure is in the markdown.
    metrics = {
        "figures": len(figures),
        "within_tolerance": sum(f.within_tolerance for f in figures),
        **{f.name: round(f.generated, 4) for f in figures if f.name.startswith("half-year")},
    }
    write_text_atomic(
        json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", paths.CALIBRATION_METRICS
    )


if __name__ == "__main__":
    main()
