"""The same artifact on Spark (local mode) gives the single-machine scores, row for row."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from tests.params import repo_params
from tests.pipeline.scorer_support import assert_every_subscriber_accounted_for, with_history_gaps

from clm.data.validate import FAILED_CHECKS
from clm.scoring.batches import load_scorer_from, score_input
from clm.scoring.spark import local_session, score_spark, spark_frame

pytestmark = pytest.mark.slow  # starts a JVM

SUBSCRIBERS = 400


@pytest.fixture(scope="module")
def spark():
    session = local_session(cores=2)
    yield session
    session.stop()


def test_spark_scores_and_quarantines_like_the_single_machine_scorer(spark, tiny_scorer, tmp_path):
    ids = tiny_scorer.frame["subscriber_id"].unique().sort().head(SUBSCRIBERS)
    frame, gap, only_t = with_history_gaps(
        tiny_scorer.frame.filter(pl.col("subscriber_id").is_in(ids.implode()))
    )
    output = tmp_path / "scores.parquet"
    score_input(
        frame.lazy(),
        load_scorer_from(str(tiny_scorer.path)),
        output,
        replace(repo_params().scoring, batch_rows=1_000),
    )
    on_spark = score_spark(spark_frame(spark, frame), str(tiny_scorer.path), buckets=3)
    result = pl.from_arrow(on_spark.scores.toArrow()).sort("subscriber_id")
    expected = pl.read_parquet(output)
    quarantine = pl.from_arrow(on_spark.quarantine.toArrow())
    assert set(quarantine["subscriber_id"]) == {gap, only_t}
    assert set(quarantine[FAILED_CHECKS].explode()) == {"month:history_gap"}
    assert_every_subscriber_accounted_for(frame, frame["month"].max(), result, quarantine)
    assert result.height == expected.height > 100
    assert result["churn_probability"].equals(expected["churn_probability"])
    assert result["risk_decile"].cast(pl.Int8).equals(expected["risk_decile"])
    # TreeSHAP contributions are float32 sums: the last bit depends on XGBoost's threading.
    assert_frame_equal(result, expected, check_dtypes=False, abs_tol=1e-6)
