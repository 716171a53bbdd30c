"""DVC stage `tune@<task>`: Optuna study for one model (params: model, tune).

Resumes the stored study (optuna/<task>.journal) after an interruption or a kill; writes the best
parameters to models/tuning/<task>.json for the train stage, never to params.yaml.
"""

from __future__ import annotations

import logging
import sys

import optuna

from clm.models.tune_stage import run_tune


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar says enough
    run_tune(sys.argv[1])


if __name__ == "__main__":
    main()
