"""``clm snapshot score``: a snapshot run's model applied to customers whose outcome is not
known yet (this month's export of the same table).

The file is read, cleaned, filtered and mapped by the mapping the model was trained with (the
copy in its folder: a mapping edited since cannot feed the model other features), with no
label, split or reason column. A row failing the mapped table's schema (a range, a duplicate
id), or holding a category value the model never saw where the feature pools no rare values,
is quarantined with its failed checks; a value that does not convert stops the run with one
line, as ``clm snapshot check`` does. Rows in = scored + quarantined + filtered.

Each scored customer gets the model's churn probability (as in the run's test scores: weighted
to the mapping's population rate, Platt-scaled where the run was), a risk decile within the
file, and the top reasons in the taxonomy with their Chinese and English names.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from clm.data.io import write_together
from clm.data.validate import FAILED_CHECKS, failures_where, schema_failures, split_rows
from clm.domain.taxonomy import load_taxonomy
from clm.models.encoding import known_levels
from clm.models.trained import BOOSTER_FILE, TrainedModel
from clm.reports.sheets import named, write_csv, write_xlsx
from clm.scoring.inputs import UNKNOWN_TO_MODEL
from clm.scoring.rules import risk_deciles
from clm.snapshot.frame import (
    FILE,
    ID,
    PART,
    DroppedRows,
    filter_rows,
    map_frame,
    read_source,
    snapshot_schema,
)
from clm.snapshot.mapping import Mapping, MappingError, load_mapping
from clm.snapshot.report import explain_snapshot

log = logging.getLogger(__name__)

MAPPING_COPY = "mapping.yaml"  # the mapping a run trained with, saved beside its model
ROW = "_clm_input_row"  # a row's position in the input, through filters and checks
XLSX_ROWS = 100_000  # the riskiest customers scores.xlsx holds (all are in the CSV)
OUTPUTS = ("scores.parquet", "scores.csv", "scores.xlsx", "quarantine.csv", "summary.json")


@dataclass(frozen=True)
class CheckedRows:
    """Rows to score after the mapping's filters and the model's checks: each input row is
    accepted, quarantined or filtered, and carries its input position (``ROW``)."""

    accepted: pl.DataFrame  # the mapped rows the model can score
    quarantined: pl.DataFrame  # the source rows it cannot, with ``failed_checks``
    dropped: tuple[DroppedRows, ...]  # per filter rule
    rows_in: int

    def failed_checks(self) -> dict[str, int]:
        """Quarantined rows per failed check, most failed first."""
        counts = self.quarantined[FAILED_CHECKS].explode().value_counts(sort=True)
        return dict(counts.iter_rows())


@dataclass(frozen=True)
class ScoredFile:
    """A scored file: one row per scored customer, the quarantined source rows with their
    failed checks, and the counts that add up to the file's rows."""

    scores: pl.DataFrame
    checked: CheckedRows

    def summary(self, model_dir: Path, data: Path) -> dict:
        """``summary.json``: the counts (rows in = scored + quarantined + filtered), the
        failed checks and filter rules behind them, and the mean probability."""
        checked = self.checked
        return {
            "input": str(data),
            "model": str(model_dir),
            "rows_in": checked.rows_in,
            "scored": self.scores.height,
            "quarantined": checked.quarantined.height,
            "filtered": sum(rows.rows for rows in checked.dropped),
            "dropped_rows": [asdict(rows) for rows in checked.dropped],
            "failed_checks": checked.failed_checks(),
            "mean_churn_probability": self.scores["churn_probability"].mean(),
        }


def trained_mapping(model_dir: Path, data: Path) -> Mapping:
    """The mapping the model in ``model_dir`` was trained with, reading ``data``."""
    if not (model_dir / BOOSTER_FILE).is_file() or not (model_dir / MAPPING_COPY).is_file():
        raise MappingError(
            f"no trained snapshot model in {model_dir} (run 'clm snapshot run' on the mapping)"
        )
    # the copy's own data paths point beside the model: never read, so no folder rule applies
    return load_mapping(model_dir / MAPPING_COPY, allow_outside=True).unlabelled(data)


