"""The repository's params.yaml, every section loaded: the one source of values for tests and
benchmarks, so they run what the pipeline runs. A test that needs another value says so with
``dataclasses.replace(repo_params().split, train_months=3)``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from clm import paths
from clm.campaign.config import CampaignConfig
from clm.config import from_dict, read_params
from clm.data.operator import DataConfig
from clm.data.validate import ValidateConfig
from clm.explain.drivers import ExplainConfig
from clm.explain.reason_model import ReasonModelConfig
from clm.features.build import FeatureConfig
from clm.labels import LabelConfig
from clm.models.tasks import ModelConfig, TrainConfig
from clm.models.tune import TuneConfig
from clm.monitoring.config import MonitorConfig
from clm.promotion.gates import PromoteConfig
from clm.scoring.batches import ScoringConfig
from clm.snapshot.pipeline import SnapshotConfig
from clm.split import SplitConfig
from clm.synthetic.generate import GenerateConfig

REPO_PARAMS = Path(__file__).resolve().parents[1] / paths.PARAMS


@dataclass(frozen=True)
class Params:
    """One field per params.yaml section; a section without a field here is an error."""

    data: DataConfig
    generate: GenerateConfig
    validate: ValidateConfig
    features: FeatureConfig
    labels: LabelConfig
    split: SplitConfig
    model: ModelConfig
    tune: TuneConfig
    train: TrainConfig
    explain: ExplainConfig
    reasons: ReasonModelConfig
    promote: PromoteConfig
    scoring: ScoringConfig
    snapshot: SnapshotConfig
    monitor: MonitorConfig
    campaign: CampaignConfig


@cache
def repo_params(path: Path = REPO_PARAMS) -> Params:
    """Every section of ``path`` (the repository's params.yaml), read once."""
    return from_dict(Params, read_params(path), where=str(path))


def write_params(path: Path, **changes: dict) -> Path:
    """The repository's params.yaml copied to ``path`` (for a stage or CLI run in a temp dir),
    with each named section's keys updated from ``changes``."""
    values = read_params(REPO_PARAMS)
    for section, keys in changes.items():
        values[section] |= keys
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path
