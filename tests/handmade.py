"""Hand-made raw tables for feature and label tests: name only what a test is about."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from clm.data.contract import CHURN_EVENTS, SUBSCRIBERS, USAGE_MONTHLY

SUBSCRIBER_DEFAULTS: dict[str, Any] = {
    "join_month": date(2022, 1, 1),
    "network": "G",
    "brand": "flagship",
    "payment_type": "postpaid",
    "is_group": False,
    "group_id": None,
    "region": "north",
    "contract_start_month": None,
    "contract_end_month": None,
    "contract_total_amount": None,
}
USAGE_DEFAULTS: dict[str, Any] = {
    "arpu": 50.0,
    "mou": 200.0,
    "calls_out": 40,
    "calls_in": 40,
    "distinct_called_numbers": 10,
    "call_forward_count": 0,
    "call_forward_offnet_count": 0,
    "sms_count": 20,
    "data_mb": 500.0,
    "vas_revenue": 5.0,
    "contract_consumed_amount": 0.0,
    "complaints": 0,
    "hotline_calls": 0,
    "dropped_call_rate": 0.01,
    "arrears": 0.0,
    "roaming_minutes": 0.0,
}


def subscribers(*rows: dict[str, Any]) -> pl.DataFrame:
    """Subscriber rows: each needs a subscriber_id, the rest defaults to a plain postpaid user."""
    return pl.DataFrame([{**SUBSCRIBER_DEFAULTS, **row} for row in rows], schema=SUBSCRIBERS)


def usage(subscriber_id: int, months: list[date], **series: list[Any]) -> pl.DataFrame:
    """One subscriber's monthly rows; each keyword gives a column's values month by month."""
    rows = [
        {
            "subscriber_id": subscriber_id,
            "month": month,
            **USAGE_DEFAULTS,
            **{name: values[i] for name, values in series.items()},
        }
        for i, month in enumerate(months)
    ]
    return pl.DataFrame(rows, schema=USAGE_MONTHLY)


def churn_events(*pairs: tuple[int, date]) -> pl.DataFrame:
    """Churn events from (subscriber_id, churn_month) pairs."""
    return pl.DataFrame(
        [
            {"subscriber_id": sid, "churn_month": month, "reason": "price", "destination": "other"}
            for sid, month in pairs
        ],
        schema=CHURN_EVENTS,
    )


def months(first: date, count: int) -> list[date]:
    """``count`` consecutive first-of-month dates from ``first``."""
    index = first.year * 12 + first.month - 1
    return [date((index + i) // 12, (index + i) % 12 + 1, 1) for i in range(count)]
