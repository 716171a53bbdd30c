"""The scorer artifact end to end: export, `clm score` in batches, quarantine, a fresh process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import asdict, replace

import mlflow
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient
from polars.testing import assert_frame_equal
from tests.operator_export import THEIR_CODES, clm_values, their_mappings, write_operator_export
from tests.params import repo_params, write_params
from tests.pipeline.scorer_support import assert_every_subscriber_accounted_for, with_history_gaps
from typer.testing import CliRunner, Result

from clm.cli import app
from clm.data.contract import PLAUSIBLE_MAX, SUBSCRIBERS, USAGE_MONTHLY
from clm.data.io import STAGING_PREFIX
from clm.data.validate import FAILED_CHECKS
from clm.domain.stages import STAGES
from clm.domain.taxonomy import load_taxonomy
from clm.explain.reason_model import ReasonModel
from clm.months import add_months
from clm.scoring.batches import load_scorer_from, score_input
from clm.scoring.export import EXAMPLE_SUBSCRIBERS, input_example
from clm.scoring.pyfunc import InvalidInputError
from clm.scoring.score import OUTPUT_SCHEMA, STAGE_PROBABILITY, Scorer

pytestmark = pytest.mark.slow  # trains two tiny models and exports them once per session

# Small batches, so the tests cross batch boundaries (about 15 subscribers-months each).
BATCHED = replace(repo_params().scoring, batch_rows=6_000)


@pytest.fixture(scope="module")
def scored(tiny_scorer, tmp_path_factory):
    """The tiny scorer's output for the latest month, scored in batches."""
    output = tmp_path_factory.mktemp("scored") / "scores.parquet"
    summary = score_input(
        tiny_scorer.frame.lazy(), load_scorer_from(str(tiny_scorer.path)), output, BATCHED
    )
    return summary, output


def test_scores_every_subscriber_of_the_month_with_the_contract(tiny_scorer, scored):
    summary, output = scored
    scores = pl.read_parquet(output)
    month = tiny_scorer.frame["month"].max()
    expected_ids = tiny_scorer.frame.filter(pl.col("month") == month)["subscriber_id"].sort()
    assert summary.scoring_month == month
    assert summary.rows_quarantined == 0
    assert scores.schema == pl.Schema(OUTPUT_SCHEMA)
    assert scores["subscriber_id"].to_list() == expected_ids.to_list()
    assert (scores["scoring_month"] == month).all()
    assert scores["churn_probability"].is_between(0.0, 1.0).all()
    stage_sum = scores.select(pl.sum_horizontal(STAGE_PROBABILITY)).to_series()
    assert (stage_sum - 1.0).abs().max() < 1e-5
    argmax = scores.select(pl.concat_list(STAGE_PROBABILITY).list.arg_max()).to_series()
    assert scores["stage"].to_list() == [STAGES[i] for i in argmax]


def test_risk_deciles_rank_the_whole_month_not_a_batch(scored):
    _, output = scored
    scores = pl.read_parquet(output)
    counts = scores["risk_decile"].value_counts()["count"]
    assert scores["risk_decile"].unique().sort().to_list() == list(range(1, 11))
    assert counts.max() - counts.min() <= 1
    by_decile = scores.group_by("risk_decile").agg(
        low=pl.col("churn_probability").min(), high=pl.col("churn_probability").max()
    )
    ordered = by_decile.sort("risk_decile")
    # every decile's lowest risk is at least the next decile's highest
    assert (ordered["low"].head(9) >= ordered["high"].tail(9)).all()


def test_measures_and_budget_caps_follow_the_rules(tiny_scorer, scored):
    _, output = scored
    scores = pl.read_parquet(output)
    taxonomy, budget = load_taxonomy(), repo_params().scoring.budget
    multiple = budget.winback_acpu_multiple
    for row in (
        scores.filter(pl.col("reason_1_cause").is_not_null()).head(200).iter_rows(named=True)
    ):
        expected = taxonomy.measures_for(row["stage"], row["reason_1_cause"], row["value_tier"])
        assert tuple(row["measure_codes"]) == expected
    assert scores.filter(pl.col("reason_1_cause").is_null())["measure_codes"].list.len().sum() == 0
    low = scores.filter(pl.col("value_tier") == "low")
    assert low["maintenance_cap_yuan"].is_null().all() and low["winback_cap_yuan"].is_null().all()
    high = scores.filter(pl.col("value_tier") == "high")
    assert (high["winback_cap_yuan"] == budget.acpu_yuan * multiple["high"]).all()
    groups = scores.filter(pl.col("value_tier") == "group")
    assert groups.height > 0
    sizes = (
        tiny_scorer.frame.filter(
            pl.col("month") == tiny_scorer.frame["month"].max(), pl.col("is_group")
        )
        .group_by("group_id")
        .len()
    )
    assert set(groups["group_size"].to_list()) <= set(sizes["len"].to_list())
    assert (
        groups["winback_cap_yuan"] == groups["group_size"] * budget.acpu_yuan * multiple["group"]
    ).all()


