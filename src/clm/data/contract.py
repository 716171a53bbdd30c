"""The raw data contract: the operator's three tables, their columns and vocabularies.

Every other module names raw columns through this file, so a rename happens in one place.
Months are ``pl.Date`` values on the first day of the month.
"""

from __future__ import annotations

import polars as pl

NETWORKS = ("C", "G")  # CDMA (C网) and GSM (G网)
PAYMENT_TYPES = ("postpaid", "quasi_prepaid", "prepaid")
BRANDS = ("flagship", "youth", "budget")
DESTINATIONS = ("main_competitor", "phs", "own_other_product", "other")

# The 11 exit-survey reasons of domain.md §4.1, in the survey's order.
SURVEY_REASONS = (
    "coverage_quality",
    "price",
    "handset",
    "billing",
    "after_sales_service",
    "malicious_arrears",
    "value_added_services",
    "channel_sim_flipping",
    "brand_image",
    "relocation",
    "other",
)

SUBSCRIBERS: dict[str, pl.DataType] = {
    "subscriber_id": pl.Int64(),
    "join_month": pl.Date(),
    "network": pl.String(),
    "brand": pl.String(),
    "payment_type": pl.String(),
    "is_group": pl.Boolean(),
    "group_id": pl.Int64(),  # null when not in a group
    "region": pl.String(),  # the operator's own geography: any non-empty name
    "contract_start_month": pl.Date(),  # null when no contract
    "contract_end_month": pl.Date(),  # null when no contract
    "contract_total_amount": pl.Float64(),  # yuan; null when no contract
}

USAGE_MONTHLY: dict[str, pl.DataType] = {
    "subscriber_id": pl.Int64(),
    "month": pl.Date(),
    "arpu": pl.Float64(),  # yuan billed in the month
    "mou": pl.Float64(),  # minutes of use
    "calls_out": pl.Int64(),
    "calls_in": pl.Int64(),
    "distinct_called_numbers": pl.Int64(),
    "call_forward_count": pl.Int64(),
    "call_forward_offnet_count": pl.Int64(),  # forwarded to other operators' mobiles
    "sms_count": pl.Int64(),
    "data_mb": pl.Float64(),
    "vas_revenue": pl.Float64(),  # yuan of value-added services
    "contract_consumed_amount": pl.Float64(),  # yuan consumed of the contract so far; 0 without one
    "complaints": pl.Int64(),
    "hotline_calls": pl.Int64(),  # calls to the service hotline
    "dropped_call_rate": pl.Float64(),  # share of calls dropped, 0..1
    "arrears": pl.Float64(),  # yuan overdue at month end
    "roaming_minutes": pl.Float64(),
}

CHURN_EVENTS: dict[str, pl.DataType] = {
    "subscriber_id": pl.Int64(),
    "churn_month": pl.Date(),  # first month without service; no usage from this month on
    "reason": pl.String(),
    "destination": pl.String(),
}

# The top of each numeric column's plausible range (the bottom is 0: ``non_negative``;
# ``dropped_call_rate`` is a share, 0..1). A value above it is a unit or extraction error, not
# a customer: its row is quarantined, so no single value can overflow a feature or inflate a
# budget cap. Generous on purpose: a month has at most 44,640 minutes, and the synthetic
# operator's largest values are at least 4 times below these.
MINUTES_PER_MONTH = 31 * 24 * 60
PLAUSIBLE_MAX: dict[str, float] = {
    "contract_total_amount": 1_000_000.0,  # yuan
    "arpu": 100_000.0,  # yuan in a month
    "mou": MINUTES_PER_MONTH,
    "calls_out": 100_000,
    "calls_in": 100_000,
    "distinct_called_numbers": 100_000,
    "call_forward_count": 100_000,
    "call_forward_offnet_count": 100_000,
    "sms_count": 1_000_000,
    "data_mb": 10_000_000.0,  # 10 TB
    "vas_revenue": 100_000.0,  # yuan
    "contract_consumed_amount": 1_000_000.0,  # yuan, at most the largest contract
    "complaints": 1_000,
    "hotline_calls": 1_000,
    "arrears": 1_000_000.0,  # yuan
    "roaming_minutes": MINUTES_PER_MONTH,
}

RAW_TABLES: dict[str, dict[str, pl.DataType]] = {
    "subscribers": SUBSCRIBERS,
    "usage_monthly": USAGE_MONTHLY,
    "churn_events": CHURN_EVENTS,
}

TRUTH_MONTHLY: dict[str, pl.DataType] = {
    "subscriber_id": pl.Int64(),
    "month": pl.Date(),
    "stage": pl.String(),
}
