"""Mapping files: how a one-row-per-customer churn file maps onto clm's feature contract.

A mapping is YAML (the format is documented in ``docs/mapping.md``). Everything that can be
checked without reading the data is checked here, on load, with the mapping file and entry
named in the message: unknown clm features, unknown cause codes, bad kinds, a feature built
from an excluded (leaky), label, id or split column, a data file outside the folders the
mapping may read, a misused ``clip`` / ``round`` / ``min_count`` / ``cause`` / ``columns`` /
``filter`` / ``population`` entry. Columns missing from the data file are checked by
``clm.snapshot.frame`` when the header is read.

A mapping may come from anyone, so it names data files only inside its own folder or a data
root the operator trusts (``snapshot.data_roots`` in params.yaml): a mapping pointing at
``../../../etc/passwd`` or ``/etc/passwd`` is refused before anything is read.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clm.domain.taxonomy import load_taxonomy
from clm.features.metadata import KINDS, FeatureMeta, load_feature_metadata
from clm.safe_yaml import YamlError, read_yaml

ARITHMETIC = {"sum": (2, None), "difference": (2, 2), "product": (2, None), "ratio": (2, 2)}
RECODE = "recode"
PARTS = ("train", "test")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
DATASET = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
TOP_KEYS = {
    "dataset", "description", "files", "csv", "id", "label", "split", "features", "extra",
    "excluded", "reason", "columns", "filter", "population",
}  # fmt: skip
NUMERIC = ("float", "int")
FILTER_TESTS = ("equals", "in", "below", "above", "missing")


class MappingError(ValueError):
    """A mapping file is malformed or does not fit the data it names."""


@dataclass(frozen=True)
class Column:
    """A source column, read as it is."""

    name: str


@dataclass(frozen=True)
class Constant:
    """A number inside an arithmetic expression (e.g. 60 to turn seconds into minutes)."""

    value: float


@dataclass(frozen=True)
class Arithmetic:
    """``sum``, ``difference``, ``product`` or ``ratio`` of numeric operands, left to right.

    A null operand gives null; a ratio with a zero denominator gives null, not infinity.
    """

    op: str
    operands: tuple[Expression, ...]


@dataclass(frozen=True)
class Recode:
    """Values of one column replaced by a lookup table; a value not listed is an error."""

    column: str
    values: dict[str, bool | float | str]


Expression = Column | Constant | Arithmetic | Recode


@dataclass(frozen=True)
class CauseOverride:
    """A clm feature's cause changed for this operator, with the reason (for the report)."""

    clm_cause: str
    reason: str


@dataclass(frozen=True)
class FeatureSpec:
    """One model feature: where its values come from and what it means (cause, kind).

    A numeric feature may be clipped to ``clip`` (low, high; None: open) and then rounded to
    ``round_digits`` decimals, e.g. a 3-month mean of care calls rounded to a count.
    """

    meta: FeatureMeta
    source: Expression
    mapped: bool  # a clm feature (meaning and cause from clm's metadata) or a dataset extra
    clip: tuple[float | None, float | None] | None = None
    round_digits: int | None = None
    cause_override: CauseOverride | None = None


@dataclass(frozen=True)
class ColumnRule:
    """How one source column's text is cleaned before anything reads it: the texts that mean
    missing there, and texts replaced by others (``"N/A"`` -> ``"0"``)."""

    missing: tuple[str, ...] = ()
    replace: dict[str, str] | None = None


@dataclass(frozen=True)
class FilterRule:
    """Rows to drop before mapping: where ``column`` equals / is in ``values``, is below or
    above ``bound``, or is missing; counted and listed in the report with ``reason``."""

    column: str
    test: str  # one of FILTER_TESTS
    reason: str
    values: tuple[str, ...] = ()
    bound: float | None = None

    def describe(self) -> str:
        """The rule as a reader would write it."""
        if self.test == "missing":
            return f"{self.column} is missing"
        if self.test in ("below", "above"):
            return f"{self.column} {'<' if self.test == 'below' else '>'} {self.bound:g}"
        return f"{self.column} in {list(self.values)}"


