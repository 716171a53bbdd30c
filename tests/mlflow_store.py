"""Throwaway MLflow SQLite stores for tests, copied from one made once per session.

Creating a store runs MLflow's schema migrations, seconds of work each time; copying the
migrated file takes milliseconds. A copy is a store of its own, but for one thing: its Default
experiment's artifact location was fixed when the tables were made, so ``copy_store`` sets it
to what a store made in the copy's place would hold.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from mlflow import MlflowClient

DB_NAME = "mlflow.db"


def store_uri(folder: Path) -> str:
    return f"sqlite:///{folder / DB_NAME}"


def make_store(folder: Path) -> Path:
    """A migrated, empty store in ``folder``; returns the database file."""
    folder.mkdir(parents=True, exist_ok=True)
    MlflowClient(tracking_uri=store_uri(folder)).search_experiments()  # makes the tables
    return folder / DB_NAME


def copy_store(database: Path, folder: Path, artifact_root: str | None = None) -> str:
    """Copy the store ``database`` into ``folder``; returns the copy's URI.

    Its Default experiment keeps its artifacts under ``artifact_root``: by default
    ``folder/mlruns``, where a client working in ``folder`` puts them (``mlflow server
    --artifacts-destination`` uses ``mlflow-artifacts:``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(database, folder / DB_NAME)
    default_artifacts = f"{artifact_root}0" if artifact_root else str(folder / "mlruns" / "0")
    with closing(sqlite3.connect(folder / DB_NAME)) as db, db:
        db.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
            (default_artifacts,),
        )
    return store_uri(folder)
