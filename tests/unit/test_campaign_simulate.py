"""Retention measures in the synthetic operator: common random numbers and true effects."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date

import numpy as np
import polars as pl
import pytest
from scipy import stats
from tests.params import repo_params

from clm.campaign.simulate import (
    Counterfactuals,
    churn_probability_under,
    measure_table,
    roll_forward,
    write_outcome,
)
from clm.data import contract
from clm.synthetic.generate import state_at
from clm.synthetic.lifecycle import (
    STABLE,
    STAGE_NAMES,
    SUNK,
    WARNING,
    churn_probability_within,
    warning_hazard,
)
from clm.synthetic.profile import load_profile
from clm.synthetic.usage import poisson_quantile

CONFIG = dataclasses.replace(
    repo_params().generate,
    seed=11,
    n_subscribers=4000,
    n_months=8,
    first_month="2024-01-01",
    cdma_share=0.4,
)
T = CONFIG.n_months - 1
HORIZON = 4
REASONS = contract.SURVEY_REASONS


@pytest.fixture(scope="module")
def state():
    return state_at(CONFIG, T)


@pytest.fixture(scope="module")
def world(state):
    return Counterfactuals(state, HORIZON, seed=5)


def _base(state, stage: int | None = None) -> np.ndarray:
    rows = state.active
    return rows if stage is None else rows[state.stage[rows] == stage]


def _assign(state, rows: np.ndarray, code: str) -> pl.DataFrame:
    ids = state.population.subscriber_id[rows]
    return pl.DataFrame({"subscriber_id": ids, "measure_code": [code] * ids.size})


def _with_measure(**changes):
    """The default profile with DM001 changed as given."""
    profile = load_profile()
    measure = dataclasses.replace(profile.measures["DM001"], **changes)
    return dataclasses.replace(profile, measures={**profile.measures, "DM001": measure})


def _usage(rollout_of) -> pl.DataFrame:
    frames: list[pl.DataFrame] = []
    rollout = rollout_of(frames.append)
    return rollout, pl.concat(frames).sort("subscriber_id", "month")


def test_a_measure_without_effect_reproduces_the_untreated_world_exactly(state):
    inert = _with_measure(
        offer_discount_share=0.0,
        acceptance=1.0,
        hazard_multiplier={},
        default_hazard_multiplier=1.0,
        contract_expiry_multiplier=1.0,
        stable_prompt_leave_share=0.0,
    )
    everyone = _assign(state, _base(state), "DM001")
    empty = everyone.clear()
    untreated, untreated_usage = _usage(
        lambda sink: roll_forward(state, empty, HORIZON, 5, inert, sink)
    )
    treated, treated_usage = _usage(
        lambda sink: roll_forward(state, everyone, HORIZON, 5, inert, sink)
    )
    assert treated.accepted.all()
    assert treated_usage.equals(untreated_usage)
    assert np.array_equal(treated.churn_step, untreated.churn_step)
    assert treated.churn_events.equals(untreated.churn_events)
    assert np.array_equal(treated.value_yuan, untreated.value_yuan)


def test_only_the_treatment_separates_a_subscriber_from_its_counterfactual(state):
    profile = _with_measure(stable_prompt_leave_share=0.0)
    warning = _base(state, WARNING)
    assignment = _assign(state, warning[::2], "DM001")
    untreated, untreated_usage = _usage(
        lambda sink: roll_forward(state, assignment.clear(), HORIZON, 5, profile, sink)
    )
    treated, treated_usage = _usage(
        lambda sink: roll_forward(state, assignment, HORIZON, 5, profile, sink)
    )
    untouched = treated.subscriber_id[~treated.accepted]
    keep = pl.col("subscriber_id").is_in(untouched.tolist())
    assert treated_usage.filter(keep).equals(untreated_usage.filter(keep))
    assert np.array_equal(
        treated.churn_step[~treated.accepted], untreated.churn_step[~treated.accepted]
    )
    accepted = treated.accepted
    assert accepted.sum() > 50
    # the measure only saves: no accepted customer leaves who would have stayed
    assert not (treated.churned & ~untreated.churned)[accepted].any()
    assert (untreated.churned & ~treated.churned)[accepted].sum() > 5


def test_sim_flipping_cards_are_never_saved(state, world):
    sunk = _base(state, SUNK)
    assert sunk.size > 20
    for code in ("DM001", "DS001", "DM002", "RA001"):
        effects = world.effects(_assign(state, sunk, code))
        assert (effects["churned_if_treated"] == effects["churned_if_untreated"]).all()
        assert (effects["true_effect"] == 0).all()


def _mean_effect(state, rows, code: str) -> float:
    measure = np.full(rows.size, measure_table(load_profile()).codes.index(code))
    profile = load_profile()
    untreated = churn_probability_under(state, rows, measure, HORIZON, profile, treated=False)
    treated = churn_probability_under(state, rows, measure, HORIZON, profile, treated=True)
    return float(np.mean(untreated - treated))


def _warning_with(state, reason: str) -> np.ndarray:
    warning = _base(state, WARNING)
    return warning[state.reason[warning] == REASONS.index(reason)]


def test_each_measure_helps_the_churners_it_addresses_most(state):
    def effect(code: str, reason: str) -> float:
        return _mean_effect(state, _warning_with(state, reason), code)

    assert effect("DM001", "price") > 2 * effect("DM001", "coverage_quality") > 0
    assert effect("DM001", "brand_image") > effect("DM001", "coverage_quality")
    assert effect("DS001", "after_sales_service") > 2 * effect("DS001", "price") > 0
    # only through an ending contract, or a later warning for another reason
    assert effect("DM001", "malicious_arrears") < effect("DM001", "price") / 20


def test_contract_binding_helps_customers_whose_contract_is_ending(state):
    warning = _base(state, WARNING)
    to_end = state.population.contract_end_index[warning] - T
    ending = warning[(to_end >= 0) & (to_end < 3)]
    no_contract = warning[~state.population.has_contract[warning]]
    assert ending.size > 5
    assert _mean_effect(state, ending, "DM002") > 2 * _mean_effect(state, no_contract, "DM002")


def test_contacting_stable_customers_prompts_a_few_to_leave(state, world):
    profile = _with_measure(acceptance=0.0, stable_prompt_leave_share=0.05)
    stable = _base(state, STABLE)
    measure = np.full(stable.size, measure_table(profile).codes.index("DM001"))
    untreated = churn_probability_under(state, stable, measure, HORIZON, profile, False)
    treated = churn_probability_under(state, stable, measure, HORIZON, profile, True)
    assert (treated >= untreated).all() and (treated > untreated).mean() > 0.99
    assignment = _assign(state, stable, "DM001")
    before = roll_forward(state, assignment.clear(), HORIZON, 5, profile)
    after = roll_forward(state, assignment, HORIZON, 5, profile)
    driven_out = (after.churned & ~before.churned).sum()
    assert driven_out > 0 and not (before.churned & ~after.churned).any()


def test_without_a_measure_the_chain_is_the_oracles(state):
    rows = _base(state)
    population = state.population
    hazards = np.stack(
        [
            warning_hazard(
                population.base_hazard[rows],
                population.is_g[rows],
                T + step - population.join_index[rows],
                np.where(
                    population.has_contract[rows],
                    population.contract_end_index[rows] - T - step,
                    np.nan,
                ),
                load_profile(),
            )
            for step in range(HORIZON)
        ]
    )
    oracle = churn_probability_within(state.stage[rows], hazards, load_profile().transitions)
    chain = churn_probability_under(
        state, rows, np.zeros(rows.size, int), HORIZON, load_profile(), treated=False
    )
    np.testing.assert_allclose(chain, oracle, rtol=1e-12, atol=1e-15)


def test_the_exact_true_effect_matches_the_realised_one_on_average(state, world):
    effects = world.effects(_assign(state, _base(state, WARNING), "DS001"))
    realised = effects["churned_if_untreated"].cast(int) - effects["churned_if_treated"].cast(int)
    standard_error = realised.std() / np.sqrt(effects.height)
    assert abs(realised.mean() - effects["true_effect"].mean()) < 4 * standard_error


def test_offers_lower_the_bill_only_of_customers_who_accept(state):
    warning = _base(state, WARNING)
    assignment = _assign(state, warning, "DM001")
    _, before = _usage(
        lambda sink: roll_forward(state, assignment.clear(), 1, 5, load_profile(), sink)
    )
    after_rollout, after = _usage(
        lambda sink: roll_forward(state, assignment, 1, 5, load_profile(), sink)
    )
    accepted_ids = after_rollout.subscriber_id[after_rollout.accepted].tolist()
    both = before.join(after, on=["subscriber_id", "month"], suffix="_treated")
    on_offer = both.filter(pl.col("subscriber_id").is_in(accepted_ids))
    assert on_offer.height > 0
    discount = load_profile().measures["DM001"].offer_discount_share
    expected = on_offer["arpu"] * (1 - discount)
    np.testing.assert_allclose(on_offer["arpu_treated"], expected, atol=0.01)
    others = both.filter(~pl.col("subscriber_id").is_in(accepted_ids))
    assert (others["arpu_treated"] == others["arpu"]).all()


def test_a_policy_is_valued_net_of_its_contact_cost(state, world):
    assignment = _assign(state, _base(state, WARNING), "DS001")
    value = world.evaluate(assignment)
    effects = world.effects(assignment)
    retained = (effects["value_if_treated_yuan"] - effects["value_if_untreated_yuan"]).sum()
    assert value.contacted == assignment.height
    cost = load_profile().measures["DS001"].contact_cost_yuan
    assert value.contact_cost_yuan == pytest.approx(cost * assignment.height)
    assert value.retained_value_yuan == pytest.approx(retained, abs=0.01)
    assert value.net_value_yuan == pytest.approx(retained - value.contact_cost_yuan, abs=0.01)
    assert world.evaluate(assignment.clear()).net_value_yuan == 0


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        (pl.DataFrame({"subscriber_id": [1], "measure_code": ["DM001"]}), "without usage"),
        (pl.DataFrame({"subscriber_id": [None], "measure_code": ["XX999"]}), "unknown or null"),
        (pl.DataFrame({"subscriber_id": [1]}), "missing column"),
    ],
)
def test_a_bad_assignment_fails_naming_its_column(state, assignment, message):
    with pytest.raises(ValueError, match=message):
        roll_forward(state, assignment, HORIZON, 5)


def test_a_subscriber_assigned_twice_is_refused(state):
    twice = _assign(state, _base(state)[[0, 0]], "DM001")
    with pytest.raises(ValueError, match="'subscriber_id' must be unique"):
        roll_forward(state, twice, HORIZON, 5)


def _plan(state, month: date) -> pl.DataFrame:
    rows = _base(state)[:600]
    ids = state.population.subscriber_id[rows]
    arm = np.array(["treatment", "control", "untargeted"])[np.arange(ids.size) % 3]
    return pl.DataFrame(
        {
            "subscriber_id": ids,
            "month": [month] * ids.size,
            "arm": arm,
            "measure_code": np.where(arm == "treatment", "DS001", None),
        }
    )


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_the_outcome_stage_writes_raw_tables_without_truth_and_repeats_itself(state, tmp_path):
    plan_path = tmp_path / "plan.parquet"
    _plan(state, date(2024, 8, 1)).write_parquet(plan_path)
    for run in ("a", "b"):
        write_outcome(CONFIG, plan_path, tmp_path / run / "outcome", tmp_path / run / "truth", 3)
    assert _digest(tmp_path / "a" / "outcome") == _digest(tmp_path / "b" / "outcome")
    assert _digest(tmp_path / "a" / "truth") == _digest(tmp_path / "b" / "truth")

    outcome = tmp_path / "a" / "outcome"
    assert sorted(p.name for p in outcome.iterdir()) == [
        "churn_events.parquet",
        "usage_monthly.parquet",
    ]
    usage = pl.read_parquet(outcome / "usage_monthly.parquet")
    churn = pl.read_parquet(outcome / "churn_events.parquet")
    assert dict(usage.schema) == contract.USAGE_MONTHLY
    assert dict(churn.schema) == contract.CHURN_EVENTS
    months_after_t = [date(2024, 9, 1), date(2024, 10, 1), date(2024, 11, 1)]
    assert sorted(usage["month"].unique()) == months_after_t
    truth = pl.read_parquet(tmp_path / "a" / "truth" / "campaign_effects.parquet")
    assert truth.height == 200 and set(truth["measure_code"]) == {"DS001"}
    truth_only = set(truth.columns) - {"subscriber_id", "measure_code"}
    assert not truth_only & (set(usage.columns) | set(churn.columns))


def test_a_plan_outside_the_window_is_refused(state, tmp_path):
    plan_path = tmp_path / "plan.parquet"
    _plan(state, date(2030, 1, 1)).write_parquet(plan_path)
    with pytest.raises(ValueError, match=r"plan.parquet: column 'month'"):
        write_outcome(CONFIG, plan_path, tmp_path / "outcome", tmp_path / "truth", 3)


def test_poisson_quantile_is_the_exact_inverse_cdf():
    rng = np.random.default_rng(0)
    uniform = rng.random(20_000)
    mean = np.exp(rng.uniform(-4, 7, 20_000))
    mean[:50] = 0.0
    assert np.array_equal(poisson_quantile(uniform, mean), stats.poisson.ppf(uniform, mean))


def test_every_measure_the_scorer_can_recommend_has_a_true_effect():
    assert len(measure_table(load_profile()).codes) == 38
    broken = _with_measure(hazard_multiplier={"no_such_reason": 0.5})
    with pytest.raises(ValueError, match="DM001: unknown reasons"):
        measure_table(broken)


def test_the_replayed_state_is_the_world_of_the_raw_tables(small_data):
    month = 9
    state = state_at(small_data.config, month)
    first = np.datetime64(small_data.config.first_month, "M")
    in_month = pl.col("month") == (first + month).astype("datetime64[D]").item()
    stages = small_data.stages.filter(in_month).sort("subscriber_id")
    usage = small_data.usage.filter(in_month).sort("subscriber_id")
    active = state.active
    assert np.array_equal(state.population.subscriber_id[active], usage["subscriber_id"])
    assert np.array_equal(np.array(STAGE_NAMES)[state.stage[active]], stages["stage"])


def test_a_plan_naming_a_subscriber_without_usage_in_t_is_refused(state, tmp_path):
    plan = _plan(state, date(2024, 8, 1))
    plan = plan.with_columns(subscriber_id=pl.col("subscriber_id") + 10_000_000)
    plan.write_parquet(tmp_path / "plan.parquet")
    with pytest.raises(ValueError, match=r"plan.parquet: assignment: column 'subscriber_id'"):
        write_outcome(CONFIG, tmp_path / "plan.parquet", tmp_path / "out", tmp_path / "truth", 3)


def test_a_plan_with_an_unknown_arm_is_refused(state, tmp_path):
    plan = _plan(state, date(2024, 8, 1)).with_columns(arm=pl.lit("treated"))
    plan.write_parquet(tmp_path / "plan.parquet")
    with pytest.raises(ValueError, match=r"plan.parquet: column 'arm' has values \['treated'\]"):
        write_outcome(CONFIG, tmp_path / "plan.parquet", tmp_path / "out", tmp_path / "truth", 3)
