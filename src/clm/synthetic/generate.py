"""The synthetic operator: raw tables plus the truth that no real operator could give.

Raw tables follow ``clm.data.contract``; the truth (latent stage per month, the latent
attributes behind the true churn probability, the true churn reason) goes to separate tables
and is never mixed into the raw ones. The same seed gives the same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from rich.progress import Progress

from clm.data import contract
from clm.data.contract import BRANDS, DESTINATIONS, NETWORKS, PAYMENT_TYPES
from clm.data.io import parquet_stream, write_parquet_atomic
from clm.domain.taxonomy import load_taxonomy
from clm.synthetic.lifecycle import (
    EXITED,
    GROWTH,
    NOT_JOINED,
    STABLE,
    STAGE_NAMES,
    SUNK,
    WARNING,
    step_stages,
    warning_hazard,
)
from clm.synthetic.population import NO_CONTRACT, Population, draw_population
from clm.synthetic.profile import REGIONS, GeneratorProfile, load_profile
from clm.synthetic.shocks import Shock, check_shocks, shock_hazard, with_shock
from clm.synthetic.usage import base_levels, draw_usage, monthly_levels, signature_matrices

log = logging.getLogger(__name__)

SIM_FLIPPING = contract.SURVEY_REASONS.index("channel_sim_flipping")
NO_REASON = -1
SHOCK_STREAM = 1  # shocks draw from their own stream: without one, the data is unchanged


@dataclass(frozen=True)
class GenerateConfig:
    """The ``generate`` section of params.yaml."""

    seed: int
    n_subscribers: int
    n_months: int
    first_month: str  # ISO date of the window's first month, e.g. "2023-01-01"
    cdma_share: float
    shocks: tuple[Shock, ...]  # market shocks (clm.synthetic.shocks); none by default

    def __post_init__(self) -> None:
        if self.n_subscribers < 1 or self.n_months < 2:
            raise ValueError("generate: need n_subscribers >= 1 and n_months >= 2")
        if not 0.0 <= self.cdma_share <= 1.0:
            raise ValueError(f"generate.cdma_share must be in [0, 1], got {self.cdma_share}")
        if date.fromisoformat(self.first_month).day != 1:
            raise ValueError(f"generate.first_month must be a first of month: {self.first_month}")


@dataclass(frozen=True)
class StaticTables:
    """Tables known once the simulation has run to the end of the window."""

    subscribers: pl.DataFrame
    churn_events: pl.DataFrame
    truth_subscribers: pl.DataFrame


MonthSink = Callable[[pl.DataFrame, pl.DataFrame], None]


@dataclass(frozen=True)
class WindowState:
    """The generator's latent state in one month of the window, after that month's usage.

    The arrays hold one entry per subscriber of the window (joiners included), in id order;
    ``roll_forward`` in ``clm.campaign.simulate`` continues the lifecycle from here.
    """

    month_index: int  # index of the month in the window
    month: np.datetime64  # that month, as datetime64[M]
    population: Population
    base: np.ndarray  # usual usage levels, shape (n, len(LEVELS))
    stage: np.ndarray
    reason: np.ndarray  # index into SURVEY_REASONS; NO_REASON outside warning and sunk
    months_in_warning: np.ndarray
    consumed: np.ndarray  # contract amount consumed so far, yuan

    @property
    def active(self) -> np.ndarray:
        """Indices of the subscribers with usage in this month."""
        return np.flatnonzero(self.stage < EXITED)


def generate(
    config: GenerateConfig,
    on_month: MonthSink,
    profile: GeneratorProfile | None = None,
    show_progress: bool = False,
) -> StaticTables:
    """Simulate the window month by month.

    Each month's usage rows and truth stages are handed to ``on_month(usage, stages)`` as
    soon as they exist, so memory stays bounded by one month of the base.
    """
    profile = profile or load_profile()
    rng = np.random.default_rng(config.seed)
    months = _month_dates(config.first_month, config.n_months)
    state, churn_index = _run_window(
        config, profile, rng, config.n_months - 1, on_month, show_progress
    )
    log.info("generated %d subscribers over %d months", config.n_subscribers, config.n_months)
    population, reason = state.population, state.reason
    return StaticTables(
        subscribers=_subscribers_frame(population, months[0]),
        churn_events=_churn_frame(population, churn_index, reason, months[0], profile, rng),
        truth_subscribers=_truth_frame(population, churn_index, reason),
    )


def state_at(
    config: GenerateConfig, month_index: int, profile: GeneratorProfile | None = None
) -> WindowState:
    """Replay the window up to ``month_index`` and return the latent state of that month.

    The replay draws the same random numbers as ``generate``, so it is the very world of
    the raw tables made with ``config``, not a look-alike.
    """
    if not 0 <= month_index < config.n_months:
        raise ValueError(f"state_at: month index {month_index} outside the window")
    profile = profile or load_profile()
    rng = np.random.default_rng(config.seed)
    state, _ = _run_window(config, profile, rng, month_index, None, False)
    return state


def _run_window(
    config: GenerateConfig,
    profile: GeneratorProfile,
    rng: np.random.Generator,
    last_month: int,
    on_month: MonthSink | None,
    show_progress: bool,
) -> tuple[WindowState, np.ndarray]:
    """Run months 0..last_month; return the last month's state and each exit month."""
    months = _month_dates(config.first_month, config.n_months)
    check_shocks(config.shocks, profile)
    shock_rng = np.random.default_rng([config.seed, SHOCK_STREAM])
    population = draw_population(
        config.n_subscribers, config.n_months, config.cdma_share, profile, rng
    )
    base = base_levels(population, profile, rng)
    signatures = signature_matrices(profile)
    reason_draw = _reason_sampler(population, rng)

    n = config.n_subscribers
    stage = np.where(population.join_index < 0, STABLE, NOT_JOINED).astype(np.int8)
    tenure_start = -population.join_index
    stage[(population.join_index < 0) & (tenure_start < 3)] = GROWTH
    reason = np.full(n, NO_REASON, np.int8)
    months_in_warning = np.zeros(n, np.int16)
    churn_index = np.full(n, -1, np.int64)
    consumed = _consumed_before_window(population, profile)
    _start_some_in_warning(stage, reason, population, profile, reason_draw, rng)

    with Progress(disable=not show_progress, transient=True) as progress:
        task = progress.add_task("generating months", total=last_month + 1)
        for t in range(last_month + 1):
            joining = population.join_index == t
            stage[joining] = np.where(population.is_sham[joining], SUNK, GROWTH)
            reason[joining & population.is_sham] = SIM_FLIPPING
            active = np.flatnonzero(stage < EXITED)
            tenure = t - population.join_index[active]

            levels = monthly_levels(
                base[active],
                stage[active],
                tenure,
                months_in_warning[active],
                reason[active],
                signatures,
                profile,
            )
            columns = draw_usage(levels, profile, rng)
            consumed[active] = consume_contract(population, active, t, consumed, columns["arpu"])
            if on_month is not None:
                columns["contract_consumed_amount"] = np.round(consumed[active], 2)
                on_month(
                    usage_frame(population, active, months[t], columns),
                    _stage_frame(population, active, months[t], stage[active]),
                )

            if t < last_month:
                shock = shock_hazard(
                    config.shocks,
                    profile,
                    population.region[active],
                    months[t + 1].astype("datetime64[D]").item(),
                )
                _advance(
                    t, active, tenure, stage, reason, months_in_warning, churn_index,
                    population, profile, reason_draw, rng, shock, shock_rng,
                )  # fmt: skip
            progress.advance(task)

    state = WindowState(
        month_index=last_month,
        month=months[last_month],
        population=population,
        base=base,
        stage=stage,
        reason=reason,
        months_in_warning=months_in_warning,
        consumed=consumed,
    )
    return state, churn_index


