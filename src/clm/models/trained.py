"""A trained model as it travels between stages: booster, encoder and optional calibrator.

Stored in XGBoost's own JSON-based UBJ format plus two small JSON files, never pickled, so
any XGBoost of the same major version can read it back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
import xgboost as xgb

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
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(folder / BOOSTER_FILE)
        text = json.dumps(self.meta(), indent=2) + "\n"
        (folder / META_FILE).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> TrainedModel:
        booster = xgb.Booster()
        booster.load_model(folder / BOOSTER_FILE)
        return cls.from_meta(booster, json.loads((folder / META_FILE).read_text(encoding="utf-8")))
