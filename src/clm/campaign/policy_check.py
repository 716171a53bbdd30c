"""Should next month's plan use the effects learned from the pilot, or keep the prior's?

The pilot is randomised, so it can judge a plan without trusting any model: among the
customers the plan's rule contacts (the treated and the comparable control), a customer's
realised value weighted by the inverse probability of the arm it landed in (the transformed
outcome, ``W / p - (1 - W) / (1 - p)``; ``p`` is the same for every such customer, as the
control share is the same in every tier x decile) averages to the true value of contacting
it. Summed over the customers where the learned effects' decision (expected value > 0, with
the pilot's measure) differs from the prior's, it is what switching to them gains. The
learned effects are judged out of fold (cross-fitting: each fold of the pilot judges the model
fitted on the other folds; those models are the ones the plan then uses), and they replace
the prior only when that gain exceeds ``campaign.uplift.min_gain_standard_errors`` of its
standard errors; otherwise the prior's table, which the pilot did not refute, plans the next
month.

The check sees only contacts the prior plan made or would have made: the pilot has no treated
customer elsewhere, so it can confirm that the learned effects rightly drop a contact, never
that a customer the prior left alone is worth contacting. A model whose decisions on the
pilot equal the prior's has nothing to show and keeps the prior.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl

from clm.campaign.candidates import EffectModel, price_pairs, with_expected_value
from clm.campaign.config import CampaignConfig
from clm.campaign.measure import pilot_rows
from clm.domain.taxonomy import Taxonomy

LEARNED, PRIOR = "learned", "prior"
Learned = TypeVar("Learned", bound=EffectModel)
JUDGED_COLUMNS = (
    "treated",
    "measure_code",
    "churned",
    "churn_probability",
    "arpu_mean_3m",
    "value_tier",
    "stage",
    "reason_1_category",
)


@dataclass(frozen=True)
class PolicyCheck:
    """The out-of-fold verdict on the learned effects, and the figures behind it."""

    effects: str  # LEARNED or PRIOR: what plans the next month
    gain_yuan: float  # learned decisions' value less the prior's, over the judged customers
    standard_error_yuan: float
    judged: int  # treated and comparable control customers of the pilot
    decisions_changed: int  # of them, those the learned effects would treat differently
    reason: str

    @property
    def keep_learned(self) -> bool:
        return self.effects == LEARNED


def cross_fit(
    pilot: pl.DataFrame,
    fit: Callable[[pl.DataFrame], Learned],
    prior: EffectModel,
    config: CampaignConfig,
    taxonomy: Taxonomy,
    folds: int,
) -> tuple[PolicyCheck, list[Learned]]:
    """Fit ``fit`` on ``pilot`` (plan rows with ``arm``, ``measure_code``,
    ``control_measure_code`` and ``churned``) less each of ``folds`` random folds, judge each
    model's decisions against ``prior``'s on its held-out fold, and return the verdict with
    the models."""
    fold = np.random.default_rng(config.seed).permutation(pilot.height) % folds
    pilot = pilot.with_columns(fold=pl.Series(fold))
    judged = pilot_rows(pilot).with_columns(measure_code=pl.col("measure"))
    treated_share = float(judged["treated"].mean()) if judged.height else 0.0
    models = [fit(pilot.filter(pl.col("fold") != k).drop("fold")) for k in range(folds)]
    change = np.zeros(judged.height)
    if not 0 < treated_share < 1:
        return _verdict(change, change, config, "one arm of the pilot has no customer"), models
    priced = price_pairs(judged.select(*JUDGED_COLUMNS, "fold"), config, taxonomy)
    for k, model in enumerate(models):
        held_out = (priced["fold"] == k).to_numpy()
        change[held_out] = decision_change(priced.filter(held_out), model, prior)
    gains = change * transformed_value(priced, treated_share)
    return _verdict(change, gains, config), models


def decision_change(priced: pl.DataFrame, learned: EffectModel, prior: EffectModel) -> np.ndarray:
    """Per ``price_pairs`` row, the learned decision less the prior's (+1: the learned effects
    contact where the prior does not, -1: they drop the prior's contact, 0: the same), each
    contacting when the expected value is positive."""
    contacts = [
        with_expected_value(priced, effects)["expected_value_yuan"].to_numpy() > 0
        for effects in (learned, prior)
    ]
    return contacts[0].astype(float) - contacts[1]


def transformed_value(priced: pl.DataFrame, treated_share: float) -> np.ndarray:
    """Per ``price_pairs`` row, its realised value weighted by the inverse probability of its
    arm, ``treated_share`` for the treated: on average the value of contacting the customer.

    The value is centred on what the churn score expects without a contact: the weights
    average to zero within every customer type, so any such baseline leaves the estimate
    unbiased, and this one takes out the spread of the customers' expected values.
    """
    weight = np.where(priced["treated"].to_numpy(), 1 / treated_share, -1 / (1 - treated_share))
    untreated = (1 - pl.col("churn_probability")) * pl.col("value_yuan")
    return weight * priced.select(realised_value_yuan() - untreated).to_series().to_numpy()


def realised_value_yuan() -> pl.Expr:
    """A pilot customer's value by the plan's own accounting on its realised churn: the margin
    over the horizon if it stayed, less for the treated the offer (paid while it stays) and
    the contact."""
    stayed = 1 - pl.col("churned").cast(pl.Float64)
    cost = stayed * pl.col("offer_cost_yuan") + pl.col("contact_cost_yuan")
    return stayed * pl.col("value_yuan") - pl.col("treated").cast(pl.Float64) * cost


def _verdict(
    change: np.ndarray, gains: np.ndarray, config: CampaignConfig, why_prior: str | None = None
) -> PolicyCheck:
    """Keep the learned effects when the summed gain clears the params' standard errors."""
    changed = int(np.count_nonzero(change))
    gain = float(gains.sum())
    error = float(np.sqrt(gains.size * gains.var(ddof=1))) if gains.size > 1 else 0.0
    needed = config.uplift.min_gain_standard_errors
    figures = f"out of fold, {changed} of {gains.size} pilot contacts change and gain "
    figures += f"{gain:+,.0f} yuan (standard error {error:,.0f})"
    if why_prior is None and changed == 0:
        why_prior = "the learned effects change no contact the pilot can judge"
    elif why_prior is None and not gain > needed * error:
        why_prior = f"{figures}, not more than {needed:g} standard errors"
    if why_prior is not None:
        return PolicyCheck(PRIOR, gain, error, gains.size, changed, f"{why_prior}: prior kept")
    return PolicyCheck(LEARNED, gain, error, gains.size, changed, f"{figures}: learned kept")
