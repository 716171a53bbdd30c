"""Fixtures shared by the pipeline tests: registries built once per session, which tests copy
before they write (``tests.mlflow_store.copy_store``)."""

from __future__ import annotations

import mlflow
import pytest
from tests.mlflow_store import copy_store, tracking_uri
from tests.pipeline.promotion_support import log_version
from tests.pipeline.scorer_support import TinyScorer, build_tiny_scorer


@pytest.fixture(scope="session")
def tiny_scorer(small_split, trained_store, params, tmp_path_factory) -> TinyScorer:
    """The scorer artifact built once from the trained store's models."""
    folder = tmp_path_factory.mktemp("tiny_scorer")
    return build_tiny_scorer(small_split, trained_store, params, folder)


@pytest.fixture(scope="session")
def promotion_store(empty_store, tmp_path_factory):
    """A store with v1 weak, v2 good, v3 random churn versions, and their artifacts; returns
    its folder."""
    folder = tmp_path_factory.mktemp("registry")
    with tracking_uri(copy_store(empty_store, folder)):
        experiment = mlflow.create_experiment(
            "clm-promotion-test", artifact_location=(folder / "artifacts").as_uri()
        )
        mlflow.set_experiment(experiment_id=experiment)
        versions = [log_version(quality) for quality in ("weak", "good", "random")]
    assert versions == ["1", "2", "3"]
    return folder
