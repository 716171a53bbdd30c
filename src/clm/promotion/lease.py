"""A mutual-exclusion lease in the model registry, for moving ``champion`` safely.

MLflow has no transactions, but creating a registered model is atomic: the name is the primary
key of the registry table, so of two concurrent creates of the same name exactly one succeeds
and the other gets RESOURCE_ALREADY_EXISTS, on SQLite, PostgreSQL and over the REST API alike.
The lease is therefore a registered model ``<name>.promotion-lock``, created with its owner and
expiry as tags and deleted on release. A lease whose holder crashed expires; the next taker
deletes it only after re-reading that it is still the same expired lease.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST, ErrorCode

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".promotion-lock"
POLL_SECONDS = 0.2


class LeaseBusyError(RuntimeError):
    """Another promotion or rollback held the lease for longer than we were willing to wait."""


@dataclass(frozen=True)
class Lease:
    """Who holds the lock and until when (UTC epoch seconds; clocks are assumed in sync)."""

    owner: str
    expires_at: float


def lock_name(name: str) -> str:
    return f"{name}{LOCK_SUFFIX}"


@contextmanager
def registry_lease(
    client: MlflowClient, name: str, actor: str, lease_seconds: float, wait_seconds: float
) -> Iterator[Lease]:
    """Hold the promotion lock of registered model ``name`` for the body of the block."""
    owner = f"{actor}/{uuid.uuid4().hex[:12]}"
    lease = Lease(owner, _expiry(lease_seconds))
    deadline = time.monotonic() + wait_seconds
    while not _try_create(client, name, lease):
        holder = _read(client, name)
        if holder is not None and holder.expires_at < time.time():
            _break_stale(client, name, holder)
            continue
        if time.monotonic() >= deadline:
            who = f"{holder.owner} until {time.ctime(holder.expires_at)}" if holder else "someone"
            raise LeaseBusyError(
                f"{name} is being promoted or rolled back by {who}; "
                f"waited {wait_seconds:.0f} s. Try again later."
            )
        time.sleep(POLL_SECONDS)
        lease = Lease(owner, _expiry(lease_seconds))
    log.debug("lease on %s taken by %s", name, lease.owner)
    try:
        yield lease
    finally:
        _release(client, name, lease)


def _expiry(lease_seconds: float) -> float:
    """Rounded to the millisecond, the precision its tag keeps."""
    return round(time.time() + lease_seconds, 3)


def _try_create(client: MlflowClient, name: str, lease: Lease) -> bool:
    try:
        client.create_registered_model(
            lock_name(name),
            tags={"owner": lease.owner, "expires_at": f"{lease.expires_at:.3f}"},
            description=f"Lock of `clm promote` / `clm rollback` on {name}; stale after expires_at",
        )
    except MlflowException as error:
        if error.error_code == ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            return False
        raise
    return True


def _read(client: MlflowClient, name: str) -> Lease | None:
    try:
        tags = client.get_registered_model(lock_name(name)).tags
    except MlflowException as error:
        if error.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise
    return Lease(tags.get("owner", "unknown"), float(tags.get("expires_at", 0)))


def _break_stale(client: MlflowClient, name: str, stale: Lease) -> None:
    """Delete an expired lease, unless it changed hands since we read it."""
    current = _read(client, name)
    if current is None or current.owner != stale.owner:
        return
    log.warning("breaking the expired promotion lease of %s held by %s", name, stale.owner)
    _delete(client, name)


def _release(client: MlflowClient, name: str, lease: Lease) -> None:
    current = _read(client, name)
    if current is None or current.owner != lease.owner:
        log.warning("the promotion lease of %s was no longer ours at release", name)
        return
    _delete(client, name)


def _delete(client: MlflowClient, name: str) -> None:
    try:
        client.delete_registered_model(lock_name(name))
    except MlflowException as error:
        if error.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise
