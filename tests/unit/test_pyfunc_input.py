"""What the scorer pyfunc accepts from a pandas caller: the contract's columns, cast back to
the contract's dtypes strictly, or an InvalidInputError naming what is wrong."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest
from tests.random_history import random_raw_tables

from clm.scoring.inputs import SCORING_INPUT, scoring_input
from clm.scoring.pyfunc import InvalidInputError, from_pandas


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    tables = random_raw_tables(n_subscribers=20, n_months=3, seed=0)
    return scoring_input(tables["subscribers"].lazy(), tables["usage_monthly"].lazy()).collect()


def test_pandas_rows_come_back_with_the_contract_dtypes(rows) -> None:
    model_input = rows.to_pandas()
    assert model_input["month"].dtype.kind == "M"  # pandas has no date: datetimes arrive
    assert from_pandas(model_input).equals(rows)


def test_a_missing_column_is_named(rows) -> None:
    with pytest.raises(InvalidInputError, match=r"input lacks column\(s\) \['arpu'\]"):
        from_pandas(rows.drop("arpu").to_pandas())


def test_text_in_an_integer_column_names_the_column(rows) -> None:
    integer = next(name for name, dtype in SCORING_INPUT.items() if dtype == pl.Int64)
    model_input = rows.to_pandas()
    model_input[integer] = pd.Series(["many"] * len(model_input), dtype=object)
    with pytest.raises(InvalidInputError, match=f"does not fit the contract's dtypes.*{integer}"):
        from_pandas(model_input)
