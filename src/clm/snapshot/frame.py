"""A snapshot file mapped onto the feature table: one row per customer, features and label.

Files are read as text (every column a string) and each value is converted by what the
mapping says it is, so a non-number in a numeric column, a value a recode does not list or
a label value that is not there fails with the column, the file and example values named,
instead of being coerced to null. The mapped table is then checked by a pandera schema built
from the mapping (types, the feature contract's ranges, unique ids). A file that is empty,
unreadable as CSV or shares no column with the mapping is refused without quoting it: it
may not be the table the mapping meant.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from functools import reduce
from typing import Any

import pandera.errors
import pandera.polars as pa
import polars as pl

from clm.features.build import CATEGORIES
from clm.features.metadata import FeatureMeta
from clm.snapshot.mapping import (
    Column,
    Constant,
    Expression,
    FeatureSpec,
    FilterRule,
    Mapping,
    MappingError,
    Recode,
    SourceFile,
    columns_of,
)

log = logging.getLogger(__name__)

ID = "customer_id"
LABEL = "churn"
RECORDED_REASON = "recorded_reason"  # the dataset's own label; null for stayers and unknowns
FILE = "source_file"
PART = "source_part"
EXAMPLES = 5
TRUE_TEXT, FALSE_TEXT = ("1", "true", "yes"), ("0", "false", "no")
_DTYPES = {"float": pl.Float64(), "int": pl.Int64(), "bool": pl.Boolean(), "category": pl.String()}


@dataclass(frozen=True)
class DroppedRows:
    """Rows one filter rule of the mapping dropped (a row matched by several counts once, in
    the first rule that matches it)."""

    rule: str
    reason: str
    rows: int


def read_source(mapping: Mapping) -> pl.DataFrame:
    """The columns the mapping names, from every file, as text stripped of surrounding blanks
    and cleaned by the mapping's ``columns`` rules, with each row's file and part."""
    frames = []
    for source in mapping.files:
        if not source.path.is_file():
            raise MappingError(
                f"{mapping.path}: data file not found: {source.path} (file paths are relative "
                f"to the mapping file's folder)"
            )
        if source.path.stat().st_size == 0:
            raise MappingError(f"{mapping.path}: data file {source.path.name} is empty (0 bytes)")
        header = _read_csv(mapping, source, n_rows=0).columns
        missing = [column for column in mapping.source_columns if column not in header]
        if len(missing) == len(mapping.source_columns):
            raise MappingError(
                f"{mapping.path}: {source.path.name} has none of the mapping's columns with "
                f"separator {mapping.separator!r}; is it the right file?"
            )
        if missing:
            hints = {c: difflib.get_close_matches(c, header, n=1) for c in missing}
            raise MappingError(
                f"{mapping.path}: column(s) {missing} not in {source.path.name} (closest: {hints})"
            )
        unused = [column for column in header if column not in mapping.source_columns]
        if unused:
            log.info("%s: columns not in the mapping, left out: %s", source.path.name, unused)
        # every column read, then the mapped ones kept: with ``columns=`` polars would
        # silently drop the extra fields of a ragged line instead of refusing it
        frame = _read_csv(
            mapping, source, infer_schema=False, null_values=list(mapping.null_values) or None
        ).select(mapping.source_columns)
        if frame.is_empty():
            raise MappingError(f"{mapping.path}: {source.path.name} has no rows below its header")
        frames.append(frame.with_columns(pl.lit(source.path.name).alias(FILE)))
    parts = {source.path.name: source.part for source in mapping.files}
    return _stripped_and_cleaned(mapping, pl.concat(frames)).with_columns(
        pl.col(FILE).replace_strict(parts, return_dtype=pl.String).alias(PART)
    )


def source_from_rows(mapping: Mapping, rows: pl.DataFrame, name: str) -> pl.DataFrame:
    """Rows handed over as a table (the registered model's input) as ``read_source`` reads a
    file: the mapped columns as text, the mapping's missing texts null, cleaned, ``name`` as
    their file."""
    missing = [column for column in mapping.source_columns if column not in rows.columns]
    if missing:
        raise MappingError(f"{name}: column(s) {missing} missing")
    text = rows.select(pl.col(column).cast(pl.String) for column in mapping.source_columns)
    if mapping.null_values:
        text = text.with_columns(_null_where(c, mapping.null_values) for c in text.columns)
    with_file = text.with_columns(pl.lit(name).alias(FILE))
    return _stripped_and_cleaned(mapping, with_file).with_columns(
        pl.lit(None, dtype=pl.String).alias(PART)
    )


def _stripped_and_cleaned(mapping: Mapping, table: pl.DataFrame) -> pl.DataFrame:
    return clean_columns(mapping, table.with_columns(pl.col(pl.String).str.strip_chars()))


def clean_columns(mapping: Mapping, source: pl.DataFrame) -> pl.DataFrame:
    """Each ``columns`` rule applied: its missing texts become null, its replacements made."""
    cleaned = []
    for column, rule in (mapping.columns or {}).items():
        if column not in source.columns:  # a label or split column a file to score lacks
            continue
        value = _null_where(column, rule.missing) if rule.missing else pl.col(column)
        if rule.replace:
            value = value.replace(rule.replace)
        cleaned.append(value.alias(column))
    return source.with_columns(cleaned) if cleaned else source


def filter_rows(
    mapping: Mapping, source: pl.DataFrame
) -> tuple[pl.DataFrame, tuple[DroppedRows, ...]]:
    """``source`` without the rows the mapping's ``filter`` rules match, and the count each
    rule dropped. A rule that compares a non-number is an error, and so is one that drops every
    row of a labelled file (of customers to score, a batch may hold new joiners alone)."""
    dropped = []
    kept = source
    for index, rule in enumerate(mapping.filters):
        where = f"{mapping.path}:filter[{index}] ({rule.describe()})"
        match = _matches(rule, kept, where)
        dropped.append(DroppedRows(rule.describe(), rule.reason, int(match.sum())))
        kept = kept.filter(~match)
        if kept.is_empty() and mapping.labelled:
            raise MappingError(f"{where}: drops every remaining row")
    for rows in dropped:
        log.info("%s: %d row(s) dropped where %s", mapping.dataset, rows.rows, rows.rule)
    return kept, tuple(dropped)


def _null_where(column: str, texts: tuple[str, ...]) -> pl.Expr:
    """``column`` with the values in ``texts`` made null."""
    return (
        pl.when(pl.col(column).is_in(list(texts)))
        .then(None)
        .otherwise(pl.col(column))
        .alias(column)
    )


def _matches(rule: FilterRule, source: pl.DataFrame, where: str) -> pl.Series:
    """True for the rows ``rule`` drops (never null)."""
    column = source[rule.column]
    if rule.test == "missing":
        return column.is_null()
    if rule.test in ("equals", "in"):
        return column.is_in(list(rule.values)).fill_null(False)
    numbers = column.cast(pl.Float64, strict=False)
    bad = column.filter(numbers.is_null() & column.is_not_null()).unique().sort()
    _fail_on(bad, f"{where}: column '{rule.column}' is not numeric")
    matched = numbers < rule.bound if rule.test == "below" else numbers > rule.bound
    return matched.fill_null(False)


def _read_csv(mapping: Mapping, source: SourceFile, **options: Any) -> pl.DataFrame:
    """``source`` read with the mapping's separator; a file polars cannot read as CSV (empty,
    binary, ragged, repeated column names) is one line naming it. Polars' own message is
    left out: it may quote the file."""
    try:
        return pl.read_csv(source.path, separator=mapping.separator, **options)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise MappingError(
            f"{mapping.path}: {source.path.name} cannot be read as a CSV table with separator "
            f"{mapping.separator!r} ({type(error).__name__})"
        ) from error


def map_frame(mapping: Mapping, source: pl.DataFrame) -> pl.DataFrame:
    """The feature table: ``customer_id``, one column per feature, ``churn`` (0/1), and the
    row's source file and its part (train / test, from the file or the split column; null
    for a random split); rows in the files' order. An unlabelled mapping's table stops after
    the features."""
    where = ", ".join(sorted(source[FILE].unique()))
    stripped = source
    for spec in mapping.features:
        _check_values(spec, stripped, where)
    customer = (
        pl.col(mapping.id_column) if mapping.id_column else (pl.int_range(pl.len()) + 1)
    ).cast(pl.String)
    features = [_feature(spec).alias(spec.meta.name) for spec in mapping.features]
    if not mapping.labelled:
        return stripped.select(customer.alias(ID), *features)
    label = _label(mapping, stripped, where)
    part = pl.col(PART)
    if mapping.split.method == "column":
        is_test = pl.col(mapping.split.column).is_in(list(mapping.split.test_values))
        part = pl.when(is_test).then(pl.lit("test")).otherwise(pl.lit("train"))
    reason = [_reason(mapping, stripped, where).alias(RECORDED_REASON)] if mapping.reason else []
    return stripped.select(
        customer.alias(ID),
        *features,
        label.alias(LABEL),
        FILE,
        part.alias(PART),
        *reason,
    )


def snapshot_schema(mapping: Mapping) -> pa.DataFrameSchema:
    """The mapped table's schema: unique ids, each feature's type and range, a 0/1 label (an
    unlabelled mapping's: ids and features)."""
    columns = {
        ID: pa.Column(pl.String(), nullable=False, unique=True),
        **{spec.meta.name: _schema_column(spec) for spec in mapping.features},
    }
    if mapping.labelled:
        columns |= {
            LABEL: pa.Column(pl.Int8(), pa.Check.isin([0, 1]), nullable=False),
            FILE: pa.Column(pl.String(), nullable=False),
            PART: pa.Column(pl.String(), nullable=True),
            **({RECORDED_REASON: pa.Column(pl.String(), nullable=True)} if mapping.reason else {}),
        }
    return pa.DataFrameSchema(columns, strict=True, name=f"snapshot:{mapping.dataset}")


def validate_frame(mapping: Mapping, table: pl.DataFrame) -> pl.DataFrame:
    """``table`` if the schema passes, else one error listing every failed check."""
    try:
        return snapshot_schema(mapping).validate(table, lazy=True)
    except pandera.errors.SchemaErrors as error:
        cases = error.failure_cases.with_columns(pl.col("failure_case").cast(pl.String))
        summary = cases.group_by("column", "check", maintain_order=True).agg(
            rows=pl.len(), examples=pl.col("failure_case").head(EXAMPLES)
        )
        failures = [
            f"column '{row['column']}', check {row['check']}: {row['rows']} row(s), "
            f"e.g. {row['examples']}"
            for row in summary.iter_rows(named=True)
        ]
        raise MappingError(
            f"{mapping.path}: the mapped data fails its schema: " + "; ".join(failures)
        ) from error


def _feature(spec: FeatureSpec) -> pl.Expr:
    """The feature's values in the dtype of its kind (numbers clipped and rounded as the
    mapping says)."""
    kind, source = spec.meta.kind, spec.source
    if kind in ("float", "int"):
        return _shaped(spec).cast(_DTYPES[kind])
    if isinstance(source, Recode):
        return pl.col(source.column).replace_strict(source.values, return_dtype=_DTYPES[kind])
    if kind == "category":
        return pl.col(source.name)
    text = pl.col(source.name).str.to_lowercase()
    return pl.when(text.is_in(TRUE_TEXT)).then(True).when(text.is_in(FALSE_TEXT)).then(False)


def _shaped(spec: FeatureSpec) -> pl.Expr:
    """A numeric feature as Float64: its source, then ``clip``, then ``round``."""
    source = spec.source
    if isinstance(source, Recode):
        value = pl.col(source.column).replace_strict(source.values, return_dtype=pl.Float64)
    else:
        value = _number(source)
    if spec.clip:
        value = value.clip(*spec.clip)
    if spec.round_digits is not None:
        value = value.round(spec.round_digits)
    return value


def _number(expression: Expression) -> pl.Expr:
    """An arithmetic expression over numeric columns, as Float64."""
    if isinstance(expression, Column):
        return pl.col(expression.name).cast(pl.Float64)
    if isinstance(expression, Constant):
        return pl.lit(expression.value, dtype=pl.Float64)
    operands = [_number(operand) for operand in expression.operands]
    if expression.op == "sum":
        return reduce(lambda a, b: a + b, operands)
    if expression.op == "product":
        return reduce(lambda a, b: a * b, operands)
    if expression.op == "difference":
        return operands[0] - operands[1]
    numerator, denominator = operands
    return pl.when(denominator != 0).then(numerator / denominator)


def _check_values(spec: FeatureSpec, source: pl.DataFrame, where: str) -> None:
    """Every value the feature reads converts: numbers parse, recodes list it, flags are flags."""
    name, kind, expression = spec.meta.name, spec.meta.kind, spec.source
    if isinstance(expression, Recode):
        column = source[expression.column].drop_nulls()
        bad = column.filter(~column.is_in(list(expression.values))).unique().sort()
        _fail_on(
            bad, f"{where}: feature '{name}': recode of column '{expression.column}' does not list"
        )
    elif kind == "bool":
        column = source[expression.name].drop_nulls()
        bad = column.filter(~column.str.to_lowercase().is_in(TRUE_TEXT + FALSE_TEXT))
        _fail_on(bad.unique().sort(), f"{where}: feature '{name}': '{expression.name}' is no flag")
    elif kind in ("float", "int"):
        for column_name in columns_of(expression):
            column = source[column_name].drop_nulls()
            bad = column.filter(column.cast(pl.Float64, strict=False).is_null())
            message = f"{where}: feature '{name}': column '{column_name}' is not numeric"
            _fail_on(bad.unique().sort(), message)
        if kind == "int":
            values = source.select(_shaped(spec).alias("v"))["v"].drop_nulls()
            message = f"{where}: int feature '{name}' has fractions (give it 'round: 0')"
            _fail_on(values.filter(values != values.round()), message)


def _fail_on(bad: pl.Series, message: str) -> None:
    if bad.len():
        raise MappingError(f"{message}: {bad.len()} value(s), e.g. {bad.head(EXAMPLES).to_list()}")


def _label(mapping: Mapping, source: pl.DataFrame, where: str) -> pl.Expr:
    """1 where the label column holds a positive value, else 0; every positive must occur."""
    column = source[mapping.label_column]
    if column.null_count():
        raise MappingError(
            f"label column '{mapping.label_column}' in {where}: "
            f"{column.null_count()} empty value(s)"
        )
    values = set(column.unique().to_list())
    absent = [value for value in mapping.positive if value not in values]
    if absent:
        raise MappingError(
            f"label column '{mapping.label_column}' in {where}: positive value(s) {absent} never "
            f"occur; its values include {sorted(values)[:EXAMPLES]}"
        )
    return pl.col(mapping.label_column).is_in(list(mapping.positive)).cast(pl.Int8)


def _reason(mapping: Mapping, source: pl.DataFrame, where: str) -> pl.Expr:
    """The recorded reason of churners whose label names one; a label the mapping does not
    list is an error, since guessing what it means would bias the agreement figures."""
    spec = mapping.reason
    values = source[spec.column]
    unknown = values.filter(values.is_not_null() & ~values.is_in(list(spec.targets))).unique()
    if unknown.len():
        raise MappingError(
            f"{mapping.path}:reason: column '{spec.column}' in {where} has label(s) "
            f"{unknown.sort().head(EXAMPLES).to_list()} not in reason.values; map each to a "
            f"survey reason, cause, category or null"
        )
    meaningful = [label for label, target in spec.targets.items() if target is not None]
    return pl.when(pl.col(spec.column).is_in(meaningful)).then(pl.col(spec.column))


def _schema_column(spec: FeatureSpec) -> pa.Column:
    meta: FeatureMeta = spec.meta
    checks = []
    if meta.min is not None:
        checks.append(pa.Check.ge(meta.min))
    if meta.max is not None:
        checks.append(pa.Check.le(meta.max))
    if spec.mapped and meta.name in CATEGORIES:
        checks.append(pa.Check.isin(list(CATEGORIES[meta.name])))
    return pa.Column(_DTYPES[meta.kind], checks, nullable=meta.nullable)
