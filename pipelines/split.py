"""DVC stage `split`: out-of-time train / valid / test parts by snapshot month (params: split).

Reads data/features/features.parquet; writes data/split/{train,valid,test}.parquet and
reports/split.json (months, rows and churn rate per part).
"""

from __future__ import annotations

import logging

from clm.config import load_section
from clm.split import SplitConfig, SplitError, run_split


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        run_split(load_section(SplitConfig, "split"))
    except SplitError as error:
        raise SystemExit(f"split failed: {error}") from error


if __name__ == "__main__":
    main()
