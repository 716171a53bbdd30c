"""Retention measures at work in the synthetic operator, and their counterfactual truth.

From the generator's latent state at the campaign month T, the base (every subscriber with
usage in T) is rolled forward month by month under an assignment of measures. All random
draws of a month come from one block of uniforms per month, one row per base subscriber
(common random numbers), so a treated subscriber's months differ from its untreated
counterfactual only through the measure: whether it is accepted, its factor on the
warning -> exit probability, its offer discount, and the contact's prompt to leave.

Only synthetic data has this truth. It goes to ``data/truth``, never to the raw tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from clm.data import contract
from clm.data.contract import DESTINATIONS, NETWORKS
from clm.data.io import parquet_stream, write_parquet_atomic
from clm.domain.taxonomy import load_taxonomy
from clm.synthetic.generate import (
    NO_REASON,
    GenerateConfig,
    WindowState,
    churn_events_frame,
    consume_contract,
    months_to_contract_end,
    reason_shares,
    state_at,
    usage_frame,
)
from clm.synthetic.lifecycle import (
    EXITED,
    GROWTH,
    STABLE,
    SUNK,
    WARNING,
    in_expiry_window,
    step_stages,
    warning_hazard,
)
from clm.synthetic.profile import GeneratorProfile, load_profile
from clm.synthetic.usage import LEVELS, draw_usage_from_uniforms, monthly_levels, signature_matrices

log = logging.getLogger(__name__)

# Keeps the campaign's random stream apart from the generator's own (issue 15).
CAMPAIGN_STREAM = 15
# Columns of a month's block of event uniforms.
U_TRANSITION, U_REASON, U_PROMPT, U_ACCEPT, U_DESTINATION = range(5)
NO_MEASURE = -1
PLAN_COLUMNS = ("subscriber_id", "month", "arm", "measure_code")
ARMS = ("treatment", "control", "untargeted")
# What stands where this module's truth would, on an operator's own data.
NO_TRUTH = (
    "no counterfactual truth: data.source is not synthetic, so nobody knows what the "
    "customers not contacted would have done; the pilot's measured uplift judges the plan"
)

UsageSink = Callable[[pl.DataFrame], None]


@dataclass(frozen=True)
class MeasureTable:
    """The profile's measures as arrays indexed by measure number (``codes`` order)."""

    codes: tuple[str, ...]
    contact_cost_yuan: np.ndarray
    offer_discount_share: np.ndarray
    offer_months: np.ndarray
    acceptance: np.ndarray
    effect_months: np.ndarray
    reason_multiplier: np.ndarray  # (measures, len(SURVEY_REASONS))
    contract_expiry_multiplier: np.ndarray
    stable_prompt_leave_share: np.ndarray
    expiry_window: tuple[int, int]  # the profile's hazard.contract_expiry_window


def measure_table(profile: GeneratorProfile) -> MeasureTable:
    """Arrays of the profile's measures; every taxonomy measure must have one, and no more."""
    known = set(load_taxonomy().measures)
    missing, unknown = sorted(known - set(profile.measures)), sorted(set(profile.measures) - known)
    if missing or unknown:
        raise ValueError(
            f"generator profile measures: missing codes {missing}, unknown codes {unknown}"
        )
    codes = tuple(sorted(profile.measures))
    measures = [profile.measures[code] for code in codes]
    for code, measure in zip(codes, measures, strict=True):
        bad = sorted(set(measure.hazard_multiplier) - set(contract.SURVEY_REASONS))
        if bad:
            raise ValueError(f"generator profile measures.{code}: unknown reasons {bad}")
    reasons = contract.SURVEY_REASONS
    multiplier = np.array(
        [
            [m.hazard_multiplier.get(r, m.default_hazard_multiplier) for r in reasons]
            for m in measures
        ]
    )

    def column(name: str) -> np.ndarray:
        return np.array([getattr(m, name) for m in measures])

    return MeasureTable(
        codes=codes,
        contact_cost_yuan=column("contact_cost_yuan"),
        offer_discount_share=column("offer_discount_share"),
        offer_months=column("offer_months"),
        acceptance=column("acceptance"),
        effect_months=column("effect_months"),
        reason_multiplier=multiplier,
        contract_expiry_multiplier=column("contract_expiry_multiplier"),
        stable_prompt_leave_share=column("stable_prompt_leave_share"),
        expiry_window=profile.hazard.contract_expiry_window,
    )