def _advance(
    t: int,
    active: np.ndarray,
    tenure: np.ndarray,
    stage: np.ndarray,
    reason: np.ndarray,
    months_in_warning: np.ndarray,
    churn_index: np.ndarray,
    population: Population,
    profile: GeneratorProfile,
    reason_draw: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    shock: tuple[np.ndarray, np.ndarray],
    shock_rng: np.random.Generator,
) -> None:
    """Move active subscribers to next month's stage, recording exits and new reasons.

    ``shock`` is ``shock_hazard`` of the active subscribers: where it pushes, a subscriber
    entering warning does so for the shock's reason with the push's share of the hazard.
    """
    usual = warning_hazard(
        population.base_hazard[active],
        population.is_g[active],
        tenure,
        months_to_contract_end(population, active, t),
        profile,
    )
    extra, shock_reason = shock
    hazard = with_shock(usual, extra)
    current = stage[active]
    following = step_stages(current, hazard, rng.random(active.size), profile.transitions)
    is_entering = (following == WARNING) & (current != WARNING)
    entering = active[is_entering]
    reason[entering] = reason_draw(entering)
    if extra.any():
        pushed = is_entering & (extra > 0)
        share = (hazard[pushed] - usual[pushed]) / hazard[pushed]
        by_shock = np.flatnonzero(pushed)[shock_rng.random(share.size) < share]
        reason[active[by_shock]] = shock_reason[by_shock]
    months_in_warning[active] = np.where(
        following == WARNING, (months_in_warning[active] + 1) * (current == WARNING), 0
    )
    recovered = active[(following == STABLE) & (current == WARNING)]
    reason[recovered] = NO_REASON
    churn_index[active[following == EXITED]] = t + 1
    stage[active] = following


