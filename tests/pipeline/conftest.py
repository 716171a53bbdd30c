"""Fixtures shared by the pipeline tests."""

from __future__ import annotations

import pytest
from tests.pipeline.scorer_support import TinyScorer, build_tiny_scorer


@pytest.fixture(scope="session")
def tiny_scorer(small_split, params, tmp_path_factory) -> TinyScorer:
    """The scorer artifact built once from tiny models on the small split."""
    return build_tiny_scorer(small_split, params, tmp_path_factory.mktemp("tiny_scorer"))