@dataclass(frozen=True)
class SplitSpec:
    """How rows are split. ``method`` is ``file`` (each file's ``part``), ``column`` (rows whose
    ``column`` value is in ``test_values`` are test) or ``random`` (stratified ``test_share``)."""

    method: str
    valid_share: float
    seed: int
    test_share: float | None = None
    column: str | None = None
    test_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReasonSpec:
    """The churn reason recorded for churners (an exit survey, a churn-category column).

    ``targets`` maps each of the dataset's labels to what it means in clm's terms: an
    exit-survey reason, a taxonomy cause or a category, or None for a label that names no
    reason ("Unknown"); ``categories`` is the category each meaningful label stands for.
    """

    column: str
    targets: dict[str, str | None]

    @property
    def categories(self) -> dict[str, str]:
        taxonomy = load_taxonomy()
        return {
            label: _category_of(taxonomy, target)
            for label, target in self.targets.items()
            if target is not None
        }


@dataclass(frozen=True)
class SourceFile:
    """A data file and, for a file-of-origin split, the part its rows belong to."""

    path: Path
    part: str | None = None


@dataclass(frozen=True)
class Mapping:
    """A checked mapping file; source paths are resolved against the mapping's folder."""

    path: Path
    dataset: str
    description: str
    files: tuple[SourceFile, ...]
    null_values: tuple[str, ...]
    separator: str
    id_column: str | None
    label_column: str
    positive: tuple[str, ...]
    split: SplitSpec
    features: tuple[FeatureSpec, ...]
    excluded: dict[str, str]
    reason: ReasonSpec | None = None
    columns: dict[str, ColumnRule] | None = None
    filters: tuple[FilterRule, ...] = ()
    population_rate: float | None = None  # the scored population's churn rate, if stated
    labelled: bool = True  # False: customers to score, whose outcome is not known yet

    @property
    def metadata(self) -> dict[str, FeatureMeta]:
        """Feature metadata of this dataset, in the shape the encoder and explainer take."""
        return {spec.meta.name: spec.meta for spec in self.features}

    @property
    def source_columns(self) -> tuple[str, ...]:
        """Every column of the data files the mapping names (features, keys, exclusions); of
        an unlabelled mapping only those its features, id and filters read."""
        named = [column for spec in self.features for column in columns_of(spec.source)]
        if not self.labelled:
            named += [c for c in (self.id_column, *(r.column for r in self.filters)) if c]
            return tuple(dict.fromkeys(named))
        keys = (self.id_column, self.label_column, self.split.column)
        named += [c for c in (*keys, self.reason and self.reason.column) if c]
        named += [rule.column for rule in self.filters]
        return tuple(dict.fromkeys([*named, *self.excluded]))

    def unlabelled(self, data: Path) -> Mapping:
        """This mapping reading ``data`` instead of its files: customers to score, a file
        that needs no label, split, reason or excluded column (left out where it has them)."""
        return replace(self, files=(SourceFile(data.resolve()),), labelled=False)


def columns_of(expression: Expression) -> tuple[str, ...]:
    """The source columns an expression reads."""
    if isinstance(expression, Column):
        return (expression.name,)
    if isinstance(expression, Recode):
        return (expression.column,)
    if isinstance(expression, Arithmetic):
        return tuple(c for operand in expression.operands for c in columns_of(operand))
    return ()


def load_mapping(
    path: Path, data_roots: Sequence[Path | str] = (), *, allow_outside: bool = False
) -> Mapping:
    """Read and check a mapping file.

    Its data files must lie in the mapping's folder or one of ``data_roots`` (symbolic links
    resolved), unless ``allow_outside``.
    """
    if not path.is_file():
        raise MappingError(f"mapping file not found: {path}")
    try:
        raw = read_yaml(path)
    except YamlError as error:
        raise MappingError(str(error)) from error
    roots = None if allow_outside else (path.parent, *data_roots)
    return parse_mapping(raw, path, roots)


