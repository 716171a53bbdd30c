"""Moving ``champion``: the one way ``promote`` and ``rollback`` change the registry.

Under the registry lease the champion is read again (compare-and-set: if it moved since the
caller looked, nothing changes), the alias is moved and read back, and only then is the
decision written: the history event, the versions' ``promotion_decision`` status tags and, for a
promotion, the gate table as the version's description. A process killed before that leaves
the alias moved without its event (the next event's ``from_version`` still shows it); it never
leaves a decision recorded for a move that did not happen.
"""

from __future__ import annotations

import getpass
import logging
import os
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ErrorCode

from clm.promotion.gates import PromoteConfig
from clm.promotion.history import (
    PROMOTE,
    ROLLBACK,
    Event,
    append_event,
    next_sequence,
    read_history,
)
from clm.promotion.lease import registry_lease
from clm.registry import CHAMPION

log = logging.getLogger(__name__)

DECISION = "promotion_decision"  # status tag mirroring the history: promoted / rolled_back
STATUS_AFTER = {PROMOTE: "promoted", ROLLBACK: "rolled_back"}


class ChampionMovedError(RuntimeError):
    """The champion changed between the caller's look and the lease; nothing was changed."""


class RegistryMoveError(RuntimeError):
    """The alias ended up somewhere else than where it was moved."""


def actor() -> str:
    """Who is acting: the login name, else $USER."""
    try:
        return getpass.getuser()
    except OSError:  # no passwd entry, as in some containers
        return os.environ.get("USER", "unknown")


def number(version: ModelVersion | None) -> str | None:
    """The version number as text: the SQL store returns ints, the REST API strings."""
    return None if version is None else str(version.version)


def version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points at, None when the alias is not set."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        # A missing alias is INVALID_PARAMETER_VALUE in the SQL store, RESOURCE_DOES_NOT_EXIST
        # in others; a missing registered model must still surface.
        missing = {ErrorCode.Name(RESOURCE_DOES_NOT_EXIST), ErrorCode.Name(INVALID_PARAMETER_VALUE)}
        if error.error_code in missing and "alias" in error.message.lower():
            return None
        raise


def move_champion(
    client: MlflowClient,
    config: PromoteConfig,
    expected: str | None,
    target: ModelVersion,
    action: str,
    *,
    reason: str = "",
    description: str | None = None,
) -> Event:
    """Point ``champion`` at ``target`` if it still points at ``expected``; record the move.

    Args:
        expected: The champion version the caller's decision was based on (None: no champion).
        action: PROMOTE or ROLLBACK; decides which version gets which status tag.
        reason: Why, kept in the event (rollbacks).
        description: Replaces the target's description (a promotion's gate table).
    """
    name, who = target.name, actor()
    with registry_lease(client, name, who, config.lease_seconds, config.lock_wait_seconds):
        current = number(version_by_alias(client, name, CHAMPION))
        if current != expected:
            raise ChampionMovedError(
                f"{name}@{CHAMPION} moved from version {expected} to {current} since this "
                f"{action} looked at it; nothing was changed. Run it again."
            )
        history = read_history(client, name)
        if history and history[-1].to_version != current:
            log.warning(
                "%s@%s is version %s but the history's last move was to %s: it was moved "
                "outside clm, or a move was interrupted before it was recorded",
                name, CHAMPION, current, history[-1].to_version,
            )  # fmt: skip
        client.set_registered_model_alias(name, CHAMPION, target.version)
        landed = number(version_by_alias(client, name, CHAMPION))
        if landed != number(target):
            raise RegistryMoveError(
                f"{name}@{CHAMPION} points at version {landed} right after moving it to "
                f"{target.version}: something outside clm moved it; check the registry"
            )
        event = Event(
            next_sequence(history), action, current, number(target), who, _utc_now(), reason
        )
        append_event(client, name, event)
        status_version = event.to_version if action == PROMOTE else event.from_version
        client.set_model_version_tag(name, status_version, DECISION, STATUS_AFTER[action])
        if description is not None:
            client.update_model_version(name, target.version, description=description)
    log.info("%s@%s: version %s -> %s (%s)", name, CHAMPION, current, target.version, action)
    return event


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
