"""The packaged churn-reason taxonomy: complete, consistent, bilingual, and checked on load."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from clm.data.contract import NETWORKS, SURVEY_REASONS
from clm.domain.stages import STAGES
from clm.domain.taxonomy import TaxonomyError, load_taxonomy
from clm.features.metadata import load_feature_metadata, parse_feature_metadata

PACKAGED = resources.files("clm.domain").joinpath("taxonomy.yaml")

# Cause codes per category (domain.md §4.2); other modules depend on these exact codes.
CAUSES_BY_CATEGORY = {
    "product_quality": ["call_quality", "network_coverage", "service_offering", "handset_quality"],
    "policy_measures": ["policy_loopholes", "promotion_intensity", "market_separation"],
    "service_level": [
        "billing_errors",
        "service_attitude",
        "handset_after_sales",
        "organisation_investment",
    ],
    "operations_management": ["processes_rules", "inauthentic_records"],
    "channel_behaviour": [
        "channel_service_gaps",
        "loose_channel_management",
        "dealer_speculation",
    ],
    "competitor_behaviour": ["competitor_poaching", "price_war", "competitor_brand_advantage"],
    "customer_behaviour": [
        "falling_satisfaction",
        "consumption_substitution",
        "chasing_promotions",
        "malicious_churn",
    ],
}

REASON_TO_CAUSE = {
    "coverage_quality": "network_coverage",
    "price": "price_war",
    "handset": "handset_quality",
    "billing": "billing_errors",
    "after_sales_service": "service_attitude",
    "malicious_arrears": "malicious_churn",
    "value_added_services": "service_offering",
    "channel_sim_flipping": "dealer_speculation",
    "brand_image": "competitor_brand_advantage",
    "relocation": "consumption_substitution",
    "other": "falling_satisfaction",
}

# Measure codes of domain.md §6: how many of each phase x function prefix.
MEASURE_COUNTS = {"PM": 3, "PS": 4, "PA": 5, "RM": 5, "RS": 5, "RA": 5, "DM": 4, "DS": 3, "DA": 4}
MEASURE_CODES = {
    f"{prefix}{number:03d}"
    for prefix, count in MEASURE_COUNTS.items()
    for number in range(1, count + 1)
}


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the packaged file with one text replaced, to feed the loader a known fault."""
    text = PACKAGED.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_yaml_ships_inside_the_package():
    assert PACKAGED.is_file()


def test_load_is_cached(taxonomy):
    assert load_taxonomy() is taxonomy


def test_counts_and_codes(taxonomy):
    assert list(taxonomy.categories) == list(CAUSES_BY_CATEGORY)
    assert len(taxonomy.causes) == 23
    assert len(taxonomy.survey_reasons) == 11
    assert set(taxonomy.measures) == MEASURE_CODES
    for category, causes in CAUSES_BY_CATEGORY.items():
        assert [c.code for c in taxonomy.causes.values() if c.category == category] == causes


def test_internal_categories_are_the_first_four(taxonomy):
    internal = [code for code, category in taxonomy.categories.items() if category.internal]
    assert internal == list(CAUSES_BY_CATEGORY)[:4]


def test_survey_reasons_agree_with_the_data_contract(taxonomy):
    assert tuple(taxonomy.survey_reasons) == SURVEY_REASONS
    assert {code: reason.cause for code, reason in taxonomy.survey_reasons.items()} == (
        REASON_TO_CAUSE
    )
    for reason in taxonomy.survey_reasons.values():
        assert set(reason.share) == set(NETWORKS)


def test_reason_shares_sum_to_one_per_network(taxonomy):
    for network in NETWORKS:
        total = sum(reason.share[network] for reason in taxonomy.survey_reasons.values())
        assert total == pytest.approx(1.0, abs=0.005)


def test_stages_agree_with_the_data_contract(taxonomy):
    assert tuple(taxonomy.stages) == STAGES
    phases = {code: stage.phase for code, stage in taxonomy.stages.items()}
    assert phases["growth"] == "prevention"
    assert phases["stable"] == "maintenance"
    assert phases["warning"] == "retention"


def test_measure_code_letters_match_phase_and_function(taxonomy):
    phase_letter = {"prevention": "P", "maintenance": "R", "retention": "D"}
    function_letter = {"marketing": "M", "service": "S", "management": "A"}
    for code, measure in taxonomy.measures.items():
        assert code[:2] == phase_letter[measure.phase] + function_letter[measure.function]


