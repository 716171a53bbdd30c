"""Side by side: the seed documents' churn figures and the same figures measured on data.

Each figure is measured from the raw tables only, exactly as an analyst at the operator
would measure it, so the comparison says whether the generator behaves like the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import polars as pl

from clm.data.contract import SURVEY_REASONS
from clm.domain.taxonomy import load_taxonomy
from clm.safe_yaml import read_yaml

ARPU_BAND_NAMES = ("0-50", "50-100", ">100")
HALF_YEAR = 6


@dataclass(frozen=True)
class Figure:
    """One seed figure next to its generated value."""

    name: str
    target: float
    generated: float
    tolerance: float

    @property
    def within_tolerance(self) -> bool:
        return abs(self.generated - self.target) <= self.tolerance


@cache
def load_seed_figures() -> dict:
    """The packaged seed figures and tolerances."""
    return read_yaml(resources.files("clm.synthetic") / "seed_figures.yaml")


def measure_calibration(
    subscribers: pl.DataFrame, usage: pl.LazyFrame, churn_events: pl.DataFrame
) -> list[Figure]:
    """Measure every seed figure on the raw tables."""
    seeds = load_seed_figures()
    churners = churn_events.join(subscribers, on="subscriber_id")
    return [
        *_half_year_churn(subscribers, usage, churn_events, seeds["half_year_churn_rate"]),
        *_gsm_payment_mix(churners, seeds["gsm_churner_payment_mix"]),
        *_gsm_arpu_mix(subscribers, usage, churn_events, seeds["gsm_arpu_mix"]),
        *_reason_shares(churners, seeds["reason_share"]["tolerance"]),
        *_mean_tenure(subscribers, usage, churners, seeds["mean_tenure_months"]),
    ]


def _months_between(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later.dt.year() - earlier.dt.year()) * 12 + later.dt.month() - earlier.dt.month()


def _half_year_churn(
    subscribers: pl.DataFrame, usage: pl.LazyFrame, churn_events: pl.DataFrame, seed: dict
) -> list[Figure]:
    """Share of a month's active base gone within six months, averaged over start months."""
    months = usage.select(pl.col("month").unique().sort()).collect()["month"]
    starts = months[: len(months) - HALF_YEAR]
    base = (
        usage.filter(pl.col("month").is_in(starts.implode()))
        .select("subscriber_id", "month")
        .join(subscribers.lazy().select("subscriber_id", "network"), on="subscriber_id")
        .join(
            churn_events.lazy().select("subscriber_id", "churn_month"),
            on="subscriber_id",
            how="left",
        )
        .with_columns(
            gone=_months_between(pl.col("churn_month"), pl.col("month"))
            .is_between(1, HALF_YEAR)
            .fill_null(False)
        )
        .group_by("network", "month")
        .agg(pl.col("gone").mean())
        .group_by("network")
        .agg(pl.col("gone").mean())
        .collect()
    )
    rates = dict(base.iter_rows())
    return [
        Figure(
            f"half-year churn rate, network {net}",
            target,
            rates.get(net, float("nan")),
            seed["tolerance"],
        )
        for net, target in seed["targets"].items()
    ]


def _gsm_payment_mix(churners: pl.DataFrame, seed: dict) -> list[Figure]:
    gsm = churners.filter(pl.col("network") == "G")
    shares = dict(gsm["payment_type"].value_counts(normalize=True).iter_rows())
    return [
        Figure(
            f"GSM churners paying {payment}", target, shares.get(payment, 0.0), seed["tolerance"]
        )
        for payment, target in seed["targets"].items()
    ]


def _gsm_arpu_mix(
    subscribers: pl.DataFrame, usage: pl.LazyFrame, churn_events: pl.DataFrame, seed: dict
) -> list[Figure]:
    """ARPU bands of GSM churners (their mean monthly ARPU in the window) vs the GSM active
    base (every active subscriber-month)."""
    gsm_usage = usage.join(
        subscribers.lazy().filter(pl.col("network") == "G").select("subscriber_id"),
        on="subscriber_id",
    )
    churners = (
        gsm_usage.join(churn_events.lazy().select("subscriber_id"), on="subscriber_id")
        .group_by("subscriber_id")
        .agg(pl.col("arpu").mean())
    )
    groups = {"churners": churners, "active_base": gsm_usage.select("arpu")}
    figures = []
    for group, frame in groups.items():
        bands = frame.select(_arpu_band(pl.col("arpu"), seed["bands_yuan"])).collect()
        shares = dict(bands["arpu"].value_counts(normalize=True).iter_rows())
        for band, target in zip(ARPU_BAND_NAMES, seed[group], strict=True):
            label = f"GSM {group.replace('_', ' ')} with ARPU {band} yuan"
            figures.append(Figure(label, target, shares.get(band, 0.0), seed["tolerance"]))
    return figures


def _arpu_band(arpu: pl.Expr, bounds: list[float]) -> pl.Expr:
    low, high = bounds
    names = ARPU_BAND_NAMES
    return (
        pl.when(arpu <= low)
        .then(pl.lit(names[0]))
        .when(arpu <= high)
        .then(pl.lit(names[1]))
        .otherwise(pl.lit(names[2]))
        .alias("arpu")
    )


def _reason_shares(churners: pl.DataFrame, tolerance: float) -> list[Figure]:
    taxonomy = load_taxonomy()
    figures = []
    for network in ("C", "G"):
        reasons = churners.filter(pl.col("network") == network)["reason"]
        shares = dict(reasons.value_counts(normalize=True).iter_rows())
        for code in SURVEY_REASONS:
            target = taxonomy.survey_reasons[code].share[network]
            figures.append(
                Figure(
                    f"reason share {code}, network {network}",
                    target,
                    shares.get(code, 0.0),
                    tolerance,
                )
            )
    return figures


def _mean_tenure(
    subscribers: pl.DataFrame, usage: pl.LazyFrame, churners: pl.DataFrame, seed: dict
) -> list[Figure]:
    """Tenure of the active base over its subscriber-months, and of churners when they left."""
    active = (
        usage.select("subscriber_id", "month")
        .join(subscribers.lazy(), on="subscriber_id")
        .group_by("network")
        .agg(_months_between(pl.col("month"), pl.col("join_month")).mean())
        .collect()
    )
    churned = churners.group_by("network").agg(
        _months_between(pl.col("churn_month"), pl.col("join_month")).mean()
    )
    measured = {"active": dict(active.iter_rows()), "churned": dict(churned.iter_rows())}
    return [
        Figure(
            f"mean tenure (months) of {group} subscribers, network {net}",
            target,
            measured[group].get(net, float("nan")),
            seed["tolerance"],
        )
        for net, targets in seed["targets"].items()
        for group, target in targets.items()
    ]


def render_markdown(figures: list[Figure]) -> str:
    """The calibration report: target and generated figure side by side."""
    failing = sum(not f.within_tolerance for f in figures)
    lines = [
        "# Calibration of the synthetic operator against the seed figures",
        "",
        "Targets are the figures of `domain.md` §5 and §4.1; generated values are measured on",
        "the raw tables of the default pipeline run (`dvc repro generate calibrate`).",
        "",
        f"**{len(figures) - failing} of {len(figures)} figures within tolerance.**",
        "",
        "| figure | target | generated | tolerance | within |",
        "|---|---:|---:|---:|:---:|",
    ]
    for f in figures:
        mark = "yes" if f.within_tolerance else "**NO**"
        lines.append(
            f"| {f.name} | {f.target:.3f} | {f.generated:.3f} | ±{f.tolerance:.3f} | {mark} |"
        )
    return "\n".join(lines) + "\n"
