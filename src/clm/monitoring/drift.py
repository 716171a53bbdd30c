"""Distribution drift: the population stability index and a statistical test per column.

PSI reads how far a distribution moved in the reference's own bins (equal-count bins for a
number, one bin per value for a category, nulls a bin of their own), so it is comparable across
features and sample sizes; the test (Kolmogorov-Smirnov for numbers, chi-square for categories,
from scipy) says whether the move could be chance. With a million customers nearly any move is
significant, so an alert needs both: a PSI beyond its threshold and a small p-value.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

# A bin empty on one side would make PSI infinite; shares are floored at this.
SHARE_FLOOR = 1e-4
DRIFT_SCHEMA = {
    "feature": pl.String(),
    "kind": pl.String(),
    "psi": pl.Float64(),
    "statistic": pl.Float64(),
    "p_value": pl.Float64(),
}


def population_stability_index(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI between two vectors of bin shares: sum (a - e) ln(a / e), shares floored."""
    expected = np.maximum(np.asarray(expected, dtype=float), SHARE_FLOOR)
    actual = np.maximum(np.asarray(actual, dtype=float), SHARE_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def is_categorical(dtype: pl.DataType) -> bool:
    """Enums, strings and flags are compared value by value; every other column as a number."""
    return isinstance(dtype, pl.Enum | pl.Categorical) or dtype in (pl.String, pl.Boolean)


def numeric_drift(
    reference: pl.Series, current: pl.Series, bins: int, test_rows: int
) -> tuple[float, float | None, float | None]:
    """(PSI in the reference's equal-count bins plus a null bin, KS statistic, KS p-value);
    no test when one side has only nulls. The KS test reads at most ``test_rows`` values a
    side (an even-spaced subsample: at that size it still sees any move PSI would flag, and a
    million-row month stays within its time budget); PSI reads every value."""
    ref, cur = reference.drop_nulls().to_numpy(), current.drop_nulls().to_numpy()
    if ref.size == 0 or cur.size == 0:
        shares = _null_shares(reference), _null_shares(current)
        return population_stability_index(*shares), None, None
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = [
        np.append(
            np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1),
            nulls,
        )
        for values, nulls in ((ref, reference.null_count()), (cur, current.null_count()))
    ]
    psi = population_stability_index(counts[0] / reference.len(), counts[1] / current.len())
    test = stats.ks_2samp(_thinned(ref, test_rows), _thinned(cur, test_rows), method="asymp")
    return psi, float(test.statistic), float(test.pvalue)


def categorical_drift(reference: pl.Series, current: pl.Series) -> tuple[float, float, float]:
    """(PSI over the values seen on either side, null a value, chi-square statistic, p-value)."""
    ref, cur = _value_counts(reference), _value_counts(current)
    values = sorted(ref.keys() | cur.keys())
    counts = np.array([[ref.get(v, 0) for v in values], [cur.get(v, 0) for v in values]], float)
    psi = population_stability_index(*(row / row.sum() for row in counts))
    if len(values) < 2:
        return psi, 0.0, 1.0
    statistic, p_value, _, _ = stats.chi2_contingency(counts)
    return psi, float(statistic), float(p_value)


def column_drift(
    reference: pl.Series, current: pl.Series, bins: int, test_rows: int
) -> tuple[str, float, float | None, float | None]:
    """(kind, PSI, statistic, p-value) of one column, the test chosen by its dtype."""
    if is_categorical(reference.dtype):
        return "categorical", *categorical_drift(reference, current)
    numbers = reference.cast(pl.Float64), current.cast(pl.Float64)
    return "numeric", *numeric_drift(*numbers, bins, test_rows)


def frame_drift(
    reference: pl.DataFrame, current: pl.DataFrame, columns: list[str], bins: int, test_rows: int
) -> pl.DataFrame:
    """One row per column: its kind, PSI, test statistic and p-value (``DRIFT_SCHEMA``)."""
    rows = [
        (name, *column_drift(reference[name], current[name], bins, test_rows)) for name in columns
    ]
    return pl.DataFrame(rows, schema=DRIFT_SCHEMA, orient="row")


def _thinned(values: np.ndarray, rows: int) -> np.ndarray:
    """At most ``rows`` of ``values``, evenly spaced (deterministic; rows are in id order)."""
    if values.size <= rows:
        return values
    return values[np.linspace(0, values.size - 1, rows).astype(np.int64)]


def _value_counts(series: pl.Series) -> dict[str, int]:
    counts = series.cast(pl.String).fill_null("<null>").value_counts(name="n")
    return dict(counts.rows())


def _null_shares(series: pl.Series) -> np.ndarray:
    share = series.null_count() / max(series.len(), 1)
    return np.array([1 - share, share])
