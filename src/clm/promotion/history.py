"""The champion history: an append-only record of every move of the ``champion`` alias.

Each move is one registered-model tag ``champion_history.<n>`` holding a JSON event (what,
from which version to which, who, when, why). A tag is written once and never changed, so no
decision is ever overwritten: a version promoted twice has two events. Rollback and the
"never rolled back" gate read their answers from these events with the pure functions below.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from mlflow import MlflowClient

PREFIX = "champion_history."
PROMOTE = "promote"
ROLLBACK = "rollback"


@dataclass(frozen=True)
class Event:
    """One move of ``champion``; ``from_version`` is None when there was no champion."""

    sequence: int
    action: str  # PROMOTE or ROLLBACK
    from_version: str | None
    to_version: str
    by: str
    at: str  # UTC, ISO 8601
    reason: str = ""

    @property
    def key(self) -> str:
        return f"{PREFIX}{self.sequence:06d}"  # zero-padded so the registry UI sorts them

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def read_history(client: MlflowClient, name: str) -> list[Event]:
    """Every recorded move of ``name``'s champion, oldest first."""
    tags = client.get_registered_model(name).tags
    events = [Event(**json.loads(value)) for key, value in tags.items() if key.startswith(PREFIX)]
    return sorted(events, key=lambda event: event.sequence)


def append_event(client: MlflowClient, name: str, event: Event) -> None:
    """Write one event; the caller holds the registry lease, so its sequence is free."""
    client.set_registered_model_tag(name, event.key, event.to_json())


def next_sequence(history: list[Event]) -> int:
    return history[-1].sequence + 1 if history else 1


def champions(history: list[Event]) -> list[str]:
    """The versions that held ``champion``, oldest first, repeats kept (v1, v3, v1 ...).

    Each event's ``from_version`` was read under the lease just before the move, so a champion
    set by hand, or by a move whose event was never written, still appears.
    """
    held: list[str] = []
    for event in history:
        for version in (event.from_version, event.to_version):
            if version is not None and (not held or held[-1] != version):
                held.append(version)
    return held


def rolled_back(history: list[Event]) -> dict[str, Event]:
    """Versions rolled back out of production, with the rollback that removed them; they never
    become champion again."""
    return {event.from_version: event for event in history if event.action == ROLLBACK}


def rollback_target(history: list[Event], current: str) -> str | None:
    """The last version before ``current`` that was champion and was not rolled back."""
    excluded = {*rolled_back(history), current}
    return next((v for v in reversed(champions(history)) if v not in excluded), None)


def describe(history: list[Event]) -> str:
    """The champion's path in one line, e.g. ``v1 -> v3 -> v1 (rollback)``."""
    if not history:
        return "no recorded moves"
    path = [f"v{history[0].from_version}"] if history[0].from_version else []
    path += [
        f"v{event.to_version}" + (" (rollback)" if event.action == ROLLBACK else "")
        for event in history
    ]
    return " -> ".join(path)
