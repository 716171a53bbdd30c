"""Reading the out-of-time split parts the way every model stage needs them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from mlflow.entities import DatasetInput

from clm import paths
from clm.models.tasks import Task
from clm.tracking import dataset_input


def read_part(
    part: str, task: Task | None = None, split_dir: Path = paths.SPLIT_DIR
) -> pl.DataFrame:
    """One split part; with a task, only the rows labelled for it."""
    frame = pl.read_parquet(split_dir / f"{part}.parquet")
    return frame if task is None else frame.filter(pl.col(task.label_column).is_not_null())


DATASET_CONTEXTS = {"train": "training", "valid": "validation", "test": "test"}


def split_inputs(parts: dict[str, pl.DataFrame]) -> list[DatasetInput]:
    """Split parts as MLflow dataset inputs, each with its file under data/split."""
    return [
        dataset_input(paths.SPLIT_DIR / f"{part}.parquet", frame, DATASET_CONTEXTS[part])
        for part, frame in parts.items()
    ]
