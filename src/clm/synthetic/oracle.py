"""The oracle: each subscriber's true probability of churning within the label horizon.

Only synthetic data has one. It runs the generator's own lifecycle chain forward from the
latent stage at the snapshot month, with the same warning hazard the generator used, so a
model's distance to the oracle's AUC is what the observable features cannot recover.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from clm.months import add_months, month_index
from clm.synthetic.lifecycle import STAGE_NAMES, churn_probability_within, warning_hazard
from clm.synthetic.profile import REGIONS, GeneratorProfile, load_profile
from clm.synthetic.shocks import Shock, shock_hazard, with_shock


def oracle_churn_probability(
    snapshots: pl.DataFrame,
    subscribers: pl.DataFrame,
    truth_subscribers: pl.DataFrame,
    horizon_months: int,
    profile: GeneratorProfile | None = None,
    shocks: tuple[Shock, ...] = (),
) -> np.ndarray:
    """True P(churn in (T, T+H]) for each row of ``snapshots``.

    Args:
        snapshots: rows with subscriber_id, snapshot_month and stage_true (latent stage at T).
        subscribers: the raw subscribers table (join and contract months, network).
        truth_subscribers: the generator's latent attributes (base_warning_hazard).
        horizon_months: H of the churn label.
        profile: the generator profile the data was made with.
        shocks: the market shocks the data was made with (``generate.shocks``).
    """
    profile = profile or load_profile()
    rows = (
        snapshots.select("subscriber_id", "snapshot_month", "stage_true")
        .join(subscribers, on="subscriber_id", how="left")
        .join(truth_subscribers, on="subscriber_id", how="left")
        .select(
            stage=pl.col("stage_true").replace_strict(list(STAGE_NAMES), range(4)),
            base=pl.col("base_warning_hazard"),
            is_g=pl.col("network") == "G",
            region=pl.col("region").replace_strict(list(REGIONS), range(len(REGIONS))),
            month=pl.col("snapshot_month"),
            tenure=month_index(pl.col("snapshot_month")) - month_index(pl.col("join_month")),
            to_end=(
                month_index(pl.col("contract_end_month")) - month_index(pl.col("snapshot_month"))
            )
            .cast(pl.Float64)
            .fill_null(np.nan),
        )
    )
    if rows["base"].null_count():
        raise ValueError("oracle: some snapshot subscribers have no truth attributes")
    hazards = np.stack(
        [
            with_shock(
                warning_hazard(
                    rows["base"].to_numpy(),
                    rows["is_g"].to_numpy(),
                    rows["tenure"].to_numpy() + step,
                    rows["to_end"].to_numpy() - step,
                    profile,
                ),
                _shock_push(rows, shocks, profile, step),
            )
            for step in range(horizon_months)
        ]
    )
    return churn_probability_within(rows["stage"].to_numpy(), hazards, profile.transitions)


def _shock_push(
    rows: pl.DataFrame, shocks: tuple[Shock, ...], profile: GeneratorProfile, step: int
) -> np.ndarray:
    """The shocks' extra hazard of each row in the step into month T + step + 1."""
    extra = np.zeros(rows.height)
    if not shocks:
        return extra
    region, months = rows["region"].to_numpy(), rows["month"]
    for month in months.unique():
        at = (months == month).to_numpy()
        extra[at] = shock_hazard(shocks, profile, region[at], add_months(month, step + 1))[0]
    return extra