def test_same_input_scored_twice_gives_the_same_bytes(tiny_scorer, scored, tmp_path):
    _, first = scored
    again = tmp_path / "again.parquet"
    score_input(tiny_scorer.frame.lazy(), load_scorer_from(str(tiny_scorer.path)), again, BATCHED)
    assert again.read_bytes() == first.read_bytes()


def test_plain_load_model_in_a_new_process_reproduces_the_batched_scores(
    tiny_scorer, scored, tmp_path
):
    """The registered alias, loaded by plain MLflow in a fresh interpreter, whole month at once."""
    _, output = scored
    input_path, result = tmp_path / "input.parquet", tmp_path / "pyfunc.parquet"
    tiny_scorer.frame.write_parquet(input_path)
    code = textwrap.dedent(
        f"""
        import mlflow, pandas as pd
        model = mlflow.pyfunc.load_model("models:/clm-scorer@challenger")
        model.predict(pd.read_parquet({str(input_path)!r})).to_parquet({str(result)!r})
        """
    )
    env_run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tiny_scorer.root,
        env={**os.environ, "MLFLOW_TRACKING_URI": tiny_scorer.tracking_uri},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert env_run.returncode == 0, env_run.stderr[-3000:]
    fresh = pl.read_parquet(result).with_columns(pl.col("scoring_month").cast(pl.Date))
    # Probabilities agree exactly; TreeSHAP contributions are float32 sums, whose last bit
    # depends on how XGBoost splits the rows among threads.
    assert_frame_equal(fresh, pl.read_parquet(output), check_dtypes=False, abs_tol=1e-6)
    assert fresh["churn_probability"].equals(pl.read_parquet(output)["churn_probability"])


def test_registered_as_scorer_challenger_with_provenance(tiny_scorer):
    client = MlflowClient(tracking_uri=tiny_scorer.tracking_uri)
    version = client.get_model_version_by_alias("clm-scorer", "challenger")
    assert str(version.version) == tiny_scorer.version
    assert version.tags["git_commit"] == "test"
    info = mlflow.models.get_model_info(str(tiny_scorer.path))
    assert info.signature.params.to_dict()[0]["name"] == "scoring_month"
    assert [spec.name for spec in info.signature.outputs.inputs] == list(OUTPUT_SCHEMA)
    assert not list(tiny_scorer.path.rglob("*.pkl"))


def test_the_reason_model_travels_with_the_scorer_and_ranks_its_reasons(tiny_scorer, scored):
    scorer = load_scorer_from(str(tiny_scorer.path))
    assert scorer.reasons is not None and scorer.reasons.booster is not None
    saved = ReasonModel.load(tiny_scorer.root / "models" / "reasons")
    assert scorer.reasons.weight == saved.weight
    # the reasons written are those the packaged model ranks: every customer with a reason
    _, output = scored
    frame = pl.read_parquet(output)
    treeshap_only = replace(scorer, reasons=None)
    month = tiny_scorer.frame["month"].max()
    alone = treeshap_only.score(
        tiny_scorer.frame, treeshap_only.month_stats(tiny_scorer.frame, month)
    )
    assert frame["reason_1_category"].null_count() <= alone["reason_1_category"].null_count()
    if scorer.reasons.weight > 0:
        assert not frame["reason_1_category"].equals(alone["reason_1_category"])


