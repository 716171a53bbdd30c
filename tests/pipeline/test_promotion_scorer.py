"""Gated promotion of the scorer: its churn part and its stage part, each against the champion
scorer's, on the same test month, then rollback.

The challengers are copies of the tiny scorer artifact with one part swapped for a model
trained on shuffled labels, registered as new clm-scorer versions in a copy of its store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest
import xgboost as xgb
from mlflow import MlflowClient
from mlflow.models import Model
from promotion_support import champion_of, history_of
from tests.mlflow_store import copy_store, tracking_uri

from clm.models.splits import read_part
from clm.models.trained import TrainedModel
from clm.promotion.gates import MetricGate, PromoteConfig
from clm.promotion.promote import PromotionInputs, promote
from clm.promotion.rollback import rollback
from clm.registry import CHALLENGER, REGISTERED_MODELS
from clm.scoring.pyfunc import CHURN_ARTIFACT, STAGE_ARTIFACT

pytestmark = pytest.mark.slow

NAME = REGISTERED_MODELS["scorer"]
# No absolute limits: tiny models on 3,000 subscribers; the margins are what is tested here.
CONFIG = PromoteConfig(
    lease_seconds=30,
    lock_wait_seconds=20,
    metrics={  # the scorer's churn part is gated on churn's metrics, its stage part on stage's
        "churn": {
            "roc_auc": MetricGate(tolerance=0.005),
            "top_decile_lift": MetricGate(tolerance=0.10),
            "brier": MetricGate(tolerance=0.002),
            "ece": MetricGate(tolerance=0.01),
        },
        "stage": {"macro_f1": MetricGate(tolerance=0.005)},
    },
)


def with_shuffled_part(scorer: Path, artifact: str, split, out: Path) -> Path:
    """A copy of the scorer artifact whose ``artifact`` model learned shuffled labels."""
    shutil.copytree(scorer, out)
    folder = out / Model.load(out).flavors["python_function"]["artifacts"][artifact]["path"]
    model = TrainedModel.load(folder)
    train = read_part("train", model.task, split.split_dir)
    labels = np.random.default_rng(0).permutation(model.task.labels(train))
    booster = xgb.train(
        model.task.xgb_params({"max_depth": 1}, "cpu", 0),
        xgb.DMatrix(model.encoder.transform(train), labels),
        num_boost_round=3,
    )
    TrainedModel(model.task, booster, model.encoder).save(folder)
    return out


@pytest.fixture
def client(tiny_scorer, small_split, tmp_path):
    """A copy of the tiny scorer's store: v1 the scorer, v2 a shuffled churn part, v3 a
    shuffled stage part, v4 the scorer again."""
    with tracking_uri(copy_store(tiny_scorer.root, tmp_path)):
        client = MlflowClient()
        original = client.get_model_version(NAME, tiny_scorer.version)
        for artifact in (CHURN_ARTIFACT, STAGE_ARTIFACT):
            copy = with_shuffled_part(tiny_scorer.path, artifact, small_split, tmp_path / artifact)
            client.create_model_version(NAME, str(copy), run_id=None)
        client.create_model_version(NAME, original.source, run_id=original.run_id)
        yield client


@pytest.fixture
def inputs(small_split, tmp_path):
    (tmp_path / "validation.json").write_text('{"clean": true}\n', encoding="utf-8")
    (tmp_path / "drivers.html").write_text("<html>drivers</html>\n", encoding="utf-8")
    return PromotionInputs(
        small_split.split_dir, tmp_path / "validation.json", tmp_path / "drivers.html"
    )


def failed(decision) -> set[str]:
    return {gate.key for gate in decision.gates if not gate.passed}


def test_scorer_parts_are_gated_against_the_champion_scorer(client, inputs):
    assert mlflow.get_tracking_uri().startswith("sqlite:")
    first = promote("scorer", CONFIG, inputs)  # v1, the challenger alias after export
    assert first.promoted and champion_of(client, NAME) == "1"
    assert {gate.key for gate in first.gates} >= {"roc_auc.margin", "macro_f1.margin"}

    churn_shuffled = promote("scorer", CONFIG, inputs, version="2")
    assert not churn_shuffled.promoted
    assert "roc_auc.margin" in failed(churn_shuffled)
    assert "macro_f1.margin" not in failed(churn_shuffled)

    stage_shuffled = promote("scorer", CONFIG, inputs, version="3")
    assert not stage_shuffled.promoted
    assert failed(stage_shuffled) == {"macro_f1.margin"}

    client.set_registered_model_alias(NAME, CHALLENGER, "4")
    assert promote("scorer", CONFIG, inputs).promoted
    assert champion_of(client, NAME) == "4"
    assert rollback("scorer", CONFIG, reason="drill").to_version == "1"
    assert champion_of(client, NAME) == "1"
    assert history_of(client, NAME) == [
        ("promote", None, "1"), ("promote", "1", "4"), ("rollback", "4", "1"),
    ]  # fmt: skip