@dataclass(frozen=True)
class Rollout:
    """The base's months after T under one assignment; arrays follow ``subscriber_id``."""

    subscriber_id: np.ndarray  # the base at T, in id order
    measure: np.ndarray  # index into MeasureTable.codes; NO_MEASURE when not contacted
    accepted: np.ndarray
    churn_step: np.ndarray  # months after T of the exit; 0 when none within the horizon
    value_yuan: np.ndarray  # true margin on the horizon's bills, net of offer discounts
    churn_events: pl.DataFrame  # the horizon's exits, in the raw contract

    @property
    def churned(self) -> np.ndarray:
        return self.churn_step > 0


@dataclass(frozen=True)
class PolicyValue:
    """An assignment judged on counterfactual truth over the horizon."""

    contacted: int
    accepted: int
    churners_saved: int  # untreated churners kept, minus customers the contact drove out
    contact_cost_yuan: float
    retained_value_yuan: float  # margin treated minus untreated, offer discounts included
    net_value_yuan: float  # retained value minus contact cost


def roll_forward(
    state: WindowState,
    assignment: pl.DataFrame,
    horizon_months: int,
    seed: int,
    profile: GeneratorProfile | None = None,
    on_month: UsageSink | None = None,
) -> Rollout:
    """Roll the base at T forward ``horizon_months`` months under ``assignment``.

    Args:
        state: the generator's state at T (``clm.synthetic.generate.state_at``).
        assignment: subscriber_id and measure_code of each contacted subscriber; everyone
            else in the base gets nothing. An empty frame is the untreated world.
        horizon_months: months after T to simulate.
        seed: seed of the common random numbers; the same seed gives the same world.
        profile: generator profile with the true measures.
        on_month: receives each month's usage rows (raw contract) as soon as they exist.
    """
    if horizon_months < 1:
        raise ValueError(f"roll_forward: horizon_months must be >= 1, got {horizon_months}")
    profile = profile or load_profile()
    return _Simulation(state, profile, seed).run(
        _measure_per_base(state, assignment, profile), horizon_months, on_month
    )


