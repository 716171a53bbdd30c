"""DVC stage `score`: score the latest month of data/validated with models/scorer into
data/scores/scores.parquet, bad rows to data/scores/scores.quarantine.parquet, and the month
before it into data/scores/previous_month.parquet for the driver report's change from last
month (params: scoring.batch_rows, scoring.max_quarantined_share)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from clm import paths
from clm.config import load_section
from clm.errors import InputError
from clm.months import add_months
from clm.scoring.batches import (
    QuarantineShareError,
    ScoringConfig,
    load_scorer_from,
    scan_input,
    score_input,
)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        with tempfile.TemporaryDirectory() as temp:
            source = scan_input(paths.VALIDATED_DIR, Path(temp))
            scorer = load_scorer_from(str(paths.SCORER_DIR))
            config = load_section(ScoringConfig, "scoring")
            summary = score_input(source, scorer, paths.SCORES, config)
            previous = add_months(summary.scoring_month, -1)
            score_input(source, scorer, paths.PREVIOUS_SCORES, config, scoring_month=previous)
    except (InputError, QuarantineShareError) as error:
        raise SystemExit(f"score failed: {error}") from error


if __name__ == "__main__":
    main()
