"""Out-of-time split: train, validation and test are separate snapshot months, never random.

The test month is the latest labelled one, validation comes before it, and training uses the
months before validation, so every model is judged on months later than anything it saw.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from clm import paths
from clm.data.io import write_together
from clm.months import add_months

logger = logging.getLogger(__name__)

AUTO = "auto"
PARTS = ("train", "valid", "test")


@dataclass(frozen=True)
class SplitConfig:
    """The ``split`` section of params.yaml."""

    test_month: str  # "YYYY-MM-01" or "auto": the latest labelled snapshot month
    valid_month: str  # "YYYY-MM-01" or "auto": the month before the test month
    train_months: int  # snapshot months before the validation month used for training


@dataclass(frozen=True)
class SplitMonths:
    """The snapshot months of each part."""

    train: tuple[date, ...]
    valid: date
    test: date

    def of(self, part: str) -> tuple[date, ...]:
        """The months of ``part`` (one of PARTS)."""
        return {"train": self.train, "valid": (self.valid,), "test": (self.test,)}[part]


class SplitError(ValueError):
    """The chosen months would leak the future into training, or are not labelled."""


def choose_split_months(labelled: list[date], config: SplitConfig) -> SplitMonths:
    """Pick the months of each part from the labelled snapshot months.

    Raises:
        SplitError: a chosen month is not labelled, there are too few months, or the
            months are not strictly ordered train < valid < test.
    """
    available = sorted(set(labelled))
    if not available:
        raise SplitError("no labelled snapshot months to split")
    test = available[-1] if config.test_month == AUTO else date.fromisoformat(config.test_month)
    valid = (
        add_months(test, -1)
        if config.valid_month == AUTO
        else date.fromisoformat(config.valid_month)
    )
    train = tuple(
        month for month in available if add_months(valid, -config.train_months) <= month < valid
    )
    for name, month in (("test", test), ("valid", valid)):
        if month not in available:
            raise SplitError(f"{name} month {month} is not a labelled snapshot month")
    if not train:
        raise SplitError(f"no labelled training months before the validation month {valid}")
    months = SplitMonths(train=train, valid=valid, test=test)
    check_out_of_time(months)
    return months


def check_out_of_time(months: SplitMonths) -> None:
    """Raise unless every training month is before validation, and validation before test."""
    late = [month for month in months.train if month >= months.valid or month >= months.test]
    if late:
        raise SplitError(f"train months {late} are not before valid {months.valid}")
    if months.valid >= months.test:
        raise SplitError(f"valid month {months.valid} is not before test month {months.test}")


def labelled_snapshot_months(features: pl.LazyFrame) -> list[date]:
    """Snapshot months that carry a churn label."""
    return (
        features.filter(pl.col("churn").is_not_null())
        .select(pl.col("snapshot_month").unique().sort())
        .collect()
        .to_series()
        .to_list()
    )


def select_part(features: pl.LazyFrame, months: SplitMonths, part: str) -> pl.LazyFrame:
    """The rows of one part, by snapshot month alone."""
    return features.filter(pl.col("snapshot_month").is_in(months.of(part)))


def summarise_part(part: pl.DataFrame | pl.LazyFrame) -> dict[str, float | int]:
    """Row count and churn rate of one part, for reports/split.json."""
    row = (
        part.lazy()
        .select(rows=pl.len(), churn_rate=pl.col("churn").cast(pl.Float64).mean())
        .collect()
        .row(0, named=True)
    )
    return {"rows": row["rows"], "churn_rate": round(row["churn_rate"] or 0.0, 6)}


def run_split(
    config: SplitConfig,
    features_path: Path = paths.FEATURES,
    out_dir: Path = paths.SPLIT_DIR,
    report_path: Path = paths.SPLIT_REPORT,
) -> dict[str, dict[str, object]]:
    """Write ``out_dir/{train,valid,test}.parquet`` and a report of months, rows and churn rate.

    Shared by the DVC stage and ``clm split``; the parts stream from the feature table.
    """
    features = pl.scan_parquet(features_path)
    months = choose_split_months(labelled_snapshot_months(features), config)
    report: dict[str, dict[str, object]] = {}
    # the three parts and their report in one commit: a killed split leaves the last one whole
    targets = [out_dir / f"{part}.parquet" for part in PARTS]
    with write_together(*targets, report_path) as (*staged_parts, staged_report):
        for part, path in zip(PARTS, staged_parts, strict=True):
            select_part(features, months, part).sink_parquet(path)
            report[part] = {
                "months": [month.isoformat() for month in months.of(part)],
                **summarise_part(pl.scan_parquet(path)),
            }
            logger.info("%s: %s", part, report[part])
        staged_report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