class Counterfactuals:
    """The base at T rolled forward untreated once; any assignment is judged against it.

    Under common random numbers only contacted subscribers can differ from the untreated
    world, so an assignment's value is a sum over the subscribers it contacts.
    """

    def __init__(
        self,
        state: WindowState,
        horizon_months: int,
        seed: int,
        profile: GeneratorProfile | None = None,
    ) -> None:
        self.state = state
        self.horizon_months = horizon_months
        self.seed = seed
        self.profile = profile or load_profile()
        self.measures = measure_table(self.profile)

    @cached_property
    def untreated(self) -> Rollout:
        return self.rollout(_empty_assignment())

    def churn_probability(self) -> pl.DataFrame:
        """Each base subscriber's true untreated P(churn within the horizon): the oracle."""
        rows = self.state.active
        no_measure = np.full(rows.size, NO_MEASURE)
        probability = churn_probability_under(
            self.state, rows, no_measure, self.horizon_months, self.profile, treated=False
        )
        return pl.DataFrame(
            {
                "subscriber_id": self.state.population.subscriber_id[rows],
                "churn_probability": probability,
            }
        )

    def rollout(self, assignment: pl.DataFrame, on_month: UsageSink | None = None) -> Rollout:
        """The world under ``assignment`` (see ``roll_forward``)."""
        return roll_forward(
            self.state, assignment, self.horizon_months, self.seed, self.profile, on_month
        )

    def effects(self, assignment: pl.DataFrame, treated: Rollout | None = None) -> pl.DataFrame:
        """True individual effects of the assignment, one row per contacted subscriber.

        ``churned_if_*`` and ``value_if_*`` are this world's outcomes (common random
        numbers); ``true_effect`` is the exact churn probability within the horizon without
        the measure minus with it (> 0: the measure keeps customers), averaged over
        acceptance and over the reasons of customers not yet in warning.
        """
        treated = treated or self.rollout(assignment)
        contacted = np.flatnonzero(treated.measure != NO_MEASURE)
        measure = treated.measure[contacted]
        rows = self.state.active[contacted]
        p_untreated = churn_probability_under(
            self.state, rows, measure, self.horizon_months, self.profile, treated=False
        )
        p_treated = churn_probability_under(
            self.state, rows, measure, self.horizon_months, self.profile, treated=True
        )
        untreated = self.untreated
        return pl.DataFrame(
            {
                "subscriber_id": treated.subscriber_id[contacted],
                "measure_code": np.array(self.measures.codes)[measure],
                "accepted": treated.accepted[contacted],
                "churned_if_treated": treated.churned[contacted],
                "churned_if_untreated": untreated.churned[contacted],
                "churn_probability_if_treated": p_treated,
                "churn_probability_if_untreated": p_untreated,
                "true_effect": p_untreated - p_treated,
                "value_if_treated_yuan": treated.value_yuan[contacted],
                "value_if_untreated_yuan": untreated.value_yuan[contacted],
                "contact_cost_yuan": self.measures.contact_cost_yuan[measure],
            }
        )

    def evaluate(self, assignment: pl.DataFrame) -> PolicyValue:
        """Retained value net of cost of ``assignment``, on this world's counterfactuals."""
        treated = self.rollout(assignment)
        contacted = treated.measure != NO_MEASURE
        untreated = self.untreated
        cost = float(self.measures.contact_cost_yuan[treated.measure[contacted]].sum())
        retained = float((treated.value_yuan - untreated.value_yuan)[contacted].sum())
        saved = untreated.churned[contacted].sum() - treated.churned[contacted].sum()
        return PolicyValue(
            contacted=int(contacted.sum()),
            accepted=int(treated.accepted.sum()),
            churners_saved=int(saved),
            contact_cost_yuan=round(cost, 2),
            retained_value_yuan=round(retained, 2),
            net_value_yuan=round(retained - cost, 2),
        )


def churn_probability_under(
    state: WindowState,
    rows: np.ndarray,
    measure: np.ndarray,
    horizon_months: int,
    profile: GeneratorProfile,
    treated: bool,
) -> np.ndarray:
    """Exact P(churn within the horizon) of ``rows`` of the window, with or without a measure.

    The lifecycle chain of ``step_stages`` propagated from the stage at T, with the warning
    stage split by reason because a measure's effect depends on it; treated probabilities
    average over acceptance. Without a measure it equals ``churn_probability_within``.
    """
    table = measure_table(profile)

    def chain(accepted: bool, contacted: bool) -> np.ndarray:
        return _chain_probability(
            state, rows, measure, horizon_months, profile, table, accepted, contacted
        )

    if not treated:
        return chain(accepted=False, contacted=False)
    acceptance = table.acceptance[measure]
    return acceptance * chain(True, True) + (1 - acceptance) * chain(False, True)