def parse_mapping(raw: Any, path: Path, roots: Sequence[Path | str] | None) -> Mapping:
    """Check a mapping's parsed YAML; ``path`` names it in errors and anchors relative paths.

    Data files must lie inside one of ``roots``; ``None`` allows any file.
    """
    where = str(path)
    _require_mapping(raw, where)
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise MappingError(f"{where}: unknown keys {unknown}; allowed: {sorted(TOP_KEYS)}")
    for key in ("dataset", "files", "label", "split", "features"):
        if key not in raw:
            raise MappingError(f"{where}: '{key}' is required")
    dataset = str(raw["dataset"])
    if not DATASET.match(dataset):
        raise MappingError(f"{where}: dataset '{dataset}' must be lower-case letters, digits, _ -")
    csv = raw.get("csv") or {}
    _require_mapping(csv, f"{where}:csv")
    excluded = _parse_excluded(raw.get("excluded") or {}, f"{where}:excluded")
    label = raw["label"]
    _require_mapping(label, f"{where}:label")
    if "column" not in label or not label.get("positive"):
        raise MappingError(f"{where}:label: needs 'column' and a non-empty 'positive' list")
    positive = label["positive"]
    positive = positive if isinstance(positive, list) else [positive]
    files = _parse_files(raw["files"], path.parent, roots, f"{where}:files")
    split = _parse_split(raw["split"], files, f"{where}:split")
    features = _parse_features(raw["features"], f"{where}:features")
    features += _parse_extras(raw.get("extra") or {}, f"{where}:extra")
    mapping = Mapping(
        path=path,
        dataset=dataset,
        description=str(raw.get("description", "")),
        files=files,
        null_values=tuple(str(v) for v in csv.get("null_values", [])),
        separator=str(csv.get("separator", ",")),
        id_column=raw.get("id"),
        label_column=str(label["column"]),
        positive=tuple(_as_text(v, f"{where}:label.positive") for v in positive),
        split=split,
        features=tuple(features),
        excluded=excluded,
        reason=_parse_reason(raw["reason"], f"{where}:reason") if "reason" in raw else None,
        filters=_parse_filters(raw.get("filter") or [], f"{where}:filter"),
        population_rate=_parse_population(raw.get("population"), f"{where}:population"),
    )
    mapping = replace(
        mapping, columns=_parse_columns(raw.get("columns") or {}, mapping, f"{where}:columns")
    )
    _check_sources(mapping, where)
    for spec in mapping.features:
        _check_kind(spec, f"{where}: feature '{spec.meta.name}'")
    return mapping


def _parse_files(
    raw: Any, base: Path, roots: Sequence[Path | str] | None, where: str
) -> tuple[SourceFile, ...]:
    """Files as a path or a list of paths / {path, part}; relative to the mapping's folder,
    and inside one of ``roots`` (any file when ``roots`` is None)."""
    entries = raw if isinstance(raw, list) else [raw]
    files = []
    for index, entry in enumerate(entries):
        entry = {"path": entry} if isinstance(entry, str) else entry
        _require_mapping(entry, f"{where}[{index}]")
        if "path" not in entry:
            raise MappingError(f"{where}[{index}]: 'path' is required")
        part = entry.get("part")
        if part is not None and part not in PARTS:
            raise MappingError(f"{where}[{index}]: part must be one of {PARTS}, got {part!r}")
        path = (base / str(entry["path"])).resolve()
        if roots is not None and not any(path.is_relative_to(Path(r).resolve()) for r in roots):
            raise MappingError(
                f"{where}[{index}]: {entry['path']!r} lies outside the mapping's folder and the "
                f"data roots (snapshot.data_roots in params.yaml); move the file there, add its "
                f"folder to snapshot.data_roots, or pass --allow-outside"
            )
        files.append(SourceFile(path, part))
    if not files:
        raise MappingError(f"{where}: at least one file is required")
    return tuple(files)


