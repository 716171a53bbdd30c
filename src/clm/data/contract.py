"""The raw data contract: the operator's three tables, their columns and vocabularies.

Every other module names raw columns through this file, so a rename happens in one place.
Months are ``pl.Date`` values on the first day of the month.
"""

from __future__ import annotations

import polars as pl

NETWORKS = ("C", "G")  # CDMA (C网) and GSM (G网)
PAYMENT_TYPES = ("postpaid", "quasi_prepaid", "prepaid")
BRANDS = ("flagship", "youth", "budget")
REGIONS = ("north", "south", "east", "west", "central")
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
    "region": pl.String(),
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
