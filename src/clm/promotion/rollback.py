"""Roll ``champion`` back to the last version that was champion and was not rolled back.

The target comes from the champion history, walked backwards, so repeated rollbacks go
further back and never cycle: a version rolled back once is never a target again. The move
itself is ``move_champion``'s, the same as a promotion's.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from clm.promotion.champion import move_champion, number, version_by_alias
from clm.promotion.gates import PromoteConfig
from clm.promotion.history import ROLLBACK, describe, read_history, rollback_target
from clm.registry import CHAMPION, registered_name

log = logging.getLogger(__name__)


class RollbackError(RuntimeError):
    """There is nothing to roll back to; the registry was left unchanged."""


@dataclass(frozen=True)
class Rollback:
    name: str
    from_version: str
    to_version: str
    moved: bool = False  # False for a dry run


def rollback(model: str, config: PromoteConfig, reason: str, *, dry_run: bool = False) -> Rollback:
    """Point ``champion`` back at the last earlier champion that was not rolled back."""
    name = registered_name(model)
    client = MlflowClient()
    champion = number(version_by_alias(client, name, CHAMPION))
    if champion is None:
        raise RollbackError(f"{name} has no '{CHAMPION}' alias: nothing to roll back")
    history = read_history(client, name)
    previous = rollback_target(history, champion)
    if previous is None:
        raise RollbackError(
            f"{name} version {champion} has no earlier champion that was not rolled back "
            f"(history: {describe(history)}): nothing to roll back to"
        )
    try:
        target = client.get_model_version(name, previous)
    except MlflowException as error:
        raise RollbackError(
            f"{name} version {previous}, the champion to roll back to, cannot be read: "
            f"{error.message}"
        ) from error
    planned = Rollback(name, champion, previous)
    if dry_run:
        return planned
    move_champion(client, config, champion, target, ROLLBACK, reason=reason)
    return dataclasses.replace(planned, moved=True)
