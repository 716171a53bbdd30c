"""Mapping files: clear errors for bad mappings, the expression language, leaky columns."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
import yaml
from tests.params import REPO_PARAMS
from typer.testing import CliRunner

from clm.cli import app
from clm.config import read_params
from clm.features.metadata import load_feature_metadata
from clm.models.encoding import FeatureEncoder
from clm.snapshot.frame import ID, LABEL, filter_rows, map_frame, read_source, validate_frame
from clm.snapshot.mapping import Arithmetic, Column, MappingError, load_mapping, parse_expression
from clm.snapshot.pipeline import prepare
from clm.snapshot.split import pooled_levels, split_frame

CSV = """id,minutes_day,minutes_night,calls,care calls,plan,state,leaky,churned
a,100,50,10,0,Yes,ok,1,No
b,200,0,0,3,No,ok,2,Yes
c,,20,5,1,Yes,ok,1,No
d,80,40,4,0,No,ok,2,Yes
"""


def base_mapping() -> dict:
    return {
        "dataset": "toy",
        "files": "toy.csv",
        "id": "id",
        "label": {"column": "churned", "positive": ["Yes"]},
        "split": {"test_share": 0.5, "valid_share": 0.5, "seed": 1},
        "features": {
            "mou": {"source": {"sum": ["minutes_day", "minutes_night"]}, "nullable": True},
            "hotline_calls": {"source": "care calls", "description": "Care calls over the year"},
        },
        "extra": {
            "minutes_per_call": {
                "source": {"ratio": ["minutes_night", "calls"]},
                "kind": "float",
                "cause": "falling_satisfaction",
                "description": "Night minutes per call",
                "nullable": True,
            },
            "has_plan": {
                "source": {"recode": {"column": "plan", "values": {"Yes": True, "No": False}}},
                "kind": "bool",
                "cause": "service_offering",
                "description": "On the plan",
            },
        },
        "excluded": {"leaky": "recorded after the customer left"},
    }


def write(tmp_path: Path, mapping: dict, csv: str = CSV) -> Path:
    (tmp_path / "toy.csv").write_text(csv, encoding="utf-8")
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return path


def mapped(path: Path) -> pl.DataFrame:
    mapping = load_mapping(path)
    return validate_frame(mapping, map_frame(mapping, read_source(mapping)))


def test_mapped_features_inherit_clm_meaning_and_extras_keep_their_own(tmp_path):
    mapping = load_mapping(write(tmp_path, base_mapping()))
    clm = load_feature_metadata()
    assert mapping.metadata["hotline_calls"].cause == clm["hotline_calls"].cause
    assert mapping.metadata["hotline_calls"].unit == clm["hotline_calls"].unit
    assert mapping.metadata["hotline_calls"].description == "Care calls over the year"
    assert mapping.metadata["mou"].nullable and not clm["mou"].nullable
    assert mapping.metadata["has_plan"].cause == "service_offering"


def test_expressions_sum_ratio_and_recode(tmp_path):
    table = mapped(write(tmp_path, base_mapping()))
    assert table[ID].to_list() == ["a", "b", "c", "d"]
    assert table["mou"].to_list() == [150.0, 200.0, None, 120.0]  # a null operand gives null
    assert table["minutes_per_call"].to_list() == [5.0, None, 4.0, 10.0]  # x / 0 gives null
    assert table["has_plan"].to_list() == [True, False, True, False]
    assert table["hotline_calls"].dtype == pl.Int64
    assert table[LABEL].to_list() == [0, 1, 0, 1]


def test_excluded_columns_never_become_features(tmp_path):
    table = mapped(write(tmp_path, base_mapping()))
    assert "leaky" not in table.columns
    using_it = base_mapping()
    using_it["extra"]["leak"] = {
        "source": "leaky", "kind": "int", "cause": "falling_satisfaction", "description": "x",
    }  # fmt: skip
    with pytest.raises(MappingError, match="reads column 'leaky', which is excluded: recorded"):
        load_mapping(write(tmp_path, using_it))
    inside_an_expression = base_mapping()
    inside_an_expression["features"]["mou"] = {"sum": ["minutes_day", "leaky"]}
    with pytest.raises(MappingError, match="'leaky', which is excluded"):
        load_mapping(write(tmp_path, inside_an_expression))


def test_the_label_cannot_be_a_feature(tmp_path):
    mapping = base_mapping()
    mapping["extra"]["churn_flag"] = {
        "source": "churned", "kind": "category", "cause": "falling_satisfaction",
        "description": "x",
    }  # fmt: skip
    with pytest.raises(MappingError, match="reads column 'churned', which is the churn label"):
        load_mapping(write(tmp_path, mapping))


def test_unknown_clm_feature_is_named_with_a_suggestion(tmp_path):
    mapping = base_mapping()
    mapping["features"]["hotline_call"] = "care calls"
    with pytest.raises(MappingError, match=r"hotline_call: not a clm feature.*'hotline_calls'"):
        load_mapping(write(tmp_path, mapping))


def test_unknown_cause_code_is_named(tmp_path):
    mapping = base_mapping()
    mapping["extra"]["has_plan"]["cause"] = "service_offer"
    with pytest.raises(MappingError, match=r"extra.has_plan: unknown cause 'service_offer'"):
        load_mapping(write(tmp_path, mapping))


def test_missing_column_names_the_column_and_the_file(tmp_path):
    mapping = base_mapping()
    mapping["features"]["hotline_calls"] = "care  calls"  # double space: not in the file
    with pytest.raises(MappingError, match=r"\['care  calls'\] not in toy.csv.*'care calls'"):
        read_source(load_mapping(write(tmp_path, mapping)))


def test_a_missing_data_file_says_where_paths_are_resolved(tmp_path):
    mapping = base_mapping()
    mapping["files"] = "elsewhere.csv"
    with pytest.raises(MappingError, match="relative to the mapping file's folder"):
        read_source(load_mapping(write(tmp_path, mapping)))


def test_non_numbers_in_a_numeric_column_are_shown(tmp_path):
    path = write(tmp_path, base_mapping(), CSV.replace("b,200,0,0,3", "b,200,0,0,three"))
    with pytest.raises(MappingError, match=r"'care calls' is not numeric: 1 value\(s\).*three"):
        mapped(path)


def test_a_value_the_recode_does_not_list_is_an_error(tmp_path):
    path = write(tmp_path, base_mapping(), CSV.replace("a,100,50,10,0,Yes", "a,100,50,10,0,Maybe"))
    with pytest.raises(MappingError, match=r"recode of column 'plan' does not list.*Maybe"):
        mapped(path)


def test_unquoted_yaml_booleans_must_be_quoted(tmp_path):
    mapping = base_mapping()
    mapping["label"]["positive"] = [True]  # what YAML makes of an unquoted Yes
    with pytest.raises(MappingError, match="YAML boolean; quote the value"):
        load_mapping(write(tmp_path, mapping))


def test_a_positive_label_value_that_never_occurs_is_an_error(tmp_path):
    mapping = base_mapping()
    mapping["label"]["positive"] = ["yes"]
    with pytest.raises(MappingError, match=r"positive value\(s\) \['yes'\] never occur"):
        mapped(write(tmp_path, mapping))


def test_range_checks_of_the_feature_contract_apply(tmp_path):
    path = write(tmp_path, base_mapping(), CSV.replace("b,200,0,0,3", "b,200,0,0,-3"))
    with pytest.raises(MappingError, match=r"column 'hotline_calls', check greater_than_or_equal"):
        mapped(path)


def test_region_takes_any_text_and_network_the_playbooks_vocabulary(tmp_path):
    mapping = base_mapping()
    mapping["features"] |= {"region": "plan", "network": "state"}
    with pytest.raises(MappingError, match=r"column 'network', check isin"):
        mapped(write(tmp_path, mapping))

    table = mapped(write(tmp_path, mapping, CSV.replace(",ok,", ",C,")))
    assert table["region"].to_list() == ["Yes", "No", "Yes", "No"]


def test_exactly_one_split_method(tmp_path):
    mapping = base_mapping()
    mapping["files"] = [{"path": "toy.csv", "part": "train"}]
    with pytest.raises(MappingError, match=r"choose exactly one split.*\['file', 'random'\]"):
        load_mapping(write(tmp_path, mapping))


def test_expression_language_is_data_not_code():
    assert parse_expression({"ratio": ["Seconds", 60]}, "x") == Arithmetic(
        "ratio", (Column("Seconds"), parse_expression(60, "x"))
    )
    with pytest.raises(MappingError, match="unknown operation '__import__'"):
        parse_expression({"__import__": ["os"]}, "x")
    with pytest.raises(MappingError, match="exactly 2 operands"):
        parse_expression({"ratio": ["a", "b", "c"]}, "x")


def test_identical_rows_land_in_the_same_part(tmp_path):
    rows = [f"{i},{i % 7},1,1,0,Yes,ok,1,{'Yes' if i % 3 == 0 else 'No'}" for i in range(300)]
    csv = "id,minutes_day,minutes_night,calls,care calls,plan,state,leaky,churned\n"
    mapping = base_mapping()
    mapping["split"] = {"test_share": 0.3, "valid_share": 0.3, "seed": 3}
    table = mapped(write(tmp_path, mapping, csv + "\n".join(rows) + "\n"))
    parts = split_frame(table, load_mapping(tmp_path / "toy.yaml").split)
    assert sum(part.height for part in parts.values()) == 300
    signature = pl.exclude(ID, "source_file", "source_part")
    seen = [set(part.select(signature).rows()) for part in parts.values()]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])


def test_anchors_and_aliases_in_a_mapping_are_refused_with_file_and_line(tmp_path):
    path = write(tmp_path, base_mapping())
    text = path.read_text(encoding="utf-8")
    path.write_text(f"{text}x: &repeat [a, b]\ny: [*repeat, *repeat]\n", encoding="utf-8")
    line = text.count("\n") + 1
    with pytest.raises(MappingError, match=rf"toy.yaml:{line}: YAML anchors and aliases"):
        load_mapping(path)


@pytest.mark.parametrize("outside", ["../outside/data.csv", "ABSOLUTE"])
def test_a_data_file_outside_the_mapping_folder_is_refused_unless_allowed(tmp_path, outside):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "data.csv").write_text(CSV, encoding="utf-8")
    folder = tmp_path / "mappings"
    folder.mkdir()
    mapping = base_mapping()
    mapping["files"] = str(tmp_path / "outside" / "data.csv") if outside == "ABSOLUTE" else outside
    path = write(folder, mapping)
    with pytest.raises(MappingError, match=r"toy.yaml:files\[0\]: .* lies outside the mapping's"):
        load_mapping(path)
    assert mapped_rows(load_mapping(path, [tmp_path / "outside"])) == 4  # a trusted data root
    assert mapped_rows(load_mapping(path, allow_outside=True)) == 4


def test_a_link_out_of_the_mapping_folder_is_outside_too(tmp_path):
    (tmp_path / "secret.csv").write_text(CSV, encoding="utf-8")
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "data.csv").symlink_to(tmp_path / "secret.csv")
    mapping = base_mapping()
    mapping["files"] = "data.csv"
    with pytest.raises(MappingError, match="lies outside the mapping's folder"):
        load_mapping(write(folder, mapping))


def test_a_file_that_is_not_the_mapped_table_is_never_quoted(tmp_path):
    mapping = base_mapping()
    path = write(tmp_path, mapping, "root:x:0:0:secret-first-line\nsecond:secret-line\n")
    with pytest.raises(MappingError, match=r"toy.csv has none of the mapping's columns") as error:
        read_source(load_mapping(path))
    assert "secret" not in str(error.value)


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        ("", "toy.csv is empty"),
        (CSV.splitlines()[0] + "\n", "toy.csv has no rows below its header"),
        (CSV + "e,1,2,3,4,Yes,ok,1,No,secret,extra\n", r"toy.csv cannot be read as a CSV table"),
    ],
    ids=["zero-bytes", "header-only", "ragged"],
)
def test_an_empty_or_unreadable_data_file_is_one_line_naming_it(tmp_path, content, rule):
    with pytest.raises(MappingError, match=rule) as error:
        read_source(load_mapping(write(tmp_path, base_mapping(), content)))
    assert "\n" not in str(error.value) and "secret" not in str(error.value)


def test_too_few_customers_to_split_is_a_mapping_error(tmp_path):
    mapping = load_mapping(write(tmp_path, base_mapping(), "\n".join(CSV.splitlines()[:3])))
    with pytest.raises(MappingError, match=r"toy.yaml:split: .*cannot be stratified by label"):
        prepare(mapping)


def test_every_failed_schema_check_is_listed_on_one_line(tmp_path):
    csv = CSV.replace("b,200,0,0,3", "b,200,0,0,-3").replace("d,80,40", "d,-80,-40")
    with pytest.raises(MappingError, match=r"column 'hotline_calls'.*; column 'mou'") as error:
        mapped(write(tmp_path, base_mapping(), csv))
    assert "\n" not in str(error.value)


def mapped_rows(mapping) -> int:
    return map_frame(mapping, read_source(mapping)).height


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("alias", r"toy.yaml:\d+: YAML anchors and aliases"),
        ("outside", r"toy.yaml:files\[0\]: '/etc/passwd' lies outside"),
        ("params", r"params.yaml:2: YAML anchors and aliases"),
    ],
)
def test_snapshot_check_prints_one_line_and_exits_2(tmp_path, broken, message):
    mapping = base_mapping()
    if broken == "outside":
        mapping["files"] = "/etc/passwd"
    path = write(tmp_path, mapping)
    if broken == "alias":
        path.write_text(path.read_text() + "x: &a [1]\ny: *a\n", encoding="utf-8")
    params = tmp_path / "params.yaml"
    roots = "&roots []" if broken == "params" else "[]"
    rest = {k: v for k, v in read_params(REPO_PARAMS)["snapshot"].items() if k != "data_roots"}
    rest_text = "".join(f"  {line}\n" for line in yaml.safe_dump(rest).splitlines())
    params.write_text(f"snapshot:\n  data_roots: {roots}\n{rest_text}")

    result = CliRunner().invoke(app, ["snapshot", "check", str(path), "--params", str(params)])

    assert result.exit_code == 2, result.output
    assert re.match(f"mapping check failed: .*{message}", result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def state_files(tmp_path: Path, states: list[str], valid_share: float, **state) -> Path:
    """A mapping reading a category ``state`` (with the options ``state``) from a train file
    and a test file: one row per value of ``states``, churn alternating, the first 4 in test."""
    header = "id,minutes_day,minutes_night,calls,care calls,plan,state,leaky,churned\n"
    rows = [
        f"{i},{i},1,1,0,Yes,{value},1,{'Yes' if i % 2 else 'No'}\n"
        for i, value in enumerate(states)
    ]
    mapping = base_mapping()
    mapping["files"] = [{"path": "toy.csv", "part": "train"}, {"path": "test.csv", "part": "test"}]
    mapping["split"] = {"valid_share": valid_share, "seed": 1}
    mapping["extra"]["state"] = {
        "source": "state", "kind": "category", "cause": "market_separation", "description": "x",
        **state,
    }  # fmt: skip
    path = write(tmp_path, mapping, header + "".join(rows[4:]))
    (tmp_path / "test.csv").write_text(header + "".join(rows[:4]), encoding="utf-8")
    return path


def test_a_category_value_missing_from_train_is_named_at_check(tmp_path):
    path = state_files(tmp_path, ["rare", *["ok"] * 43], valid_share=0.5)
    with pytest.raises(MappingError, match=r"'state': value\(s\) \['rare'\] occur in the test"):
        prepare(load_mapping(path))


def test_a_category_with_a_min_count_scores_rare_and_unseen_values_as_one_level(tmp_path):
    states = ["ok"] * 30 + ["few"] * 2 + ["some"] * 8  # training rows; "rare" only in test
    path = state_files(tmp_path, ["rare", "ok", "few", "some", *states], 0.25, min_count=5)
    loaded = load_mapping(path)
    parts = prepare(loaded).parts  # no error for "rare": the feature pools it
    encoder = FeatureEncoder.fit(parts["train"], loaded.metadata)

    assert set(encoder.levels["state"]) <= {"ok", "some"}  # "few": 2 rows, below 5
    test = encoder.transform(parts["test"])
    by_id = dict(zip(parts["test"][ID].to_list(), test["state=(other)"].tolist(), strict=True))
    assert by_id == {"0": 1.0, "1": 0.0, "2": 1.0, "3": 0.0}  # rare (unseen), ok, few, some
    pooled = pooled_levels(encoder, parts, loaded.metadata)
    assert [(p.feature, p.min_count, p.levels_kept) for p in pooled] == [
        ("state", 5, len(encoder.levels["state"]))
    ]
    assert pooled[0].rows["test"] == 2
    assert pooled[0].rows["train"] + pooled[0].rows["valid"] == 2  # the two "few" rows


@pytest.mark.parametrize("min_count", [None, 5])
def test_a_category_with_many_values_is_named_with_a_hint_unless_it_pools(
    tmp_path, caplog, min_count
):
    pooling = {"min_count": min_count} if min_count else {}
    path = state_files(tmp_path, [f"s{i % 60}" for i in range(240)], 0.25, **pooling)
    prepare(load_mapping(path))
    hints = [r.getMessage() for r in caplog.records]
    hints = [hint for hint in hints if "values in the training part" in hint]
    if min_count:
        assert hints == []
    else:
        (hint,) = hints
        assert "category 'state' has 60 values" in hint and "'min_count: 30'" in hint


REASON_CSV = """id,minutes_day,minutes_night,calls,care calls,plan,state,leaky,churned,why
a,100,50,10,0,Yes,ok,1,No,
b,200,0,0,3,No,ok,2,Yes,Competitor offer
c,,20,5,1,Yes,ok,1,No,
d,80,40,4,0,No,ok,2,Yes,Don't know
"""


def reason_mapping(values: dict) -> dict:
    return base_mapping() | {"reason": {"column": "why", "values": values}}


def test_a_reason_column_maps_labels_to_survey_reasons_causes_or_categories(tmp_path):
    values = {
        "Competitor offer": "competitor_behaviour",  # a category
        "Attitude": "service_attitude",  # a cause
        "Network": "coverage_quality",  # a survey reason
        "Don't know": None,  # names no reason
    }
    path = write(tmp_path, reason_mapping(values), REASON_CSV)
    mapping = load_mapping(path)
    assert mapping.reason.categories == {
        "Competitor offer": "competitor_behaviour",
        "Attitude": "service_level",
        "Network": "product_quality",
    }
    table = mapped(path)
    assert table["recorded_reason"].to_list() == [None, "Competitor offer", None, None]


def test_a_reason_label_the_mapping_does_not_list_is_named(tmp_path):
    path = write(tmp_path, reason_mapping({"Competitor offer": "price"}), REASON_CSV)
    with pytest.raises(
        MappingError, match=r"column 'why'.*\[\"Don't know\"\] not in reason.values"
    ):
        mapped(path)


def test_a_reason_target_outside_the_taxonomy_is_refused(tmp_path):
    mapping = reason_mapping({"Competitor offer": "competitors"})
    with pytest.raises(MappingError, match="'competitors' is no survey reason, cause or category"):
        load_mapping(write(tmp_path, mapping, REASON_CSV))


def test_the_recorded_reason_cannot_be_a_feature(tmp_path):
    mapping = reason_mapping({"Competitor offer": "price", "Don't know": None})
    mapping["extra"]["why_left"] = {
        "source": "why", "kind": "category", "cause": "falling_satisfaction", "description": "x",
    }  # fmt: skip
    with pytest.raises(MappingError, match="which is the recorded churn reason"):
        load_mapping(write(tmp_path, mapping, REASON_CSV))


# the options of the issue "own data above every reference": round, clip, columns, filter,
# cause overrides, population

OPTIONS_CSV = """id,minutes_day,minutes_night,calls,care calls,plan,state,leaky,churned
a,100,50,10,0.33,Yes,ok,1,No
b,-20,0,0,2.67,No,ok,2,Yes
c,?,20,5,1.0,Y,new,1,No
d,80,40,4,0,No,ok,2,Yes
e,90,40,4,0,No,new,2,Yes
"""


def options_mapping() -> dict:
    mapping = base_mapping()
    mapping["features"]["hotline_calls"] = {"source": "care calls", "round": 0}
    mapping["features"]["mou"] = {
        "source": {"sum": ["minutes_day", "minutes_night"]},
        "nullable": True,
        "clip": {"min": 0},
        "cause": "call_quality",
        "cause_reason": "this operator's minutes fall when calls drop",
    }
    mapping["columns"] = {"minutes_day": {"missing": ["?"]}, "plan": {"replace": {"Y": "Yes"}}}
    mapping["filter"] = [{"column": "state", "equals": "new", "reason": "joined this month"}]
    mapping["population"] = {"churn_rate": 0.02}
    return mapping


def test_round_clip_columns_filter_and_cause_override_shape_the_table(tmp_path):
    path = write(tmp_path, options_mapping(), OPTIONS_CSV)
    mapping = load_mapping(path)
    kept, dropped = filter_rows(mapping, read_source(mapping))
    table = validate_frame(mapping, map_frame(mapping, kept))
    assert [(rows.rule, rows.rows) for rows in dropped] == [("state in ['new']", 2)]
    assert dropped[0].reason == "joined this month"
    assert table[ID].to_list() == ["a", "b", "d"]
    assert table["hotline_calls"].to_list() == [0, 3, 0]  # 3-month means rounded to counts
    assert table["mou"].to_list() == [150.0, 0.0, 120.0]  # -20 + 0 clipped at 0
    assert mapping.metadata["mou"].cause == "call_quality"
    (mou,) = [spec for spec in mapping.features if spec.meta.name == "mou"]
    assert mou.cause_override.clm_cause == "falling_satisfaction"
    assert mapping.population_rate == 0.02


def test_missing_tokens_and_replacements_apply_per_column(tmp_path):
    mapping = options_mapping()
    mapping["filter"] = []
    table = mapped(write(tmp_path, mapping, OPTIONS_CSV))
    assert table["mou"].to_list()[2] is None  # "?" is missing in minutes_day only
    assert table["has_plan"].to_list()[2] is True  # "Y" replaced by "Yes" before the recode


def test_an_int_feature_with_fractions_asks_for_round(tmp_path):
    mapping = base_mapping()
    with pytest.raises(MappingError, match=r"int feature 'hotline_calls' has fractions .*round"):
        mapped(write(tmp_path, mapping, OPTIONS_CSV.replace(",?,", ",1,")))


def _set(mapping: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = mapping
    for key in parents:
        node = node[key]
    node[last] = value
    return mapping


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("features.hotline_calls.round", -1, r"features.hotline_calls.round: the number of dec"),
        ("features.hotline_calls.round", 0.5, r"features.hotline_calls.round: the number of dec"),
        ("features.mou.clip", {"min": 5, "max": 1}, r"features.mou.clip: min 5 is above max 1"),
        ("features.mou.clip", {"low": 0}, r"features.mou.clip: give 'min', 'max' or both"),
        ("features.mou.clip", {"min": "zero"}, r"features.mou.clip: bounds are numbers"),
        ("extra.has_plan.round", 0, r"extra.has_plan.round: only numeric features"),
        ("features.mou.cause_reason", None, r"features.mou.cause: .*needs a 'cause_reason'"),
        ("features.mou.cause", "call_qualty", r"features.mou.cause: unknown cause 'call_qualty'"),
        ("features.mou.cause", "falling_satisfaction", r"already the feature's cause in clm"),
        ("columns.nowhere", {"missing": ["?"]}, r"columns.nowhere: no feature, key or filter"),
        ("columns.plan", {"missing": "?"}, r"columns.plan.missing: a non-empty list"),
        ("columns.plan", {"drop": ["?"]}, r"columns.plan: give 'missing', 'replace' or both"),
        ("columns.plan", {"missing": ["Y"], "replace": {"Y": "Yes"}}, r"\['Y'\] both mean"),
        ("filter", [{"column": "state", "equals": "new"}], r"filter\[0\]: give the 'reason'"),
        ("filter", [{"column": "state", "reason": "x"}], r"filter\[0\]: needs 'column', 'reas"),
        ("filter", [{"column": "calls", "below": "5", "reason": "x"}], r"filter\[0\].below: a n"),
        ("filter", [{"column": "calls", "missing": 1, "reason": "x"}], r"'missing: true'"),
        ("filter", [{"column": "churned", "equals": "No", "reason": "x"}], r"by the outcome"),
        ("filter", {"column": "state"}, r"filter: a list of rules"),
        ("features.mou.min_count", 5, r"features.mou.min_count: only category features pool"),
        ("extra.state.min_count", 0, r"extra.state.min_count: a whole number of training rows"),
        ("extra.state.min_count", True, r"extra.state.min_count: a whole number of training row"),
        ("population", {"churn_rate": 1.5}, r"population.churn_rate: expected a share"),
        ("population", {"rate": 0.1}, r"population: the one key is 'churn_rate'"),
    ],
)
def test_each_misuse_of_a_new_key_is_one_line_naming_file_entry_and_rule(
    tmp_path, key, value, message
):
    mapping = options_mapping()
    mapping["extra"]["state"] = {
        "source": "state", "kind": "category", "cause": "market_separation", "description": "x",
    }  # fmt: skip
    if value is None:
        del mapping["features"]["mou"]["cause_reason"]
    else:
        _set(mapping, key, value)
    with pytest.raises(MappingError, match=message) as error:
        load_mapping(write(tmp_path, mapping, OPTIONS_CSV))
    assert str(error.value).startswith(str(tmp_path / "toy.yaml")) and "\n" not in str(error.value)


def test_a_filter_on_a_non_number_or_dropping_everything_is_named(tmp_path):
    mapping = options_mapping()
    mapping["filter"] = [{"column": "plan", "above": 1, "reason": "x"}]
    loaded = load_mapping(write(tmp_path, mapping, OPTIONS_CSV))
    with pytest.raises(MappingError, match=r"filter\[0\] \(plan > 1\): column 'plan' is not num"):
        filter_rows(loaded, read_source(loaded))
    mapping["filter"] = [{"column": "calls", "below": 100, "reason": "x"}]
    loaded = load_mapping(write(tmp_path, mapping, OPTIONS_CSV))
    with pytest.raises(MappingError, match=r"filter\[0\] \(calls < 100\): drops every remaining"):
        filter_rows(loaded, read_source(loaded))