def test_bad_rows_are_quarantined_with_their_subscriber(tiny_scorer, tmp_path):
    frame = tiny_scorer.frame
    month = frame["month"].max()
    bad_arpu, bad_network = frame.filter(pl.col("month") == month)["subscriber_id"].head(2)
    broken = frame.with_columns(
        arpu=pl.when((pl.col("subscriber_id") == bad_arpu) & (pl.col("month") < month))
        .then(-5.0)
        .otherwise("arpu"),
        network=pl.when(pl.col("subscriber_id") == bad_network)
        .then(pl.lit("X"))
        .otherwise("network"),
    )
    output = tmp_path / "scores.parquet"
    summary = score_input(broken.lazy(), load_scorer_from(str(tiny_scorer.path)), output, BATCHED)
    quarantine = pl.read_parquet(tmp_path / "scores.quarantine.parquet")
    bad = {bad_arpu, bad_network}
    assert set(quarantine["subscriber_id"]) == bad
    assert quarantine.height == frame.filter(pl.col("subscriber_id").is_in(bad)).height
    assert summary.rows_quarantined == quarantine.height
    checks = set(quarantine[FAILED_CHECKS].explode())
    assert {"arpu:non_negative", "network:allowed_values"} <= checks
    scores = pl.read_parquet(output)
    assert not set(scores["subscriber_id"]) & bad
    assert scores.height == summary.subscribers_scored


def test_a_region_the_models_never_saw_is_quarantined_and_the_rest_scored(tiny_scorer, tmp_path):
    frame = tiny_scorer.frame
    month = frame["month"].max()
    newcomer = frame.filter(pl.col("month") == month)["subscriber_id"][0]
    moved = frame.with_columns(
        region=pl.when(pl.col("subscriber_id") == newcomer).then(pl.lit("新疆")).otherwise("region")
    )
    output = tmp_path / "scores.parquet"

    summary = score_input(moved.lazy(), load_scorer_from(str(tiny_scorer.path)), output, BATCHED)

    quarantine = pl.read_parquet(tmp_path / "scores.quarantine.parquet")
    assert set(quarantine["subscriber_id"]) == {newcomer}
    assert set(quarantine[FAILED_CHECKS].explode()) == {"region:unknown_to_model"}
    scores = pl.read_parquet(output)
    assert_every_subscriber_accounted_for(moved, month, scores, quarantine)
    assert summary.subscribers_scored == scores.height > 0


def test_the_input_example_holds_only_subscribers_the_scorer_accepts(tiny_scorer):
    frame = tiny_scorer.frame
    month = frame["month"].max()
    first = frame.filter(pl.col("month") == month)["subscriber_id"].min()
    moved = frame.with_columns(
        region=pl.when(pl.col("subscriber_id") == first).then(pl.lit("新疆")).otherwise("region")
    )

    example = input_example(moved, load_scorer_from(str(tiny_scorer.path)))

    assert first not in set(example["subscriber_id"])
    assert example.filter(pl.col("month") == month).height == EXAMPLE_SUBSCRIBERS


def test_a_subscriber_missing_a_window_month_is_quarantined_not_scored(tiny_scorer, tmp_path):
    frame, gap, only_t = with_history_gaps(tiny_scorer.frame)
    output = tmp_path / "scores.parquet"

    summary = score_input(frame.lazy(), load_scorer_from(str(tiny_scorer.path)), output, BATCHED)

    scores = pl.read_parquet(output)
    quarantine = pl.read_parquet(tmp_path / "scores.quarantine.parquet")
    assert set(quarantine["subscriber_id"]) == {gap, only_t}
    assert set(quarantine[FAILED_CHECKS].explode()) == {"month:history_gap"}
    assert summary.rows_in == frame.height and summary.rows_quarantined == quarantine.height
    assert_every_subscriber_accounted_for(frame, summary.scoring_month, scores, quarantine)
    assert (scores["imputed_months"] == 0).all()


def test_impute_policy_scores_a_gap_and_flags_the_imputed_months(tiny_scorer, tmp_path):
    frame, gap, only_t = with_history_gaps(tiny_scorer.frame)
    scorer = load_scorer_from(str(tiny_scorer.path))
    imputing = replace(scorer, features=replace(scorer.features, history_gaps="impute"))
    output = tmp_path / "scores.parquet"

    summary = score_input(frame.lazy(), imputing, output, BATCHED)

    scores = pl.read_parquet(output)
    assert summary.rows_quarantined == 0
    imputed = scores.filter(pl.col("imputed_months") > 0).select("subscriber_id", "imputed_months")
    assert sorted(imputed.rows()) == sorted([(gap, 1), (only_t, 6)])
    assert_every_subscriber_accounted_for(
        frame,
        summary.scoring_month,
        scores,
        pl.read_parquet(tmp_path / "scores.quarantine.parquet"),
    )


