"""DVC stage `train_reasons`: the reason model from past churners' recorded reasons, blended
with the TreeSHAP category shares (params: reasons)."""

from __future__ import annotations

import logging

from clm.config import load_section
from clm.explain.reason_model import ReasonModelConfig
from clm.explain.reason_stage import run_train_reasons


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_train_reasons(load_section(ReasonModelConfig, "reasons"))


if __name__ == "__main__":
    main()
