"""A trained model as it travels between stages: booster, encoder and optional calibrator.

Stored in XGBoost's own JSON-based UBJ format plus two small JSON files, never pickled, so
any XGBoost of the same major version can read it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
import xgboost as xgb

from clm.data.io import write_together
from clm.models.calibration import PlattCalibrator
from clm.models.encoding import FeatureEncoder
from clm.models.tasks import TASKS, Task, predict

BOOSTER_FILE = "model.ubj"
META_FILE = "model.json"


@dataclass(frozen=True)
class TrainedModel:
    task: Task
    booster: xgb.Booster
    encoder: FeatureEncoder
    calibrator: PlattCalibrator | None = None

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Churn probability (n,) or stage probabilities (n, 4) for a feature table."""
        prob = predict(self.booster, self.encoder.transform(frame))
        return self.calibrator.apply(prob) if self.calibrator else prob

    def meta(self) -> dict:
        """Everything but the booster, as JSON-ready data (saved beside it, logged to MLflow)."""
        return {
            "task": self.task.name,
            "label_column": self.task.label_column,
            "encoder": self.encoder.to_dict(),
            "calibrator": asdict(self.calibrator) if self.calibrator else None,
        }

    @classmethod
    def from_meta(cls, booster: xgb.Booster, meta: dict) -> TrainedModel:
        calibrator = meta["calibrator"]
        return cls(
            task=replace(TASKS[meta["task"]], label_column=meta["label_column"]),
            booster=booster,
            encoder=FeatureEncoder.from_dict(meta["encoder"]),
            calibrator=PlattCalibrator(**calibrator) if calibrator else None,
        )

    def save(self, folder: Path) -> None:
        """Write the booster and its meta into ``folder``, both new or both old."""
        with self.saved_with(folder):
            pass

    @contextmanager
    def saved_with(self, folder: Path, *others: Path) -> Iterator[tuple[Path, ...]]:
        """Save into ``folder`` in one commit with ``others`` (``write_together``), e.g. the
        registration of this very model: yields the staging paths of ``others`` for the
        caller to write, and if the block fails, every file stays as it was."""
        with write_together(folder / BOOSTER_FILE, folder / META_FILE, *others) as staged:
            booster, meta, *rest = staged
            self.booster.save_model(booster)
            meta.write_text(json.dumps(self.meta(), indent=2) + "\n", encoding="utf-8")
            yield tuple(rest)

    @classmethod
    def load(cls, folder: Path) -> TrainedModel:
        booster = xgb.Booster()
        booster.load_model(folder / BOOSTER_FILE)
        return cls.from_meta(booster, json.loads((folder / META_FILE).read_text(encoding="utf-8")))