def test_an_implausible_value_is_quarantined_and_the_month_still_scored(tiny_scorer, tmp_path):
    frame = tiny_scorer.frame
    month = frame["month"].max()
    huge, trillion = frame.filter(pl.col("month") == month)["subscriber_id"].sort().tail(2)
    at_t = pl.col("month") == month
    broken = frame.with_columns(
        arpu=pl.when(at_t & (pl.col("subscriber_id") == huge))
        .then(1e308)  # finite: passes ``finite``, then overflows the features
        .when(at_t & (pl.col("subscriber_id") == trillion))
        .then(1e12)
        .otherwise("arpu")
    )
    output = tmp_path / "scores.parquet"

    summary = score_input(broken.lazy(), load_scorer_from(str(tiny_scorer.path)), output, BATCHED)

    scores = pl.read_parquet(output)
    quarantine = pl.read_parquet(tmp_path / "scores.quarantine.parquet")
    assert set(quarantine["subscriber_id"]) == {huge, trillion}
    assert "arpu:plausible_max" in set(quarantine[FAILED_CHECKS].explode())
    assert_every_subscriber_accounted_for(broken, month, scores, quarantine)
    assert summary.subscribers_scored == scores.height > 0
    largest_group = scores["group_size"].max() or 1
    assert scores["maintenance_cap_yuan"].max() <= 0.2 * PLAUSIBLE_MAX["arpu"] * largest_group


def test_cli_scores_csv_like_parquet_and_fails_clearly_on_bad_input(tiny_scorer, scored, tmp_path):
    _, parquet_scores = scored
    csv = tmp_path / "input.csv"
    tiny_scorer.frame.write_csv(csv)
    runner = CliRunner()
    params = write_params(tmp_path / "params.yaml", scoring={"batch_rows": 6000})
    args = ["score", "--scorer", str(tiny_scorer.path), "--params", str(params)]
    ok = runner.invoke(app, [*args, "--input", str(csv), "--out", str(tmp_path / "s.parquet")])
    assert ok.exit_code == 0, ok.output
    assert "subscribers scored" in ok.output and "by risk decile" in ok.output
    assert_frame_equal(pl.read_parquet(tmp_path / "s.parquet"), pl.read_parquet(parquet_scores))

    month = tiny_scorer.frame["month"].max()
    gap = tmp_path / "gap.parquet"
    tiny_scorer.frame.filter(pl.col("month") != add_months(month, -2)).write_parquet(gap)
    failed = runner.invoke(app, [*args, "--input", str(gap), "--out", str(tmp_path / "g.pq")])
    assert failed.exit_code == 2
    assert str(add_months(month, -2)) in failed.output

    no_column = tmp_path / "no_column.parquet"
    tiny_scorer.frame.drop("arpu").write_parquet(no_column)
    failed = runner.invoke(app, [*args, "--input", str(no_column), "--out", str(gap)])
    assert failed.exit_code == 2
    assert "arpu" in failed.output


def test_cli_scores_an_operators_own_tables_as_it_scores_the_contract(
    tiny_scorer, scored, tmp_path
):
    """CSV in the operator's names, codes and YYYYMM months, converted in batches by
    params.yaml's data.operator: the scores of the contract input; an unlisted code: one line."""
    _, contract_scores = scored
    frame = tiny_scorer.frame
    export = tmp_path / "export"
    raw_tables = {
        "usage_monthly": frame.select(list(USAGE_MONTHLY)),
        "subscribers": frame.select(list(SUBSCRIBERS)).unique("subscriber_id"),
    }
    write_operator_export(raw_tables, export, THEIR_CODES)
    out = tmp_path / "scores.parquet"

    def score_with(values: dict) -> Result:
        operator = replace(their_mappings(export), values=values)
        params = write_params(
            tmp_path / "params.yaml",
            data={"source": "operator", "operator": asdict(operator)},
            scoring={"batch_rows": 6000},
        )
        args = ["score", "--scorer", str(tiny_scorer.path), "--input", str(export)]
        return CliRunner().invoke(
            app, [*args, "--out", str(out), "--params", str(params), "--operator-tables"]
        )

    unlisted = clm_values(THEIR_CODES)
    del unlisted["subscribers"]["brand"]["神州行"]
    failed = score_with(unlisted)
    assert failed.exit_code == 2, failed.output
    last = failed.output.strip().splitlines()[-1]
    assert re.search(r"table 'subscribers', column 'brand'.*value_mapped.*'神州行'", last), last
    assert not out.exists()

    ok = score_with(clm_values(THEIR_CODES))
    assert ok.exit_code == 0, ok.output
    assert_frame_equal(pl.read_parquet(out), pl.read_parquet(contract_scores))