def _parse_split(raw: Any, files: tuple[SourceFile, ...], where: str) -> SplitSpec:
    """Exactly one way to find the test rows: files' parts, a split column, or a test share."""
    _require_mapping(raw, where)
    allowed = {"test_share", "column", "test_values", "valid_share", "seed"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise MappingError(f"{where}: unknown keys {unknown}; allowed: {sorted(allowed)}")
    by_file = any(f.part for f in files)
    if by_file and not all(f.part for f in files):
        raise MappingError(f"{where}: give every file a part (train/test), or none")
    methods = [
        name
        for name, given in (
            ("file", by_file),
            ("column", "column" in raw),
            ("random", "test_share" in raw),
        )
        if given
    ]
    if len(methods) != 1:
        raise MappingError(
            f"{where}: choose exactly one split: a 'part' on each file, 'column' with "
            f"'test_values', or 'test_share'; got {methods or 'none'}"
        )
    method = methods[0]
    if method == "file" and {f.part for f in files} != set(PARTS):
        raise MappingError(f"{where}: file parts must include both train and test")
    if method == "column" and not raw.get("test_values"):
        raise MappingError(f"{where}: 'column' needs a non-empty 'test_values' list")
    valid_share = _share(raw.get("valid_share", 0.2), f"{where}.valid_share")
    test_share = _share(raw["test_share"], f"{where}.test_share") if method == "random" else None
    return SplitSpec(
        method=method,
        valid_share=valid_share,
        seed=int(raw.get("seed", 0)),
        test_share=test_share,
        column=raw.get("column"),
        test_values=tuple(_as_text(v, f"{where}.test_values") for v in raw.get("test_values", [])),
    )


_FEATURE_KEYS = frozenset(
    ("source", "nullable", "description", "round", "clip", "min_count", "cause", "cause_reason")
)


def _parse_features(raw: Any, where: str) -> list[FeatureSpec]:
    """clm features: ``name: <expression>`` or ``name: {source, nullable, description, clip,
    round, min_count, cause, cause_reason}``.

    The kind, unit and range are always clm's; the description may be reworded, because
    clm's speaks of one month and a snapshot column may cover many; the cause may be changed
    for this operator, with the reason, which the report shows.
    """
    _require_mapping(raw, where)
    known = load_feature_metadata()
    specs = []
    for name, entry in raw.items():
        if name not in known:
            raise MappingError(
                f"{where}.{name}: not a clm feature{_did_you_mean(name, known)}; map the column "
                f"under 'extra' with a cause, kind and description to keep it as its own feature"
            )
        long_form = isinstance(entry, dict) and "source" in entry
        if long_form and set(entry) - _FEATURE_KEYS:
            raise MappingError(
                f"{where}.{name}: unknown keys {sorted(set(entry) - _FEATURE_KEYS)}; "
                f"allowed: {sorted(_FEATURE_KEYS)}"
            )
        source = parse_expression(entry["source"] if long_form else entry, f"{where}.{name}")
        meta = known[name]
        spec = FeatureSpec(meta, source, mapped=True)
        if long_form:
            nullable = bool(entry.get("nullable", meta.nullable))
            description = str(entry.get("description", meta.description))
            spec = _with_options(
                replace(spec, meta=replace(meta, nullable=nullable, description=description)),
                entry,
                f"{where}.{name}",
            )
        specs.append(spec)
    if not specs:
        raise MappingError(f"{where}: map at least one column")
    return specs


def _parse_extras(raw: Any, where: str) -> list[FeatureSpec]:
    """Dataset features clm does not know, each with its own meaning and taxonomy cause."""
    _require_mapping(raw, where)
    causes = load_taxonomy().causes
    known = load_feature_metadata()
    required = {"source", "cause", "kind", "description"}
    allowed = required | {"unit", "min", "max", "nullable", "round", "clip", "min_count"}
    specs = []
    for name, entry in raw.items():
        label = f"{where}.{name}"
        if name in known:
            raise MappingError(f"{label}: '{name}' is a clm feature; map it under 'features'")
        if not NAME.match(str(name)):
            raise MappingError(f"{label}: feature names are lower_snake_case")
        _require_mapping(entry, label)
        missing, unknown = sorted(required - set(entry)), sorted(set(entry) - allowed)
        if missing or unknown:
            raise MappingError(f"{label}: missing keys {missing}, unknown keys {unknown}")
        if entry["cause"] not in causes:
            raise MappingError(
                f"{label}: unknown cause '{entry['cause']}'"
                f"{_did_you_mean(str(entry['cause']), causes)}; known causes: {list(causes)}"
            )
        if entry["kind"] not in KINDS:
            raise MappingError(f"{label}: kind must be one of {KINDS}, got {entry['kind']!r}")
        meta = FeatureMeta(
            name=name,
            description=str(entry["description"]),
            unit=str(entry.get("unit", "")),
            cause=entry["cause"],
            kind=entry["kind"],
            min=entry.get("min"),
            max=entry.get("max"),
            nullable=bool(entry.get("nullable", False)),
        )
        spec = FeatureSpec(meta, parse_expression(entry["source"], label), mapped=False)
        specs.append(_with_options(spec, entry, label))
    return specs


def _with_options(spec: FeatureSpec, entry: dict, where: str) -> FeatureSpec:
    """``spec`` with the entry's ``clip``, ``round``, ``min_count`` and (clm features only)
    ``cause`` / ``cause_reason``."""
    kind = spec.meta.kind
    for key in ("clip", "round"):
        if key in entry and kind not in NUMERIC:
            raise MappingError(
                f"{where}.{key}: only numeric features can be {key}ped; "
                f"'{spec.meta.name}' is a {kind}"
            )
    clip = _parse_clip(entry["clip"], f"{where}.clip") if "clip" in entry else None
    digits = entry.get("round")
    if "round" in entry and (not isinstance(digits, int) or isinstance(digits, bool) or digits < 0):
        raise MappingError(
            f"{where}.round: the number of decimals to keep (0 for whole numbers), got {digits!r}"
        )
    if "min_count" in entry:
        min_count = _parse_min_count(spec, entry, where)
        spec = replace(spec, meta=replace(spec.meta, min_count=min_count))
    override = None
    if spec.mapped and ("cause" in entry or "cause_reason" in entry):
        override = _parse_override(spec.meta.cause, entry, where)
        spec = replace(spec, meta=replace(spec.meta, cause=entry["cause"]))
    return replace(spec, clip=clip, round_digits=digits, cause_override=override)


def _parse_min_count(spec: FeatureSpec, entry: dict, where: str) -> int:
    """A category's ``min_count``: the training rows a level needs for a column of its own."""
    if spec.meta.kind != "category":
        raise MappingError(
            f"{where}.min_count: only category features pool rare levels; "
            f"'{spec.meta.name}' is a {spec.meta.kind}"
        )
    count = entry["min_count"]
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise MappingError(f"{where}.min_count: a whole number of training rows, got {count!r}")
    return count


def _parse_clip(raw: Any, where: str) -> tuple[float | None, float | None]:
    """``{min: low, max: high}``, either bound optional."""
    _require_mapping(raw, where)
    unknown = sorted(set(raw) - {"min", "max"})
    if unknown or not raw:
        raise MappingError(f"{where}: give 'min', 'max' or both (unknown keys: {unknown})")
    bounds = [raw.get("min"), raw.get("max")]
    for bound in bounds:
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
            raise MappingError(f"{where}: bounds are numbers, got {bound!r}")
    low, high = bounds
    if low is not None and high is not None and low > high:
        raise MappingError(f"{where}: min {low} is above max {high}")
    return (None if low is None else float(low), None if high is None else float(high))


def _parse_override(clm_cause: str, entry: dict, where: str) -> CauseOverride:
    """A clm feature's ``cause`` changed for this operator; ``cause_reason`` says why."""
    causes = load_taxonomy().causes
    cause, reason = entry.get("cause"), entry.get("cause_reason")
    if cause is None:
        raise MappingError(f"{where}.cause_reason: give the 'cause' it explains")
    if not isinstance(reason, str) or not reason.strip():
        raise MappingError(
            f"{where}.cause: changing a clm feature's cause needs a 'cause_reason' (why this "
            f"operator's column speaks to '{cause}' rather than clm's '{clm_cause}')"
        )
    if cause not in causes:
        raise MappingError(
            f"{where}.cause: unknown cause '{cause}'{_did_you_mean(str(cause), causes)}"
        )
    if cause == clm_cause:
        raise MappingError(f"{where}.cause: '{cause}' is already the feature's cause in clm")
    return CauseOverride(clm_cause=clm_cause, reason=reason.strip())


def _parse_columns(raw: Any, mapping: Mapping, where: str) -> dict[str, ColumnRule]:
    """``{column: {missing: [texts], replace: {text: text}}}`` for columns the mapping reads."""
    _require_mapping(raw, where)
    read = mapping.source_columns
    rules = {}
    for column, entry in raw.items():
        label = f"{where}.{column}"
        if column not in read:
            raise MappingError(
                f"{label}: no feature, key or filter reads this column"
                f"{_did_you_mean(str(column), read)}"
            )
        _require_mapping(entry, label)
        unknown = sorted(set(entry) - {"missing", "replace"})
        if unknown or not entry:
            raise MappingError(
                f"{label}: give 'missing', 'replace' or both (unknown keys: {unknown})"
            )
        missing = entry.get("missing", [])
        if not isinstance(missing, list) or (not missing and "missing" in entry):
            raise MappingError(f"{label}.missing: a non-empty list of texts that mean missing")
        tokens = tuple(_as_text(token, f"{label}.missing") for token in missing)
        replace_raw = entry.get("replace", {})
        if not isinstance(replace_raw, dict) or (not replace_raw and "replace" in entry):
            raise MappingError(f"{label}.replace: a non-empty table from text to text")
        replaced = {
            _as_text(old, f"{label}.replace"): _as_text(new, f"{label}.replace")
            for old, new in replace_raw.items()
        }
        both = sorted(set(tokens) & set(replaced))
        if both:
            raise MappingError(f"{label}: {both} both mean missing and are replaced")
        rules[str(column)] = ColumnRule(tokens, replaced or None)
    return rules


def _parse_filters(raw: Any, where: str) -> tuple[FilterRule, ...]:
    """A list of ``{column, <test>: value, reason}``; each drops the rows it matches."""
    if not isinstance(raw, list):
        raise MappingError(
            f"{where}: a list of rules {{column, one of {list(FILTER_TESTS)}, reason}}"
        )
    rules = []
    for index, entry in enumerate(raw):
        label = f"{where}[{index}]"
        _require_mapping(entry, label)
        tests = [key for key in FILTER_TESTS if key in entry]
        unknown = sorted(set(entry) - {"column", "reason", *FILTER_TESTS})
        if unknown or "column" not in entry or len(tests) != 1:
            raise MappingError(
                f"{label}: needs 'column', 'reason' and exactly one of {list(FILTER_TESTS)} "
                f"(got tests {tests}, unknown keys {unknown})"
            )
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise MappingError(f"{label}: give the 'reason' these rows are dropped")
        (test,) = tests
        value, column = entry[test], str(entry["column"])
        rule = FilterRule(column, test, reason.strip())
        if test in ("below", "above"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise MappingError(f"{label}.{test}: a number, got {value!r}")
            rule = replace(rule, bound=float(value))
        elif test == "missing":
            if value is not True:
                raise MappingError(f"{label}.missing: write 'missing: true' to drop empty values")
        else:
            values = value if test == "in" else [value]
            if not isinstance(values, list) or not values:
                raise MappingError(f"{label}.{test}: a non-empty list of values")
            rule = replace(rule, values=tuple(_as_text(v, f"{label}.{test}") for v in values))
        rules.append(rule)
    return tuple(rules)


def _parse_population(raw: Any, where: str) -> float | None:
    """``{churn_rate: share}``: the churn rate of the population the model will score."""
    if raw is None:
        return None
    _require_mapping(raw, where)
    if set(raw) != {"churn_rate"}:
        raise MappingError(
            f"{where}: the one key is 'churn_rate' (the share of customers who "
            f"churn in the population scored), got {sorted(raw)}"
        )
    return _share(raw["churn_rate"], f"{where}.churn_rate")


def parse_expression(raw: Any, where: str) -> Expression:
    """A column name, a number, ``{sum|difference|product|ratio: [operands]}`` or
    ``{recode: {column, values}}``. Nothing is evaluated as code."""
    if isinstance(raw, str):
        return Column(raw)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return Constant(float(raw))
    if not isinstance(raw, dict) or len(raw) != 1:
        raise MappingError(
            f"{where}: an expression is a column name, a number, or one of "
            f"{[*ARITHMETIC, RECODE]} with its arguments; got {raw!r}"
        )
    ((op, args),) = raw.items()
    if op == RECODE:
        _require_mapping(args, f"{where}.{RECODE}")
        if set(args) != {"column", "values"} or not isinstance(args["values"], dict):
            raise MappingError(f"{where}.{RECODE}: needs 'column' and a 'values' lookup table")
        values = {_as_text(k, f"{where}.{RECODE}.values"): v for k, v in args["values"].items()}
        kinds = {type(v) if isinstance(v, bool | str) else float for v in values.values()}
        if len(kinds) != 1:
            raise MappingError(f"{where}.{RECODE}: values must all be numbers, flags or text")
        return Recode(str(args["column"]), values)
    if op not in ARITHMETIC:
        raise MappingError(f"{where}: unknown operation '{op}'; known: {[*ARITHMETIC, RECODE]}")
    low, high = ARITHMETIC[op]
    if not isinstance(args, list) or len(args) < low or (high and len(args) > high):
        count = f"exactly {low}" if high == low else f"at least {low}"
        raise MappingError(f"{where}.{op}: takes a list of {count} operands")
    operands = tuple(parse_expression(a, f"{where}.{op}[{i}]") for i, a in enumerate(args))
    if any(isinstance(operand, Recode) for operand in operands):
        raise MappingError(f"{where}.{op}: a recode cannot be an arithmetic operand")
    return Arithmetic(op, operands)


def _parse_reason(raw: Any, where: str) -> ReasonSpec:
    """``{column, values: {label: survey reason | cause | category | null}}``."""
    _require_mapping(raw, where)
    if set(raw) != {"column", "values"} or not isinstance(raw["values"], dict) or not raw["values"]:
        raise MappingError(
            f"{where}: needs 'column' and a non-empty 'values' table from the dataset's labels "
            f"to survey reasons, taxonomy causes or categories (null: names no reason)"
        )
    taxonomy = load_taxonomy()
    known = [*taxonomy.survey_reasons, *taxonomy.causes, *taxonomy.categories]
    targets = {}
    for label, target in raw["values"].items():
        label = _as_text(label, f"{where}.values")
        if target is not None and target not in known:
            raise MappingError(
                f"{where}.values.{label}: '{target}' is no survey reason, cause or category"
                f"{_did_you_mean(str(target), known)}"
            )
        targets[label] = target
    return ReasonSpec(str(raw["column"]), targets)


def _category_of(taxonomy: Any, code: str) -> str:
    """The category a survey reason, cause or category code stands for."""
    if code in taxonomy.survey_reasons:
        return taxonomy.category_of_reason(code).code
    if code in taxonomy.causes:
        return taxonomy.causes[code].category
    return code


def _check_sources(mapping: Mapping, where: str) -> None:
    """No feature may read an excluded, label, id, split or reason column, and names are
    unique."""
    forbidden = {column: f"excluded: {reason}" for column, reason in mapping.excluded.items()}
    forbidden[mapping.label_column] = "the churn label"
    if mapping.reason:
        forbidden[mapping.reason.column] = "the recorded churn reason (known only after exit)"
    if mapping.id_column:
        forbidden[mapping.id_column] = "the id column"
    if mapping.split.column:
        forbidden[mapping.split.column] = "the split column"
    for spec in mapping.features:
        for column in columns_of(spec.source):
            if column in forbidden:
                raise MappingError(
                    f"{where}: feature '{spec.meta.name}' reads column '{column}', which is "
                    f"{forbidden[column]}"
                )
    outcomes = {mapping.label_column: "the churn label"}
    if mapping.reason:
        outcomes[mapping.reason.column] = "the recorded churn reason"
    for index, rule in enumerate(mapping.filters):
        if rule.column in outcomes:
            raise MappingError(
                f"{where}:filter[{index}]: filters on '{rule.column}', {outcomes[rule.column]}: "
                f"dropping rows by the outcome biases every rate and metric"
            )


def _check_kind(spec: FeatureSpec, where: str) -> None:
    """A recode's values must fit the feature's kind; arithmetic gives numbers only."""
    kind, source = spec.meta.kind, spec.source
    if isinstance(source, Arithmetic | Constant) and kind not in ("float", "int"):
        raise MappingError(f"{where}: arithmetic gives numbers, but the feature is a {kind}")
    if isinstance(source, Recode):
        value = next(iter(source.values.values()), None)
        fits = {"bool": bool, "category": str}.get(kind)
        ok = (
            isinstance(value, fits)
            if fits
            else isinstance(value, int | float) and not isinstance(value, bool)
        )
        if not ok:
            raise MappingError(f"{where}: recode gives {value!r}, which is not a {kind} value")


def _parse_excluded(raw: Any, where: str) -> dict[str, str]:
    """Leaky or unusable columns, each with the reason it is kept out."""
    _require_mapping(raw, where)
    for column, reason in raw.items():
        if not isinstance(reason, str) or not reason.strip():
            raise MappingError(f"{where}.{column}: give the reason the column is excluded")
    return {str(column): reason for column, reason in raw.items()}


def _share(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or not 0 < value < 1:
        raise MappingError(f"{where}: expected a share between 0 and 1, got {value!r}")
    return float(value)


def _as_text(value: Any, where: str) -> str:
    """A data value as the file's text. YAML reads unquoted Yes/No/True as booleans, which
    would never match the file's text, so those must be quoted."""
    if isinstance(value, bool):
        raise MappingError(
            f"{where}: {value!r} is a YAML boolean; quote the value as the file writes it "
            f"(e.g. 'Yes' or 'True')"
        )
    return str(value)


def _require_mapping(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise MappingError(f"{where}: expected a mapping, got {type(value).__name__}")


def _did_you_mean(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=3)
    return f" (did you mean {close}?)" if close else ""
