"""Every file location of the default pipeline, relative to the project (DVC repo) root.

One module so that the stage scripts, the CLI's defaults and ``dvc.yaml`` cannot drift apart:
code names these constants, never a path literal, and ``tests/unit/test_dvc_stages.py``
checks that each stage's declared outs are paths named here.
"""

from __future__ import annotations

from pathlib import Path

PARAMS = Path("params.yaml")
DVC_LOCK = Path("dvc.lock")
DVC_YAML = Path("dvc.yaml")

RAW_DIR = Path("data/raw")
TRUTH_DIR = Path("data/truth")
TRUTH_SUBSCRIBERS = TRUTH_DIR / "subscribers.parquet"
TRUTH_STAGES = TRUTH_DIR / "stages_monthly.parquet"
VALIDATED_DIR = Path("data/validated")
VALIDATED_SUBSCRIBERS = VALIDATED_DIR / "subscribers.parquet"
VALIDATED_CHURN_EVENTS = VALIDATED_DIR / "churn_events.parquet"
QUARANTINE_DIR = Path("data/quarantine")
FEATURES = Path("data/features/features.parquet")
SPLIT_DIR = Path("data/split")
TRAIN_PART = SPLIT_DIR / "train.parquet"
VALID_PART = SPLIT_DIR / "valid.parquet"
TEST_PART = SPLIT_DIR / "test.parquet"
REASONS = Path("data/explain/reasons.parquet")
SCORES = Path("data/scores/scores.parquet")
PREVIOUS_SCORES = SCORES.with_name("previous_month.parquet")  # the month before, for changes

STUDY_DIR = Path("optuna")
MODELS_DIR = Path("models")
TUNING_DIR = MODELS_DIR / "tuning"
SCORER_DIR = MODELS_DIR / "scorer"
REASON_MODEL_DIR = MODELS_DIR / "reasons"
RUNS_DIR = Path("runs")

REPORTS_DIR = Path("reports")
CALIBRATION_REPORT = REPORTS_DIR / "calibration.md"
CALIBRATION_METRICS = REPORTS_DIR / "calibration.json"
VALIDATION_REPORT = REPORTS_DIR / "validation.json"
SPLIT_REPORT = REPORTS_DIR / "split.json"
METRICS = REPORTS_DIR / "metrics.json"
PLOTS_DIR = REPORTS_DIR / "plots"
EXPLAIN_METRICS = REPORTS_DIR / "explain.json"
DRIVERS_REPORT = REPORTS_DIR / "drivers.html"

VALIDATED_USAGE = VALIDATED_DIR / "usage_monthly.parquet"
CAMPAIGN_DIR = Path("data/campaign")
PLAN = CAMPAIGN_DIR / "plan.parquet"
OUTCOME_DIR = Path("data/outcome")
CAMPAIGN_TRUTH_DIR = Path("data/campaign_truth")
UPLIFT_DIR = MODELS_DIR / "uplift"
CAMPAIGN_METRICS = REPORTS_DIR / "campaign.json"
CAMPAIGN_REPORT = REPORTS_DIR / "campaign.html"
MONITORING_METRICS = REPORTS_DIR / "monitoring.json"
MONITORING_REPORT = REPORTS_DIR / "monitoring.html"
