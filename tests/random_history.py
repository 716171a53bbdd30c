"""Quick random raw tables that follow the data contract, for benchmarks and leakage tests.

Not the project's generator: no lifecycle, no calibration, just the right columns, dtypes,
month gaps, churn and contracts, built with vectorised numpy so 1M subscribers take seconds.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from clm.data.contract import BRANDS, NETWORKS, PAYMENT_TYPES, RAW_TABLES
from clm.months import index_to_month, to_index
from clm.synthetic.profile import REGIONS


def random_raw_tables(
    n_subscribers: int, n_months: int, seed: int, first_month: date = date(2023, 1, 1)
) -> dict[str, pl.DataFrame]:
    """Subscribers, usage_monthly (about 3 % of months missing) and churn_events."""
    rng = np.random.default_rng(seed)
    first = to_index(first_month)
    last = first + n_months - 1
    ids = np.arange(1, n_subscribers + 1, dtype=np.int64) * 7  # not dense, not from 0
    join = rng.integers(first - 36, last + 1, n_subscribers)
    payment = rng.choice(len(PAYMENT_TYPES), n_subscribers, p=[0.4, 0.2, 0.4])
    is_group = rng.random(n_subscribers) < 0.05
    has_contract = (payment == 0) & (rng.random(n_subscribers) < 0.6)
    contract_start = join + rng.integers(0, 6, n_subscribers)
    contract_end = contract_start + rng.choice([11, 23], n_subscribers)
    contract_total = rng.choice([600.0, 1200.0, 2400.0], n_subscribers)
    churned = rng.random(n_subscribers) < 0.3
    churn = join + 1 + rng.integers(0, n_months + 12, n_subscribers)
    churned &= churn <= last
    subscribers = pl.DataFrame(
        {
            "subscriber_id": ids,
            "join_month": join,
            "network": np.array(NETWORKS)[rng.integers(0, 2, n_subscribers)],
            "brand": np.array(BRANDS)[rng.integers(0, len(BRANDS), n_subscribers)],
            "payment_type": np.array(PAYMENT_TYPES)[payment],
            "is_group": is_group,
            "group_id": np.where(is_group, ids % 97, -1),
            "region": np.array(REGIONS)[rng.integers(0, len(REGIONS), n_subscribers)],
            "contract_start_month": np.where(has_contract, contract_start, -1),
            "contract_end_month": np.where(has_contract, contract_end, -1),
            "contract_total_amount": np.where(has_contract, contract_total, np.nan),
        }
    ).with_columns(
        pl.col("group_id").replace(-1, None),
        pl.col("contract_total_amount").fill_nan(None),
        *(
            pl.when(pl.col(c) >= 0).then(index_to_month(pl.col(c).cast(pl.Int32))).alias(c)
            for c in ("join_month", "contract_start_month", "contract_end_month")
        ),
    )
    start = np.maximum(join, first)
    end = np.where(churned, churn - 1, last)
    lengths = np.clip(end - start + 1, 0, None)
    row_of = np.repeat(np.arange(n_subscribers), lengths)
    offsets = np.arange(len(row_of)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    month = start[row_of] + offsets
    keep = rng.random(len(row_of)) >= 0.03
    row_of, month = row_of[keep], month[keep]
    n = len(row_of)
    level = rng.gamma(2.0, 30.0, n_subscribers)[row_of]
    arpu = np.round(level * rng.uniform(0.0, 2.0, n) * (rng.random(n) > 0.05), 2)
    in_contract = has_contract[row_of] & (month >= contract_start[row_of])
    elapsed = (month - contract_start[row_of] + 1) / (
        contract_end[row_of] - contract_start[row_of] + 1
    )
    calls_out = rng.poisson(level / 2.0)
    forwards = rng.poisson(0.3, n)
    mou = arpu * rng.uniform(1.0, 4.0, n)
    usage = pl.DataFrame(
        {
            "subscriber_id": ids[row_of],
            "month": month,
            "arpu": arpu,
            "mou": mou,
            "calls_out": calls_out,
            "calls_in": rng.poisson(level / 2.0),
            "distinct_called_numbers": np.minimum(calls_out, rng.poisson(10, n)),
            "call_forward_count": forwards,
            "call_forward_offnet_count": rng.binomial(forwards, 0.3),
            "sms_count": rng.poisson(20, n),
            "data_mb": rng.gamma(1.5, 300.0, n),
            "vas_revenue": rng.gamma(1.0, 3.0, n),
            "contract_consumed_amount": np.where(
                in_contract, contract_total[row_of] * np.clip(elapsed, 0.0, 1.0), 0.0
            ),
            "complaints": rng.poisson(0.2, n),
            "hotline_calls": rng.poisson(0.3, n),
            "dropped_call_rate": rng.beta(1.0, 50.0, n),
            "arrears": np.where(rng.random(n) < 0.05, rng.gamma(1.0, 50.0, n), 0.0),
            "roaming_minutes": mou * rng.beta(1.0, 20.0, n),
        }
    ).with_columns(index_to_month(pl.col("month").cast(pl.Int32)).alias("month"))
    churn_events = pl.DataFrame(
        {
            "subscriber_id": ids[churned],
            "churn_month": churn[churned],
            "reason": rng.choice(["price", "other"], int(churned.sum())),
            "destination": rng.choice(["main_competitor", "other"], int(churned.sum())),
        }
    ).with_columns(index_to_month(pl.col("churn_month").cast(pl.Int32)).alias("churn_month"))
    tables = {"subscribers": subscribers, "usage_monthly": usage, "churn_events": churn_events}
    return {
        name: frame.select(pl.col(c).cast(t) for c, t in RAW_TABLES[name].items())
        for name, frame in tables.items()
    }
