"""DVC stage `calibrate`: seed figures next to the same figures measured on the raw tables."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from clm.data.calibration import measure_calibration, render_markdown
from clm.io import read_table, write_text_atomic

RAW_DIR = Path("data/raw")
REPORT = Path("reports/calibration.md")
METRICS = Path("reports/calibration.json")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    figures = measure_calibration(
        read_table(RAW_DIR / "subscribers.parquet", "subscribers"),
        read_table(RAW_DIR / "usage_monthly.parquet", "usage_monthly").lazy(),
        read_table(RAW_DIR / "churn_events.parquet", "churn_events"),
    )
    write_text_atomic(render_markdown(figures), REPORT)
    # The headline for `dvc metrics show` / `dvc exp show`; every figure is in the markdown.
    metrics = {
        "figures": len(figures),
        "within_tolerance": sum(f.within_tolerance for f in figures),
        **{f.name: round(f.generated, 4) for f in figures if f.name.startswith("half-year")},
    }
    write_text_atomic(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", METRICS)


if __name__ == "__main__":
    main()
