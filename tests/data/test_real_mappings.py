"""The shipped mapping files load with the shipped data roots (params.yaml), name only
columns their real dataset has, and map it cleanly (types, ranges, labels) with the churn
rate PROVENANCE.md states."""

from __future__ import annotations

from pathlib import Path

import pytest

from clm.config import load_section
from clm.snapshot.frame import LABEL, map_frame, read_source, validate_frame
from clm.snapshot.mapping import load_mapping
from clm.snapshot.pipeline import SnapshotConfig

ROOT = Path(__file__).resolve().parents[2]
REAL = (ROOT.parent / "shared" / "data" / "real").resolve()
CHURN_RATES = {
    "ibm_telco": (7043, 0.2654),
    "orange_bigml": (3333, 0.1449),
    "iranian": (3150, 0.1571),
}


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real datasets not present at {REAL}")
@pytest.mark.parametrize("dataset", sorted(CHURN_RATES))
def test_shipped_mapping_fits_its_real_dataset(dataset, monkeypatch):
    monkeypatch.chdir(ROOT)  # data roots are relative to the working directory
    roots = load_section(SnapshotConfig, "snapshot", ROOT / "params.yaml").data_roots
    mapping = load_mapping(ROOT / "mappings" / f"{dataset}.yaml", roots)
    assert mapping.dataset == dataset
    assert all(source.path.is_relative_to(REAL / dataset) for source in mapping.files)

    table = validate_frame(mapping, map_frame(mapping, read_source(mapping)))

    rows, churn_rate = CHURN_RATES[dataset]
    assert table.height == rows
    assert table[LABEL].mean() == pytest.approx(churn_rate, abs=1e-4)
    assert not set(mapping.excluded) & set(table.columns)
