"""Throwaway MLflow SQLite stores for tests, each a copy of one built once per session.

Creating a store runs MLflow's schema migrations, seconds of work each time, and training and
registering models takes longer; copying a folder takes milliseconds. A store keeps absolute
artifact locations (experiments, runs, model versions), so ``copy_store`` rewrites the source
folder's path to the copy's wherever the database holds it: the copy reads and writes only
its own files, and no test sees another's writes. A copy keeps its source's run and model
ids, though, and MLflow caches each run's artifact location by id alone, for the whole
process: ``forget_artifact_locations`` drops that cache, after each copy and before each test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.tracking._tracking_service import utils as tracking_utils

DB_NAME = "mlflow.db"


def store_uri(folder: Path) -> str:
    return f"sqlite:///{folder / DB_NAME}"


@contextlib.contextmanager
def tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow (and MLFLOW_TRACKING_URI) at ``uri`` for the block only."""
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


@contextlib.contextmanager
def working_in(folder: Path) -> Iterator[None]:
    """Run a stage as ``dvc repro`` would: in ``folder``, tracking to the store there."""
    with tracking_uri(store_uri(folder)), contextlib.chdir(folder):
        yield


def make_store(folder: Path) -> Path:
    """A migrated, empty store in ``folder``, its Default experiment's artifacts inside it."""
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(folder):  # where the Default experiment's artifacts go
        MlflowClient(tracking_uri=store_uri(folder)).search_experiments()  # makes the tables
    return folder


def copy_store(source: Path, folder: Path) -> str:
    """Copy the store folder ``source`` (database, artifacts, anything beside them) into
    ``folder`` and point the copy's database at the copied files; returns the copy's URI."""
    shutil.copytree(source, folder, dirs_exist_ok=True)
    old, new = f"{source.resolve()}/", f"{folder.resolve()}/"
    with contextlib.closing(sqlite3.connect(folder / DB_NAME)) as db, db:
        for table, column in _text_columns(db):
            db.execute(
                f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                f'WHERE instr("{column}", ?)',
                (old, new, old),
            )
    forget_artifact_locations()
    return store_uri(folder)


def forget_artifact_locations() -> None:
    """Drop MLflow's process-wide cache of artifact locations by run or model id, so that an
    id present in two stores resolves in the store now in use."""
    tracking_utils._artifact_repos_cache.clear()


def _text_columns(db: sqlite3.Connection) -> list[tuple[str, str]]:
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return [
        (table, column[1])
        for table in tables
        for column in db.execute(f'PRAGMA table_info("{table}")')
        if any(kind in column[2].upper() for kind in ("CHAR", "TEXT", "CLOB"))
    ]