def reason_shares() -> np.ndarray:
    """Share of each churn reason among warning entries, shape (len(NETWORKS), reasons).

    From the exit survey (domain.md §4.1). SIM flipping gets none: it is the sham cards'
    path, sized by ``sham_share``.
    """
    taxonomy = load_taxonomy()
    shares = np.array(
        [
            [taxonomy.survey_reasons[code].share[network] for code in contract.SURVEY_REASONS]
            for network in NETWORKS
        ]
    )
    shares[:, SIM_FLIPPING] = 0.0
    return shares / shares.sum(axis=1, keepdims=True)


def _reason_sampler(
    population: Population, rng: np.random.Generator
) -> Callable[[np.ndarray], np.ndarray]:
    """Draw a churn reason per network from the exit-survey shares."""
    shares = reason_shares()

    def draw(indices: np.ndarray) -> np.ndarray:
        drawn = np.empty(indices.size, np.int8)
        for code in range(len(NETWORKS)):
            rows = population.network[indices] == code
            drawn[rows] = rng.choice(shares.shape[1], size=rows.sum(), p=shares[code])
        return drawn

    return draw


def _start_some_in_warning(
    stage: np.ndarray,
    reason: np.ndarray,
    population: Population,
    profile: GeneratorProfile,
    reason_draw: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
) -> None:
    """Put the existing base near its steady state: some of it already in warning."""
    leaving = profile.transitions.warning_to_exit + profile.transitions.warning_to_stable
    share = np.minimum(population.base_hazard / leaving, 0.5)
    starts_warning = np.flatnonzero((stage == STABLE) & (rng.random(stage.size) < share))
    stage[starts_warning] = WARNING
    reason[starts_warning] = reason_draw(starts_warning)


def months_to_contract_end(population: Population, rows: np.ndarray, t: int) -> np.ndarray:
    end = population.contract_end_index[rows]
    return np.where(end == NO_CONTRACT, np.nan, end - t)


def _consumed_before_window(population: Population, profile: GeneratorProfile) -> np.ndarray:
    commitment = population.arpu_base * profile.contracts.commitment_share_of_arpu
    elapsed = np.maximum(0, -population.contract_start_index)
    consumed = np.minimum(commitment * elapsed, population.contract_total_amount)
    return np.where(population.has_contract, consumed, 0.0)


def consume_contract(
    population: Population, active: np.ndarray, t: int, consumed: np.ndarray, arpu: np.ndarray
) -> np.ndarray:
    start = population.contract_start_index[active]
    end = population.contract_end_index[active]
    running = (start <= t) & (t <= end)
    total = np.nan_to_num(population.contract_total_amount[active])
    return np.where(running, np.minimum(consumed[active] + arpu, total), consumed[active])


def _month_dates(first_month: str, n_months: int) -> np.ndarray:
    return np.datetime64(date.fromisoformat(first_month), "M") + np.arange(n_months)


def _as_dates(month: np.datetime64 | np.ndarray) -> pl.Series | date:
    return np.asarray(month, dtype="datetime64[M]").astype("datetime64[D]")


def usage_frame(
    population: Population, active: np.ndarray, month: np.datetime64, columns: dict
) -> pl.DataFrame:
    frame = pl.DataFrame(
        {"subscriber_id": population.subscriber_id[active], **columns}
    ).with_columns(month=pl.lit(_as_dates(month).item(), dtype=pl.Date))
    return frame.select(
        [pl.col(name).cast(dtype) for name, dtype in contract.USAGE_MONTHLY.items()]
    )


def _stage_frame(
    population: Population, active: np.ndarray, month: np.datetime64, stage: np.ndarray
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "subscriber_id": population.subscriber_id[active],
            "month": pl.Series([_as_dates(month).item()] * active.size, dtype=pl.Date),
            "stage": np.array(STAGE_NAMES)[stage],
        },
        schema=contract.TRUTH_MONTHLY,
    )