def with_bad_arpu(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with a negative arpu for its first subscriber, who is then quarantined."""
    first = frame["subscriber_id"].min()
    return frame.with_columns(
        arpu=pl.when(pl.col("subscriber_id") == first).then(-5.0).otherwise("arpu")
    )


def test_a_run_failing_mid_way_leaves_the_previous_scores_and_quarantine_together(
    tiny_scorer, tmp_path, monkeypatch
):
    folder = tmp_path / "scores"
    output = folder / "scores.parquet"
    scorer = load_scorer_from(str(tiny_scorer.path))
    score_input(tiny_scorer.frame.lazy(), scorer, output, BATCHED)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    score_batch, batches = Scorer.score_base, []

    def fail_on_the_second_batch(self, base, stats):
        batches.append(base.height)
        if len(batches) == 2:
            raise RuntimeError("killed mid-way")
        return score_batch(self, base, stats)

    with monkeypatch.context() as patch:  # clm score's second pass scores the kept features
        patch.setattr(Scorer, "score_base", fail_on_the_second_batch)
        with pytest.raises(RuntimeError, match="killed mid-way"):
            score_input(with_bad_arpu(tiny_scorer.frame).lazy(), scorer, output, BATCHED)

    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    killed = folder / f"{STAGING_PREFIX}killed"  # what a kill -9 leaves
    killed.mkdir()
    (killed / "scores.parquet").write_bytes(b"half a file")
    summary = score_input(with_bad_arpu(tiny_scorer.frame).lazy(), scorer, output, BATCHED)
    assert sorted(path.name for path in folder.iterdir()) == sorted(before)
    quarantine = pl.read_parquet(folder / "scores.quarantine.parquet")
    assert quarantine.height == summary.rows_quarantined > 0
    assert not set(pl.read_parquet(output)["subscriber_id"]) & set(quarantine["subscriber_id"])


def test_cli_turns_bad_input_into_one_line_naming_file_column_and_check(tiny_scorer, tmp_path):
    header_only = tmp_path / "header.csv"
    tiny_scorer.frame.head(0).write_csv(header_only)
    zero_bytes = tmp_path / "zero.parquet"
    zero_bytes.touch()
    invalid_utf8 = tmp_path / "utf8.parquet"
    table = tiny_scorer.frame.to_arrow()
    rows = table.num_rows
    offsets = pa.array(range(rows + 1), pa.int32()).buffers()[1]
    network = pa.Array.from_buffers(
        pa.string(), rows, [None, offsets, pa.py_buffer(b"\xff" * rows)]
    )
    pq.write_table(
        table.set_column(table.schema.get_field_index("network"), "network", network), invalid_utf8
    )
    month_input = tmp_path / "input.parquet"
    tiny_scorer.frame.write_parquet(month_input)
    cases = {
        (header_only, None): "check 'non_empty'",
        (zero_bytes, None): "check 'parquet_format'",
        (invalid_utf8, None): "column 'network', check 'readable'",
        (month_input, "2024-12"): "month '2024-12': expected YYYY-MM-01",
    }
    output = tmp_path / "scores.parquet"
    for (path, month), expected in cases.items():
        args = ["score", "--scorer", str(tiny_scorer.path), "--input", str(path)]
        args += ["--out", str(output), *(["--month", month] if month else [])]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        last = result.output.strip().splitlines()[-1]
        assert expected in last and (month or path.name in last), last
    assert not output.exists()


def pyfunc_input(frame: pl.DataFrame):
    """What a pyfunc caller sends: the pandas frame of scoring input."""
    return frame.sort("subscriber_id", "month").to_pandas()


def test_pyfunc_scores_a_batch_where_every_subscriber_is_in_a_group(tiny_scorer):
    grouped = tiny_scorer.frame.filter(pl.col("group_id").is_not_null())
    model_input = pyfunc_input(grouped)
    assert model_input["group_id"].dtype == "int64"

    scores = mlflow.pyfunc.load_model(str(tiny_scorer.path)).predict(model_input)

    month = grouped["month"].max()
    assert len(scores) == grouped.filter(pl.col("month") == month).height


def test_pyfunc_leaves_a_null_in_an_integer_column_to_clm_checks(tiny_scorer):
    frame = tiny_scorer.frame
    first = frame["subscriber_id"].min()
    with_null = frame.with_columns(
        calls_out=pl.when(pl.col("subscriber_id") == first).then(None).otherwise("calls_out")
    )
    model_input = pyfunc_input(with_null)
    assert model_input["calls_out"].dtype == "float64"

    with pytest.raises(InvalidInputError, match="calls_out"):
        mlflow.pyfunc.load_model(str(tiny_scorer.path)).predict(model_input)
