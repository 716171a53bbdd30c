"""Choose contacts with HiGHS: the LP relaxation of the campaign's integer program, rounded.

The integer program has one binary per candidate (subscriber, measure), at most one per
subscriber, and knapsack rows for the total budget, each capped tier's budget and the
channel capacity. Its LP relaxation is near-integral: a basic optimum has at most as many
fractional subscribers as knapsack rows (a handful), so rounding them down and refilling
greedily loses at most a few contacts' value. The gap to the LP bound, an upper bound on the
integer optimum, is reported with every plan.

A million subscribers give millions of candidates but only a few thousand contacts, so the
LP is solved by column generation: HiGHS solves it over the most promising candidates, the
knapsack rows' shadow prices then price every other candidate, and any that would still pay
enter the next round. When none would, the restricted optimum is the full LP's optimum. The
final shadow prices are the plan's decision rule, which the control group is put through
(``clm.campaign.plan``).
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import polars as pl

from clm.campaign.config import CampaignConfig, CampaignError

INTEGRAL = 1 - 1e-6  # an LP value above this is a chosen contact
PRICE_TOLERANCE = 1e-7  # a candidate pays when its reduced value is above this
START_CONTACTS = 3  # the first round holds this many x capacity best candidates by each rank
MAX_ROUNDS = 50


@dataclass(frozen=True)
class Prices:
    """Shadow prices of the knapsack rows: yuan of value one more unit of each would bring."""

    budget: float  # per yuan of total budget
    tier: dict[str, float]  # per yuan of a capped tier's budget
    contact: float  # per contact of channel capacity

    def reduced_value(self, candidates: pl.DataFrame) -> pl.Expr:
        """A candidate's expected value less what its cost and contact are worth elsewhere."""
        tier_price = pl.col("value_tier").replace_strict(
            self.tier, default=0.0, return_dtype=pl.Float64
        )
        return (
            pl.col("expected_value_yuan")
            - (self.budget + tier_price) * pl.col("cost_yuan")
            - self.contact
        )


@dataclass(frozen=True)
class Solution:
    """The chosen candidates (a boolean mask in candidate order) and how good they are."""

    chosen: np.ndarray
    lp_bound_yuan: float
    objective_yuan: float
    prices: Prices
    solver_status: str
    rounds: int

    @property
    def gap_to_lp_bound(self) -> float:
        """Share of the LP bound the rounded plan gives up (0 when the LP was integral)."""
        return 0.0 if self.lp_bound_yuan <= 0 else 1 - self.objective_yuan / self.lp_bound_yuan