def check_rows(mapping: Mapping, model: TrainedModel, source: pl.DataFrame) -> CheckedRows:
    """Filter, map and check ``source`` (``read_source``'s table) for ``model``."""
    indexed = source.with_row_index(ROW)
    kept, dropped = filter_rows(mapping, indexed)
    table = map_frame(mapping, kept)
    if not mapping.id_column:  # rows numbered as in the input, the filtered ones counted
        table = table.with_columns((kept[ROW] + 1).cast(pl.String).alias(ID))
    unknown = {
        (name, UNKNOWN_TO_MODEL): ~pl.col(name).is_in(list(levels))
        for name, levels in known_levels(model.encoder).items()
    }
    failures = schema_failures(table, mapping.dataset, snapshot_schema(mapping))
    if unknown:  # a mapping with category features
        failures = pl.concat([failures, failures_where(table, unknown)])
    accepted = split_rows(table.with_columns(kept[ROW]), mapping.dataset, failures).accepted
    quarantined = split_rows(kept.drop(FILE, PART), mapping.dataset, failures).quarantined
    return CheckedRows(accepted, quarantined, dropped, source.height)


def score_file(model_dir: Path, data: Path, reasons: int) -> ScoredFile:
    """Score every customer of ``data`` with the model in ``model_dir`` (a run's ``model/``),
    with its top ``reasons`` causes."""
    if not data.is_file():
        raise MappingError(f"file to score not found: {data}")
    mapping = trained_mapping(model_dir, data)
    model = TrainedModel.load(model_dir)
    checked = check_rows(mapping, model, read_source(mapping))
    if checked.accepted.is_empty():
        failed = dict(list(checked.failed_checks().items())[:5])
        filtered = {rows.rule: rows.rows for rows in checked.dropped if rows.rows}
        raise MappingError(
            f"{data}: none of its {checked.rows_in} rows can be scored; filtered: {filtered}; "
            f"most failed checks: {failed}"
        )
    log.info(
        "%s: %d of %d rows scored, %d quarantined", data.name, checked.accepted.height,
        checked.rows_in, checked.quarantined.height,
    )  # fmt: skip
    explained = explain_snapshot(model, checked.accepted.drop(ROW), mapping, reasons)
    return ScoredFile(_scores(explained, reasons), checked)


def _scores(explained: pl.DataFrame, reasons: int) -> pl.DataFrame:
    """Per customer, riskiest first: probability, risk decile (1 = the riskiest tenth of the
    file; ties by id) and the top reasons' codes, names and contributions (log-odds)."""
    taxonomy = load_taxonomy()
    decile = risk_deciles(explained.select("churn_probability", subscriber_id=ID))
    return (
        explained.with_columns(risk_decile=decile)
        .select(
            ID,
            "churn_probability",
            "risk_decile",
            *(
                column
                for i in range(1, reasons + 1)
                for column in (
                    *named(f"reason_{i}_cause", f"reason_{i}", taxonomy.causes),
                    *named(f"reason_{i}_category", f"reason_{i}_category", taxonomy.categories),
                    pl.col(f"reason_{i}_contribution"),
                )
            ),
        )
        .sort("churn_probability", ID, descending=[True, False])
    )


def write_scored(
    scored: ScoredFile, out: Path, model_dir: Path, data: Path, xlsx_rows: int = XLSX_ROWS
) -> dict:
    """Write the scores (parquet at full precision; CSV, and XLSX of the ``xlsx_rows``
    riskiest customers, for people), the quarantine and the summary into ``out`` in one
    commit; returns the summary.

    The XLSX is cut because a worksheet holds at most ``clm.reports.sheets.EXCEL_ROWS`` rows
    (``write_xlsx`` refuses more) and writing one is slow
    (``benchmarks.snapshot_score``: 18 of the 20 s that 100,000 rows took); the summary and
    the log say where it was cut."""
    summary = scored.summary(model_dir, data) | {"xlsx_rows": min(xlsx_rows, scored.scores.height)}
    if scored.scores.height > xlsx_rows:
        log.warning(
            "scores.xlsx holds the %d riskiest of %d customers; scores.csv and scores.parquet "
            "hold them all", xlsx_rows, scored.scores.height,
        )  # fmt: skip
    readable = scored.scores.with_columns(
        pl.col("churn_probability").round(4), pl.col("^reason_.*_contribution$").round(4)
    )
    quarantine = scored.checked.quarantined.drop(ROW).with_columns(
        pl.col(FAILED_CHECKS).list.join("; ")
    )
    with write_together(*(out / name for name in OUTPUTS)) as staged:
        parquet, csv, xlsx, quarantine_csv, summary_json = staged
        scored.scores.write_parquet(parquet)
        write_csv(readable, csv)
        write_xlsx(readable.head(xlsx_rows), xlsx, "scores 评分")
        write_csv(quarantine, quarantine_csv)  # the file's own text: Chinese too
        summary_json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
