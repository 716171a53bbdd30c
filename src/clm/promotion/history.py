"""The record a promotion or rollback leaves on registry versions, and the one way it is written.

Tags go on first and the alias moves last: if the process dies in between, ``champion`` still
points at the old version (the alias is the truth) and the stray tags say what was attempted.
If the alias move itself fails, the tags are put back as they were.
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

log = logging.getLogger(__name__)

DECISION = "promotion_decision"
PROMOTED = "promoted"
ROLLED_BACK = "rolled_back"
PREVIOUS_CHAMPION = "previous_champion"
NO_PREVIOUS = "none"


class RegistryMoveError(RuntimeError):
    """The alias could not be moved, or ended up somewhere else than intended."""


def actor() -> str:
    """Who is acting: the login name, else $USER."""
    try:
        return getpass.getuser()
    except OSError:  # no passwd entry, as in some containers
        return os.environ.get("USER", "unknown")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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


def record_and_move(
    client: MlflowClient,
    tagged: ModelVersion,
    tags: dict[str, str],
    alias: str,
    target: ModelVersion,
) -> None:
    """Tag ``tagged``, then point ``alias`` at ``target`` and check that it stayed there."""
    name = tagged.name
    before = client.get_model_version(name, tagged.version).tags
    for key, value in tags.items():
        client.set_model_version_tag(name, tagged.version, key, value)
    try:
        client.set_registered_model_alias(name, alias, target.version)
    except MlflowException:
        for key in tags:
            if key in before:
                client.set_model_version_tag(name, tagged.version, key, before[key])
            else:
                client.delete_model_version_tag(name, tagged.version, key)
        raise
    landed = version_by_alias(client, name, alias)
    if number(landed) != number(target):
        raise RegistryMoveError(
            f"{name}@{alias} points at version {number(landed)} right "
            f"after moving it to {target.version}: something outside clm moved it; check the "
            "registry"
        )
    log.info("%s@%s -> version %s", name, alias, target.version)