def test_every_entry_is_bilingual(taxonomy):
    tables = [
        taxonomy.phases,
        taxonomy.functions,
        taxonomy.controllability,
        taxonomy.urgency_levels,
        taxonomy.categories,
        taxonomy.causes,
        taxonomy.survey_reasons,
        taxonomy.consulting_stages,
        taxonomy.stages,
        taxonomy.value_tiers,
        taxonomy.measures,
    ]
    for table in tables:
        for term in table.values():
            assert term.zh.strip() and term.en.strip(), term.code
            assert any("\u4e00" <= char <= "\u9fff" for char in term.zh), term.code


def test_lookups_follow_the_mappings(taxonomy):
    assert taxonomy.cause("price_war").category == "competitor_behaviour"
    assert taxonomy.category_of_reason("coverage_quality").code == "product_quality"
    assert taxonomy.category_of_reason("channel_sim_flipping").code == "channel_behaviour"
    with pytest.raises(TaxonomyError, match="no_such_cause"):
        taxonomy.cause("no_such_cause")


def test_measures_for_returns_only_the_stage_phase(taxonomy):
    for stage in taxonomy.stages.values():
        for cause in taxonomy.causes:
            for tier in taxonomy.value_tiers:
                codes = taxonomy.measures_for(stage.code, cause, tier)
                assert all(taxonomy.measures[code].phase == stage.phase for code in codes)
                assert codes or tier == "low"


def test_low_value_gets_no_costly_measures(taxonomy):
    costly = {"DM001", "RA001"}
    for stage in taxonomy.stages:
        for cause in taxonomy.causes:
            assert not costly & set(taxonomy.measures_for(stage, cause, "low"))
    assert "DM001" in taxonomy.measures_for("warning", "price_war", "high")


def test_unknown_cause_is_named(tmp_path):
    path = _broken_copy(tmp_path, "cause: network_coverage", "cause: no_such_cause")
    with pytest.raises(TaxonomyError, match=r"coverage_quality.*no_such_cause"):
        load_taxonomy(path)


def test_duplicate_code_is_named(tmp_path):
    path = _broken_copy(tmp_path, "code: DA004", "code: DA003")
    with pytest.raises(TaxonomyError, match="duplicate code 'DA003'"):
        load_taxonomy(path)


def test_measure_of_the_wrong_phase_is_named(tmp_path):
    old = "      prevention: [PA004]\n      maintenance: [RS004, RS001]"
    path = _broken_copy(tmp_path, old, old.replace("PA004", "DM001"))
    with pytest.raises(TaxonomyError, match=r"handset_quality.*DM001 is a retention measure"):
        load_taxonomy(path)


def test_shares_off_by_more_than_rounding_are_rejected(tmp_path):
    path = _broken_copy(tmp_path, "share: {C: 0.15, G: 0.21}", "share: {C: 0.25, G: 0.21}")
    with pytest.raises(TaxonomyError, match=r"'C' shares sum to 1\.100"):
        load_taxonomy(path)


def test_every_feature_maps_to_a_taxonomy_cause(taxonomy):
    metadata = load_feature_metadata()
    assert metadata
    assert {meta.cause for meta in metadata.values()} <= set(taxonomy.causes)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"description": "d", "unit": "u", "kind": "float"}, "feature 'x': no cause"),
        (
            {"description": "d", "unit": "u", "kind": "float", "cause": "weather"},
            "feature 'x': unknown cause 'weather'",
        ),
    ],
)
def test_a_feature_without_a_taxonomy_cause_is_an_error(entry, message):
    with pytest.raises(ValueError, match=message):
        parse_feature_metadata({"x": entry})


def test_what_a_measure_needs_is_a_clm_feature(taxonomy):
    features = load_feature_metadata()
    needing = {code: m.needs for code, m in taxonomy.measures.items() if m.needs}
    assert {"PS004", "DA004"} <= set(needing)  # the blacklist check and arrears dunning
    assert all(set(needs) <= set(features) for needs in needing.values())


def test_measures_are_offered_only_on_data_with_what_they_rest_on(taxonomy):
    without = taxonomy.offered("malicious_churn", "retention", ["tenure_months", "arpu"])
    with_arrears = taxonomy.offered("malicious_churn", "retention", ["arrears"])
    assert "DA004" not in without and "DA004" in with_arrears
    assert set(without) < set(taxonomy.causes["malicious_churn"].measures["retention"])
    every = taxonomy.offered("price_war", "retention", [])
    assert every == taxonomy.causes["price_war"].measures["retention"]  # nothing to gate
