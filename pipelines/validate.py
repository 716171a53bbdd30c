"""DVC stage `validate`: raw tables -> validated + quarantined rows and a report (params: validate).

Paths are the library defaults, the same ones `clm validate` uses: data/raw/<table>.parquet in;
data/validated/, data/quarantine/ and reports/validation.json out.
"""

from __future__ import annotations

import logging

from clm.config import load_section
from clm.data.io import TableError
from clm.data.validate import QuarantineShareError, ValidateConfig, run_validate


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_section(ValidateConfig, "validate")
    try:
        run_validate(config)
    except (TableError, QuarantineShareError) as error:
        raise SystemExit(f"validate failed: {error}") from error


if __name__ == "__main__":
    main()