def _chain_probability(
    state: WindowState,
    rows: np.ndarray,
    measure: np.ndarray,
    horizon_months: int,
    profile: GeneratorProfile,
    table: MeasureTable,
    accepted: bool,
    contacted: bool,
) -> np.ndarray:
    """P(churn within the horizon) when every row accepted the measure, or none did."""
    population, transitions = state.population, profile.transitions
    stage, reason = state.stage[rows], state.reason[rows]
    growth = (stage == GROWTH).astype(float)
    stable = (stage == STABLE).astype(float)
    sunk = (stage == SUNK).astype(float)
    warning = np.zeros((len(contract.SURVEY_REASONS), rows.size))
    in_warning = np.flatnonzero(stage == WARNING)
    warning[reason[in_warning], in_warning] = 1.0
    entry_shares = reason_shares()[population.network[rows]].T
    exited = np.zeros(rows.size)
    recover_limit = transitions.warning_to_exit + transitions.warning_to_stable
    prompt = table.stable_prompt_leave_share[measure] if contacted else np.zeros(rows.size)
    for step in range(horizon_months):
        t = state.month_index + step
        to_end = months_to_contract_end(population, rows, t)
        hazard = warning_hazard(
            population.base_hazard[rows],
            population.is_g[rows],
            t - population.join_index[rows],
            to_end,
            profile,
        )
        multiplier = _exit_multiplier(table, measure, reason_rows=None, to_end=to_end)
        acting = accepted & (step < table.effect_months[np.maximum(measure, 0)])
        multiplier = np.where(acting, multiplier, 1.0)
        to_exit = np.minimum(transitions.warning_to_exit * multiplier, 1.0)
        to_stable = np.maximum(recover_limit - to_exit, 0.0)
        exited = exited + (warning * to_exit).sum(axis=0) + sunk * transitions.sunk_to_exit
        prompted = prompt if step == 0 else 0.0
        grows_up = growth * (1 - hazard) * transitions.growth_to_stable
        entering = growth * hazard + stable * (prompted + (1 - prompted) * hazard)
        growth, stable, warning, sunk = (
            growth * (1 - hazard) - grows_up,
            stable * (1 - prompted) * (1 - hazard) + grows_up + (warning * to_stable).sum(axis=0),
            warning * (1 - to_exit - to_stable) + entry_shares * entering,
            sunk * (1 - transitions.sunk_to_exit),
        )
    return exited


def _exit_multiplier(
    table: MeasureTable, measure: np.ndarray, reason_rows: np.ndarray | None, to_end: np.ndarray
) -> np.ndarray:
    """A measure's factor on warning -> exit, its contract-expiry factor included.

    One factor per row for the given reasons, or, without ``reason_rows``, one per reason
    and row: shape (len(SURVEY_REASONS), n).
    """
    safe = np.maximum(measure, 0)
    expiry = np.where(
        in_expiry_window(to_end, table.expiry_window), table.contract_expiry_multiplier[safe], 1.0
    )
    if reason_rows is None:
        return table.reason_multiplier[safe].T * expiry
    return table.reason_multiplier[safe, np.maximum(reason_rows, 0)] * expiry


