"""MLflow bookkeeping: the experiment, provenance (code commit, data version, datasets), and
logging to a run that has already finished.

The tracking URI is MLflow's own business: MLFLOW_TRACKING_URI when set, else MLflow 3's
default local SQLite store (``mlflow.db`` in the working folder).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

import mlflow
import polars as pl
from mlflow import MlflowClient
from mlflow.data.sources import LocalArtifactDatasetSource
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from clm import paths
from clm.safe_yaml import read_yaml

EXPERIMENT = "clm"
# MLflow 3 opens an experiment without this tag on its GenAI traces page
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CLASSIC_ML = "custom_model_development"


def use_experiment(name: str) -> None:
    """Make ``name`` the active experiment, kind classic ML so the UI opens on its runs."""
    experiment = mlflow.set_experiment(name)
    if experiment.tags.get(EXPERIMENT_KIND_TAG) != CLASSIC_ML:
        MlflowClient().set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, CLASSIC_ML)


def git_commit() -> str:
    """The checked-out commit, with ``-dirty`` when tracked files changed; 'unknown' outside git.

    Files the pipeline itself writes (dvc.lock and every stage output in dvc.yaml, some of
    them tracked by git like the metric files) do not count: they are versioned by DVC, and
    within ``dvc repro`` they change before the later stages read the commit.
    """
    exclude = [f":(exclude){path}" for path in (str(paths.DVC_LOCK), *pipeline_outputs())]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *exclude],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def pipeline_outputs(dvc_yaml: Path = paths.DVC_YAML) -> list[str]:
    """The outs, metrics and plots of every stage in dvc.yaml, ``${item}`` as a wildcard."""
    if not dvc_yaml.exists():
        return []
    stages = (read_yaml(dvc_yaml) or {}).get("stages", {})
    outputs = []
    for stage in stages.values():
        body = stage.get("do", stage)  # a foreach stage keeps its definition under "do"
        for kind in ("outs", "metrics", "plots"):
            for entry in body.get(kind, []):
                path = entry if isinstance(entry, str) else next(iter(entry))
                outputs.append(re.sub(r"\$\{[^}]*\}", "*", path))
    return outputs


def data_version(stage: str, lock_path: Path = paths.DVC_LOCK) -> str:
    """A digest of the outputs DVC recorded for ``stage`` in dvc.lock ('unknown' if none).

    dvc.lock is written after a stage runs, so a model trained inside ``dvc repro`` reads the
    version of the data its upstream stage produced.
    """
    if not lock_path.exists():
        return "unknown"
    lock = read_yaml(lock_path) or {}
    outs = lock.get("stages", {}).get(stage, {}).get("outs", [])
    if not outs:
        return "unknown"
    listing = sorted(f"{out['path']}:{out.get('md5', '')}" for out in outs)
    return hashlib.sha256("\n".join(listing).encode()).hexdigest()[:16]


def file_digest(*files: Path) -> str:
    """A content digest of files, for identities that must change with the data."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def dataset_input(path: Path, frame: pl.DataFrame, context: str) -> DatasetInput:
    """``frame``, read from ``path``, as an MLflow dataset input: the path as its source, the
    file's md5 (its key in DVC's cache) as its digest, the frame's schema and row count."""
    with path.open("rb") as handle:
        md5 = hashlib.file_digest(handle, "md5").hexdigest()
    # the types MLflow's schema gives enums and dates, so its inference has nothing to warn about
    typed = frame.with_columns(pl.col(pl.Enum).cast(pl.String), pl.col(pl.Date).cast(pl.Datetime))
    dataset = mlflow.data.from_polars(
        typed, source=LocalArtifactDatasetSource(str(path)), name=path.stem, digest=md5
    )
    return DatasetInput(Dataset(**dataset.to_dict()), [InputTag(MLFLOW_DATASET_CONTEXT, context)])


def log_to_finished_run(
    run_id: str,
    metrics: dict[str, float],
    files: Iterable[Path] = (),
    folder: str | None = None,
    datasets: Iterable[DatasetInput] = (),
) -> None:
    """Add metrics, files (under ``folder``) and datasets to a finished run without reopening
    it: a reopened run ends again now, so its duration would span every later stage."""
    client = MlflowClient()
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    for path in files:
        client.log_artifact(run_id, str(path), folder)
    if datasets := list(datasets):
        client.log_inputs(run_id, datasets=datasets)
