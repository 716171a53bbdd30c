"""Calendar-month arithmetic on first-of-month ``pl.Date`` values.

Features, labels and the split all compare calendar months (T-1, T+H), never row positions,
so they share one integer month index: ``year * 12 + month - 1``.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from clm.errors import InputError


def month_index(month: pl.Expr) -> pl.Expr:
    """Integer index of a month, so that consecutive months differ by exactly 1."""
    return month.dt.year().cast(pl.Int32) * 12 + month.dt.month().cast(pl.Int32) - 1


def index_to_month(index: pl.Expr) -> pl.Expr:
    """The first-of-month date of an integer month index."""
    return pl.date(index // 12, index % 12 + 1, 1)


def to_index(month: date) -> int:
    """Python twin of ``month_index`` for scalars."""
    return month.year * 12 + month.month - 1


def from_index(index: int) -> date:
    """Python twin of ``index_to_month`` for scalars."""
    return date(index // 12, index % 12 + 1, 1)


def add_months(month: date, months: int) -> date:
    """The first of the month ``months`` after (or before, if negative) ``month``."""
    return from_index(to_index(month) + months)


def require_first_of_month(month: date) -> date:
    """``month`` itself; InputError unless it is the first of a month, as every month here is."""
    if month.day != 1:
        raise InputError(f"month {month}: months are written as the first of the month, YYYY-MM-01")
    return month


def parse_month(text: str) -> date:
    """The month of a ``YYYY-MM-01`` string, e.g. a command-line option; InputError otherwise."""
    try:
        month = date.fromisoformat(text)
    except ValueError as error:
        raise InputError(f"month '{text}': expected YYYY-MM-01, the first of a month") from error
    return require_first_of_month(month)