class _Simulation:
    """One roll-forward of the base; the state's arrays are copied, never changed."""

    def __init__(self, state: WindowState, profile: GeneratorProfile, seed: int) -> None:
        self.state, self.profile, self.seed = state, profile, seed
        self.table = measure_table(profile)
        self.base = state.active
        self.signatures = signature_matrices(profile)
        self.entry_cumulative = np.cumsum(reason_shares(), axis=1)
        mixes = [profile.networks[name].destination_mix for name in NETWORKS]
        self.destination_cumulative = np.cumsum(
            [[mix[d] for d in DESTINATIONS] for mix in mixes], axis=1
        )

    def run(self, measure: np.ndarray, horizon_months: int, on_month: UsageSink | None) -> Rollout:
        state, table, base = self.state, self.table, self.base
        population = state.population
        stage, reason = state.stage[base].copy(), state.reason[base].copy()
        months_in_warning = state.months_in_warning[base].copy()
        consumed = state.consumed.copy()
        contacted = measure != NO_MEASURE
        safe = np.maximum(measure, 0)
        accepted = np.zeros(base.size, bool)
        churn_step = np.zeros(base.size, np.int64)
        destination = np.zeros(base.size, np.int64)
        value = np.zeros(base.size)
        margin = self.profile.economics.margin_share_of_arpu
        for step in range(1, horizon_months + 1):
            t = state.month_index + step - 1  # the month the subscribers step from
            rng = np.random.default_rng([self.seed, CAMPAIGN_STREAM, t + 1])
            events = rng.random((base.size, U_DESTINATION + 1))
            usage_uniforms = rng.random((base.size, len(LEVELS)))
            if step == 1:
                accepted = contacted & (events[:, U_ACCEPT] < table.acceptance[safe])

            alive = np.flatnonzero(stage < EXITED)
            rows = base[alive]
            to_end = months_to_contract_end(population, rows, t)
            hazard = warning_hazard(
                population.base_hazard[rows],
                population.is_g[rows],
                t - population.join_index[rows],
                to_end,
                self.profile,
            )
            acting = accepted[alive] & (step <= table.effect_months[safe[alive]])
            multiplier = np.where(
                acting, _exit_multiplier(table, measure[alive], reason[alive], to_end), 1.0
            )
            current = stage[alive]
            following = step_stages(
                current, hazard, events[alive, U_TRANSITION], self.profile.transitions, multiplier
            )
            if step == 1:
                prompt = table.stable_prompt_leave_share[safe[alive]]
                prompted = contacted[alive] & (current == STABLE)
                following[prompted & (events[alive, U_PROMPT] < prompt)] = WARNING
            entering = alive[(following == WARNING) & (current != WARNING)]
            reason[entering] = _inverse_cdf(
                events[entering, U_REASON],
                self.entry_cumulative[population.network[base[entering]]],
            )
            months_in_warning[alive] = np.where(
                following == WARNING, (months_in_warning[alive] + 1) * (current == WARNING), 0
            )
            exiting = alive[following == EXITED]
            churn_step[exiting] = step
            destination[exiting] = _inverse_cdf(
                events[exiting, U_DESTINATION],
                self.destination_cumulative[population.network[base[exiting]]],
            )
            reason[alive[(following == STABLE) & (current == WARNING)]] = NO_REASON
            stage[alive] = following

            active = np.flatnonzero(stage < EXITED)
            rows = base[active]
            levels = monthly_levels(
                state.base[rows],
                stage[active],
                t + 1 - population.join_index[rows],
                months_in_warning[active],
                reason[active],
                self.signatures,
                self.profile,
            )
            columns = draw_usage_from_uniforms(levels, self.profile, usage_uniforms[active])
            on_offer = accepted[active] & (step <= table.offer_months[safe[active]])
            discount = np.where(on_offer, table.offer_discount_share[safe[active]], 0.0)
            list_arpu = columns["arpu"]
            value[active] += list_arpu * (margin - discount)
            columns["arpu"] = np.round(list_arpu * (1 - discount), 2)
            consumed[rows] = consume_contract(population, rows, t + 1, consumed, columns["arpu"])
            if on_month is not None:
                columns["contract_consumed_amount"] = np.round(consumed[rows], 2)
                on_month(usage_frame(population, rows, state.month + step, columns))

        churned = np.flatnonzero(churn_step > 0)
        return Rollout(
            subscriber_id=population.subscriber_id[base],
            measure=measure,
            accepted=accepted,
            churn_step=churn_step,
            value_yuan=value,
            churn_events=churn_events_frame(
                population.subscriber_id[base[churned]],
                state.month + churn_step[churned],
                reason[churned],
                destination[churned],
            ),
        )


