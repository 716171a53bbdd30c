"""DVC stage `generate`: the synthetic operator's raw tables and truth (params: generate)."""

from __future__ import annotations

import logging
from pathlib import Path

from clm.config import load_section
from clm.data.generate import GenerateConfig, write_dataset

RAW_DIR = Path("data/raw")
TRUTH_DIR = Path("data/truth")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_section(GenerateConfig, "generate")
    write_dataset(config, RAW_DIR, TRUTH_DIR, show_progress=config.n_subscribers >= 100_000)


if __name__ == "__main__":
    main()
