"""Roll ``champion`` back to the version it replaced, as recorded at promotion.

Each promotion tags the new champion with ``previous_champion``, so rollbacks walk that chain
one step at a time. The move runs under the same lease and compare-and-set as a promotion.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from clm.promotion.gates import PromoteConfig
from clm.promotion.history import (
    DECISION,
    NO_PREVIOUS,
    PREVIOUS_CHAMPION,
    ROLLED_BACK,
    actor,
    number,
    record_and_move,
    utc_now,
    version_by_alias,
)
from clm.promotion.lease import registry_lease
from clm.registry import CHAMPION, REGISTERED_MODELS

log = logging.getLogger(__name__)


class RollbackError(RuntimeError):
    """There is nothing to roll back to; the registry was left unchanged."""


@dataclass(frozen=True)
class Rollback:
    name: str
    from_version: str
    to_version: str


def rollback(model: str, config: PromoteConfig, reason: str) -> Rollback:
    """Point ``champion`` back at its ``previous_champion`` and tag the version it leaves."""
    name = REGISTERED_MODELS[model]
    client = MlflowClient()
    champion = version_by_alias(client, name, CHAMPION)
    if champion is None:
        raise RollbackError(f"{name} has no '{CHAMPION}' alias: nothing to roll back")
    previous = champion.tags.get(PREVIOUS_CHAMPION)
    if previous in (None, NO_PREVIOUS):
        raise RollbackError(
            f"{name} version {champion.version} records no previous champion "
            f"({PREVIOUS_CHAMPION}={previous}): nothing to roll back to"
        )
    try:
        target = client.get_model_version(name, previous)
    except MlflowException as error:
        raise RollbackError(
            f"{name} version {previous}, the recorded previous champion, cannot be read: "
            f"{error.message}"
        ) from error

    who = actor()
    with registry_lease(client, name, who, config.lease_seconds, config.lock_wait_seconds):
        current = version_by_alias(client, name, CHAMPION)
        if number(current) != number(champion):
            raise RollbackError(
                f"{name}@{CHAMPION} moved to version {number(current)} meanwhile; "
                "nothing was changed. Check the registry and run it again."
            )
        tags = {
            DECISION: ROLLED_BACK,
            "rolled_back_by": who,
            "rolled_back_at": utc_now(),
            "rollback_reason": reason,
            "rolled_back_to": number(target),
        }
        record_and_move(client, champion, tags, CHAMPION, target)
    log.info("%s rolled back from version %s to %s", name, champion.version, target.version)
    return Rollback(name, number(champion), number(target))