@dataclass(frozen=True)
class _Problem:
    """The candidates as arrays: value, cost, tier and subscriber per column, and limits."""

    value: np.ndarray
    cost: np.ndarray
    tier: np.ndarray
    subscriber: np.ndarray
    config: CampaignConfig

    def knapsacks(self, columns: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
        """(name, member positions within ``columns``, weights, limit) per knapsack row:
        total budget first, then each capped tier, channel capacity last."""
        config = self.config
        everyone = np.arange(len(columns))
        cost = self.cost[columns]
        rows = [("total_budget", everyone, cost, config.total_budget_yuan)]
        for tier, share in config.tier_budget_share.items():
            members = np.flatnonzero(self.tier[columns] == tier)
            rows.append((tier, members, cost[members], share * config.total_budget_yuan))
        rows.append(("channel_capacity", everyone, np.ones(len(columns)), config.channel_capacity))
        return rows

    def prices(self, duals: np.ndarray) -> Prices:
        tiers = dict(zip(self.config.tier_budget_share, duals[1:-1].tolist(), strict=True))
        return Prices(float(duals[0]), tiers, float(duals[-1]))

    def reduced(self, prices: Prices) -> np.ndarray:
        tier_price = np.zeros(len(self.value))
        for tier, price in prices.tier.items():
            tier_price[self.tier == tier] = price
        return self.value - (prices.budget + tier_price) * self.cost - prices.contact


def optimise(candidates: pl.DataFrame, config: CampaignConfig) -> Solution:
    """Solve the campaign LP over ``candidates`` (sorted by subscriber) and round it."""
    if candidates.is_empty():
        nothing = Prices(0.0, dict.fromkeys(config.tier_budget_share, 0.0), 0.0)
        return Solution(np.zeros(0, dtype=bool), 0.0, 0.0, nothing, "no candidates", 0)
    problem = _Problem(
        candidates["expected_value_yuan"].to_numpy(),
        candidates["cost_yuan"].to_numpy(),
        candidates["value_tier"].to_numpy(),
        candidates["subscriber_id"].to_numpy(),
        config,
    )
    active, rounds = _first_columns(problem), 0
    while True:
        rounds += 1
        x, duals, status = _solve(problem, active)
        prices = problem.prices(np.abs(duals))
        reduced = problem.reduced(prices)
        reduced[active] = -np.inf
        entering = np.flatnonzero(reduced > PRICE_TOLERANCE)
        if len(entering) == 0:
            break
        if rounds == MAX_ROUNDS:
            raise CampaignError(f"campaign LP did not converge in {MAX_ROUNDS} pricing rounds")
        best = entering[np.argsort(-reduced[entering])[: START_CONTACTS * config.channel_capacity]]
        active = _with_subscribers(problem, np.union1d(active, best))
    chosen = np.zeros(len(problem.value), dtype=bool)
    chosen[active[_round(problem, active, x)]] = True
    bound = float(problem.value[active] @ x)
    return Solution(chosen, bound, float(problem.value[chosen].sum()), prices, status, rounds)


def _first_columns(problem: _Problem) -> np.ndarray:
    """The best candidates by value and by value per yuan, with their subscribers' others."""
    keep = START_CONTACTS * problem.config.channel_capacity
    by_value = np.argsort(-problem.value, kind="stable")[:keep]
    by_ratio = np.argsort(-problem.value / np.maximum(problem.cost, 1e-9), kind="stable")[:keep]
    return _with_subscribers(problem, np.union1d(by_value, by_ratio))


def _with_subscribers(problem: _Problem, columns: np.ndarray) -> np.ndarray:
    """``columns`` plus every other candidate of their subscribers, sorted."""
    return np.flatnonzero(np.isin(problem.subscriber, problem.subscriber[columns]))


def _solve(problem: _Problem, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The LP over ``columns``, passed row-wise to HiGHS: values, knapsack duals, status."""
    groups = _subscriber_groups(problem.subscriber[columns])
    rows = [(g, np.ones(len(g)), 1.0) for g in groups]
    rows += [(members, weights, limit) for _, members, weights, limit in problem.knapsacks(columns)]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(columns), len(rows)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = problem.value[columns]
    lp.col_lower_, lp.col_upper_ = np.zeros(len(columns)), np.ones(len(columns))
    lp.row_lower_ = np.full(len(rows), -highspy.kHighsInf)
    lp.row_upper_ = np.array([limit for _, _, limit in rows], dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.r_[0, np.cumsum([len(c) for c, _, _ in rows])].astype(np.int32)
    lp.a_matrix_.index_ = np.concatenate([c for c, _, _ in rows]).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate([w for _, w, _ in rows]).astype(float)
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    # measured on 200k subscribers: interior point without presolve solves this LP in a
    # few seconds, where presolve spends a minute on the many at-most-one rows
    highs.setOptionValue("solver", "ipm")
    highs.setOptionValue("presolve", "off")
    highs.setOptionValue("time_limit", float(problem.config.solver_time_limit_s))
    highs.passModel(lp)
    highs.run()
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise CampaignError(
            f"HiGHS did not solve the campaign LP: {highs.modelStatusToString(status)}"
        )
    solution = highs.getSolution()
    duals = np.asarray(solution.row_dual)[len(groups) :]
    return np.asarray(solution.col_value), duals, highs.modelStatusToString(status)


def _subscriber_groups(subscribers: np.ndarray) -> list[np.ndarray]:
    """Positions of each subscriber with two or more candidates (the at-most-one rows); a
    subscriber with one candidate needs no row, its column's upper bound of 1 does it."""
    starts = np.flatnonzero(np.r_[True, subscribers[1:] != subscribers[:-1]])
    sizes = np.diff(np.r_[starts, len(subscribers)])
    return [np.arange(s, s + n) for s, n in zip(starts[sizes > 1], sizes[sizes > 1], strict=True)]


def _round(problem: _Problem, columns: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Positions within ``columns`` to contact: the LP's integral contacts, then its fractional
    ones best value first while every knapsack row still fits, at most one per subscriber.
    The solver's tolerances may let integral contacts overrun a row by a hair: the lowest-value
    ones then go until every row fits, so the plan never exceeds a cap."""
    value, subscriber = problem.value[columns], problem.subscriber[columns]
    weight = np.zeros((len(problem.knapsacks(columns)), len(columns)))
    limits = np.zeros(len(weight))
    for i, (_, members, weights, limit) in enumerate(problem.knapsacks(columns)):
        weight[i, members], limits[i] = weights, limit
    chosen = x > INTEGRAL
    while np.any(overrun := weight @ chosen > limits):
        members = np.flatnonzero(chosen & (weight[np.argmax(overrun)] > 0))
        chosen[members[np.argmin(value[members])]] = False
    used, taken = weight @ chosen, set(subscriber[chosen].tolist())
    fractional = np.flatnonzero((x > 1e-9) & ~chosen)
    for position in fractional[np.argsort(-value[fractional], kind="stable")]:
        fits = np.all(used + weight[:, position] <= limits)
        if fits and subscriber[position] not in taken:
            chosen[position] = True
            used += weight[:, position]
            taken.add(subscriber[position])
    return np.flatnonzero(chosen)
