"""DVC stage `train@<task>`: final model from the tuned parameters, logged and registered
as the task's `challenger` (params: model, train)."""

from __future__ import annotations

import logging
import sys

from clm.models.train_stage import run_train


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_train(sys.argv[1])


if __name__ == "__main__":
    main()