def _inverse_cdf(uniform: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
    """Category of each uniform under its row's cumulative shares."""
    picked = (uniform[:, None] >= cumulative).sum(axis=1)
    return np.minimum(picked, cumulative.shape[1] - 1).astype(np.int8)


def _measure_per_base(
    state: WindowState, assignment: pl.DataFrame, profile: GeneratorProfile
) -> np.ndarray:
    """Measure number per base subscriber; a bad assignment fails naming the rule broken."""
    codes = measure_table(profile).codes
    missing = [c for c in ("subscriber_id", "measure_code") if c not in assignment.columns]
    if missing:
        raise ValueError(f"assignment: missing column(s) {missing}")
    if assignment["subscriber_id"].is_duplicated().any():
        raise ValueError("assignment: column 'subscriber_id' must be unique (one measure each)")
    unknown = sorted(set(assignment["measure_code"].drop_nulls().to_list()) - set(codes))
    if unknown or assignment["measure_code"].null_count():
        raise ValueError(f"assignment: column 'measure_code' has unknown or null codes {unknown}")
    base_ids = state.population.subscriber_id[state.active]
    position = np.searchsorted(base_ids, assignment["subscriber_id"].to_numpy())
    position = np.minimum(position, base_ids.size - 1)
    outside = base_ids[position] != assignment["subscriber_id"].to_numpy()
    if outside.any():
        example = assignment["subscriber_id"].to_numpy()[outside][0]
        raise ValueError(
            f"assignment: column 'subscriber_id' has {int(outside.sum())} subscribers without "
            f"usage in the campaign month, e.g. {example}"
        )
    measure = np.full(base_ids.size, NO_MEASURE, np.int64)
    measure[position] = np.searchsorted(codes, assignment["measure_code"].to_numpy())
    return measure


def _empty_assignment() -> pl.DataFrame:
    return pl.DataFrame(schema={"subscriber_id": pl.Int64, "measure_code": pl.String})


def plan_assignment(plan: pl.DataFrame, where: str) -> tuple[np.datetime64, pl.DataFrame]:
    """Campaign month T and the treated (subscriber_id, measure_code) of a campaign plan."""
    missing = [c for c in PLAN_COLUMNS if c not in plan.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}")
    months = plan["month"].unique().drop_nulls()
    if months.len() != 1 or plan["month"].null_count():
        raise ValueError(f"{where}: column 'month' must hold one campaign month, found {months}")
    arms = set(plan["arm"].unique().to_list())
    if arms - set(ARMS):
        raise ValueError(f"{where}: column 'arm' has values {sorted(arms - set(ARMS), key=str)}")
    treatment = pl.col("arm") == "treatment"
    no_measure = plan.filter(treatment & pl.col("measure_code").is_null()).height
    if no_measure:
        log.warning("%s: %d treatment rows without a measure stay untreated", where, no_measure)
    treated = plan.filter(treatment & pl.col("measure_code").is_not_null())
    month = np.datetime64(months.item(), "M")
    return month, treated.select("subscriber_id", "measure_code")


def write_outcome(
    config: GenerateConfig,
    plan_path: Path,
    outcome_dir: Path,
    truth_dir: Path,
    horizon_months: int,
) -> Rollout:
    """Stage ``outcome`` (synthetic data only): the plan's months after T, and their truth.

    Replays the generator of ``config`` to the plan's month T, rolls the base forward under
    the plan's treatment rows and writes ``usage_monthly`` and ``churn_events`` in the raw
    contract to ``outcome_dir``, and ``campaign_effects`` (true individual effects) to
    ``truth_dir``.
    """
    month, assignment = plan_assignment(pl.read_parquet(plan_path), str(plan_path))
    month_index = int((month - np.datetime64(config.first_month, "M")).astype(int))
    if not 0 <= month_index < config.n_months:
        raise ValueError(f"{plan_path}: column 'month' {month} lies outside the generated window")
    world = Counterfactuals(state_at(config, month_index), horizon_months, config.seed)
    try:
        with parquet_stream(outcome_dir / "usage_monthly.parquet") as write_usage:
            treated = world.rollout(assignment, on_month=write_usage)
    except ValueError as error:
        raise ValueError(f"{plan_path}: {error}") from error
    write_parquet_atomic(treated.churn_events, outcome_dir / "churn_events.parquet")
    write_parquet_atomic(world.effects(assignment, treated), truth_dir / "campaign_effects.parquet")
    log.info(
        "outcome: %d contacted of %d, %d months after %s",
        assignment.height,
        treated.subscriber_id.size,
        horizon_months,
        month,
    )
    return treated