def _subscribers_frame(population: Population, first_month: np.datetime64) -> pl.DataFrame:
    no_contract = pl.col("contract_total_amount").is_nan()
    return (
        pl.DataFrame(
            {
                "subscriber_id": population.subscriber_id,
                "join_month": _as_dates(first_month + population.join_index),
                "network": np.array(NETWORKS)[population.network],
                "brand": np.array(BRANDS)[population.brand],
                "payment_type": np.array(PAYMENT_TYPES)[population.payment],
                "is_group": population.group_id >= 0,
                "group_id": population.group_id,
                "region": np.array(REGIONS)[population.region],
                "contract_start_month": _as_dates(first_month + population.contract_start_index),
                "contract_end_month": _as_dates(first_month + population.contract_end_index),
                "contract_total_amount": population.contract_total_amount,
            }
        )
        .with_columns(
            group_id=pl.when(pl.col("is_group")).then(pl.col("group_id")),
            contract_start_month=pl.when(~no_contract).then(pl.col("contract_start_month")),
            contract_end_month=pl.when(~no_contract).then(pl.col("contract_end_month")),
            contract_total_amount=pl.when(~no_contract).then(pl.col("contract_total_amount")),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in contract.SUBSCRIBERS.items()])
    )


def _churn_frame(
    population: Population,
    churn_index: np.ndarray,
    reason: np.ndarray,
    first_month: np.datetime64,
    profile: GeneratorProfile,
    rng: np.random.Generator,
) -> pl.DataFrame:
    churned = np.flatnonzero(churn_index >= 0)
    destination = np.empty(churned.size, np.int8)
    for code, name in enumerate(NETWORKS):
        rows = population.network[churned] == code
        mix = profile.networks[name].destination_mix
        weights = np.array([mix[d] for d in DESTINATIONS])
        destination[rows] = rng.choice(len(DESTINATIONS), size=rows.sum(), p=weights)
    recorded = recorded_reasons(reason[churned], population.network[churned], profile, rng)
    return churn_events_frame(
        population.subscriber_id[churned],
        first_month + churn_index[churned],
        recorded,
        destination,
    )


def recorded_reasons(
    true_reason: np.ndarray,
    network: np.ndarray,
    profile: GeneratorProfile,
    rng: np.random.Generator,
) -> np.ndarray:
    """What the exit survey records for churners of these true reasons (indices into
    SURVEY_REASONS): the truth with the profile's truthful share, else an answer drawn from
    the network's survey shares (``exit_survey`` in the generator profile)."""
    survey = profile.exit_survey
    truthful = np.array(
        [
            survey.truthful_share_by_reason.get(code, survey.truthful_share)
            for code in contract.SURVEY_REASONS
        ]
    )[true_reason]
    keeps = rng.random(true_reason.size) < truthful
    shares = reason_shares()
    recorded = true_reason.copy()
    for code in range(len(NETWORKS)):
        rows = ~keeps & (network == code)
        recorded[rows] = rng.choice(shares.shape[1], size=rows.sum(), p=shares[code])
    return recorded


def churn_events_frame(
    subscriber_id: np.ndarray, churn_month: np.ndarray, reason: np.ndarray, destination: np.ndarray
) -> pl.DataFrame:
    """The raw churn-events table from reason and destination indices."""
    return pl.DataFrame(
        {
            "subscriber_id": subscriber_id,
            "churn_month": _as_dates(churn_month),
            "reason": np.array(contract.SURVEY_REASONS)[reason],
            "destination": np.array(DESTINATIONS)[destination],
        }
    ).select([pl.col(name).cast(dtype) for name, dtype in contract.CHURN_EVENTS.items()])


def _truth_frame(
    population: Population, churn_index: np.ndarray, reason: np.ndarray
) -> pl.DataFrame:
    """Latent attributes behind the true churn probability, and the true reason of churners."""
    return pl.DataFrame(
        {
            "subscriber_id": population.subscriber_id,
            "is_sham": population.is_sham,
            "base_warning_hazard": population.base_hazard,
            "true_reason": np.array(contract.SURVEY_REASONS)[reason],
        }
    ).with_columns(true_reason=pl.when(pl.Series(churn_index >= 0)).then("true_reason"))


def write_dataset(
    config: GenerateConfig, raw_dir: Path, truth_dir: Path, show_progress: bool = False
) -> StaticTables:
    """Generate and write the raw tables to ``raw_dir`` and the truth to ``truth_dir``.

    Every file is replaced only once it is complete, so a failed run leaves the old data.
    """
    with (
        parquet_stream(raw_dir / "usage_monthly.parquet") as write_usage,
        parquet_stream(truth_dir / "stages_monthly.parquet") as write_stages,
    ):
        tables = generate(
            config,
            on_month=lambda usage, stages: (write_usage(usage), write_stages(stages)),
            show_progress=show_progress,
        )
    write_parquet_atomic(tables.subscribers, raw_dir / "subscribers.parquet")
    write_parquet_atomic(tables.churn_events, raw_dir / "churn_events.parquet")
    write_parquet_atomic(tables.truth_subscribers, truth_dir / "subscribers.parquet")
    return tables
