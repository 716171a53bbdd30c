"""Provenance for MLflow runs and registry versions: code commit and data version.

The tracking URI is MLflow's own business: MLFLOW_TRACKING_URI when set, else MLflow 3's
default local SQLite store (``mlflow.db`` in the working folder).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from clm.safe_yaml import read_yaml

EXPERIMENT = "clm"
DVC_LOCK = Path("dvc.lock")


def git_commit() -> str:
    """The checked-out commit, with ``-dirty`` when tracked files changed; 'unknown' outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def data_version(stage: str, lock_path: Path = DVC_LOCK) -> str:
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


def file_digest(*paths: Path) -> str:
    """A content digest of files, for identities that must change with the data."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
