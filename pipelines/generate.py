"""DVC stage `generate`: the raw layer (params: generate, data but its outcome_folder).

By default the synthetic operator's raw tables and truth; with ``data.source: operator``
the operator's own tables, renamed and typed into the raw contract, and no truth (the
stages that need truth then skip, and say so).
"""

from __future__ import annotations

import logging
import shutil

from clm import paths
from clm.config import load_section
from clm.data.io import TableError, write_parquet_atomic, write_text_atomic
from clm.data.operator import DataConfig, import_operator_tables
from clm.synthetic.generate import GenerateConfig, write_dataset

NO_TRUTH_NOTE = "No truth: the raw tables are an operator's own data.\n"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    data = load_section(DataConfig, "data")
    if data.source == "operator":
        try:
            tables = import_operator_tables(data.operator)
        except TableError as error:
            raise SystemExit(f"generate failed: {error}") from error
        for name, frame in tables.items():
            write_parquet_atomic(frame, paths.RAW_DIR / f"{name}.parquet")
        shutil.rmtree(paths.TRUTH_DIR, ignore_errors=True)
        write_text_atomic(NO_TRUTH_NOTE, paths.TRUTH_DIR / "README.txt")
        return
    config = load_section(GenerateConfig, "generate")
    write_dataset(
        config, paths.RAW_DIR, paths.TRUTH_DIR, show_progress=config.n_subscribers >= 100_000
    )


if __name__ == "__main__":
    main()
