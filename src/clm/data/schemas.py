"""Pandera schemas of the three raw tables: what one row must satisfy to enter the pipeline.

Dtypes come from ``clm.data.contract`` so they are stated once. Every check is a vectorised
polars expression with a short, stable name; the name is what the quarantine files and
``reports/validation.json`` show, so keep names unchanged once data has been quarantined.
Checks across tables (a usage row's subscriber must exist, usage must fall inside the
subscriber's life) live in ``clm.data.validate`` because pandera sees one table at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import pandera.polars as pa
import polars as pl

from clm.data.contract import (
    BRANDS,
    CHURN_EVENTS,
    DESTINATIONS,
    NETWORKS,
    PAYMENT_TYPES,
    PLAUSIBLE_MAX,
    SUBSCRIBERS,
    SURVEY_REASONS,
    USAGE_MONTHLY,
)


def expression_check(name: str, condition: Callable[[str], pl.Expr]) -> pa.Check:
    """A vectorised column check: ``condition(column)`` is True for good values.

    A null result counts as passing, so nullability is left to ``Column(nullable=...)``.
    """
    return pa.Check(lambda data: data.lazyframe.select(condition(data.key)), name=name)


def allowed_values(values: Iterable[str]) -> pa.Check:
    """Values must come from the contract's vocabulary."""
    vocabulary = list(values)
    return expression_check("allowed_values", lambda column: pl.col(column).is_in(vocabulary))


# A name a person can read: the operator's own vocabularies (regions) are open, but not blank.
NON_BLANK = expression_check(
    "non_blank", lambda column: pl.col(column).str.strip_chars().str.len_chars() > 0
)
FIRST_OF_MONTH = expression_check("first_of_month", lambda column: pl.col(column).dt.day() == 1)
NON_NEGATIVE = expression_check("non_negative", lambda column: pl.col(column) >= 0)
POSITIVE = expression_check("positive", lambda column: pl.col(column) > 0)
FINITE = expression_check("finite", lambda column: pl.col(column).is_finite())
SHARE = expression_check("between_0_and_1", lambda column: pl.col(column).is_between(0, 1))
PLAUSIBLE = expression_check(
    "plausible_max", lambda column: pl.col(column) <= PLAUSIBLE_MAX[column]
)

GROUP_ID_IFF_IS_GROUP = expression_check(
    "group_id_iff_is_group", lambda column: pl.col(column).is_not_null() == pl.col("is_group")
)
# A contract has a start, an end and an amount, or none of them.
WITH_CONTRACT_START = expression_check(
    "present_iff_contract_start",
    lambda column: pl.col(column).is_null() == pl.col("contract_start_month").is_null(),
)
NOT_BEFORE_CONTRACT_START = expression_check(
    "not_before_contract_start", lambda column: pl.col(column) >= pl.col("contract_start_month")
)


def table_schema(
    name: str,
    contract: Mapping[str, pl.DataType],
    checks: Mapping[str, Sequence[pa.Check]],
    nullable: Iterable[str] = (),
    unique_key: Sequence[str] = (),
) -> pa.DataFrameSchema:
    """Build a schema whose dtypes are the contract's and whose columns are non-null by default.

    A single-column ``unique_key`` is checked per column (``field_uniqueness``), a longer one
    across columns (``multiple_fields_uniqueness``). All copies of a duplicate fail: which
    copy is right cannot be told from the data.
    """
    nullable = set(nullable)
    single_key = unique_key[0] if len(unique_key) == 1 else None
    columns = {
        column: pa.Column(
            dtype,
            checks=list(checks.get(column, ())),
            nullable=column in nullable,
            unique=column == single_key,
        )
        for column, dtype in contract.items()
    }
    return pa.DataFrameSchema(
        columns,
        name=name,
        unique=list(unique_key) if len(unique_key) > 1 else None,
        report_duplicates="all",
        coerce=False,
        strict=False,
    )


_USAGE_COUNTS = (
    "calls_out",
    "calls_in",
    "distinct_called_numbers",
    "call_forward_count",
    "call_forward_offnet_count",
    "sms_count",
    "complaints",
    "hotline_calls",
)
_USAGE_AMOUNTS = (
    "arpu",
    "mou",
    "data_mb",
    "vas_revenue",
    "contract_consumed_amount",
    "arrears",
    "roaming_minutes",
)

SUBSCRIBERS_SCHEMA = table_schema(
    "subscribers",
    SUBSCRIBERS,
    checks={
        "join_month": [FIRST_OF_MONTH],
        "network": [allowed_values(NETWORKS)],
        "brand": [allowed_values(BRANDS)],
        "payment_type": [allowed_values(PAYMENT_TYPES)],
        "group_id": [GROUP_ID_IFF_IS_GROUP],
        "region": [NON_BLANK],
        "contract_start_month": [FIRST_OF_MONTH],
        "contract_end_month": [FIRST_OF_MONTH, WITH_CONTRACT_START, NOT_BEFORE_CONTRACT_START],
        "contract_total_amount": [FINITE, POSITIVE, PLAUSIBLE, WITH_CONTRACT_START],
    },
    nullable=("group_id", "contract_start_month", "contract_end_month", "contract_total_amount"),
    unique_key=("subscriber_id",),
)

USAGE_MONTHLY_SCHEMA = table_schema(
    "usage_monthly",
    USAGE_MONTHLY,
    checks={
        "month": [FIRST_OF_MONTH],
        **{column: [NON_NEGATIVE, PLAUSIBLE] for column in _USAGE_COUNTS},
        **{column: [FINITE, NON_NEGATIVE, PLAUSIBLE] for column in _USAGE_AMOUNTS},
        "dropped_call_rate": [FINITE, SHARE],
    },
    unique_key=("subscriber_id", "month"),
)

CHURN_EVENTS_SCHEMA = table_schema(
    "churn_events",
    CHURN_EVENTS,
    checks={
        "churn_month": [FIRST_OF_MONTH],
        "reason": [allowed_values(SURVEY_REASONS)],
        "destination": [allowed_values(DESTINATIONS)],
    },
    unique_key=("subscriber_id",),
)

RAW_SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "subscribers": SUBSCRIBERS_SCHEMA,
    "usage_monthly": USAGE_MONTHLY_SCHEMA,
    "churn_events": CHURN_EVENTS_SCHEMA,
}
