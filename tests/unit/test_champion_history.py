"""The champion history as pure data: which versions held champion, and where rollback goes."""

from __future__ import annotations

import pytest

from clm.promotion.history import (
    PROMOTE,
    ROLLBACK,
    Event,
    champions,
    describe,
    rollback_target,
    rolled_back,
)


def history(*moves: tuple[str, str | None, str]) -> list[Event]:
    return [
        Event(n, action, before, after, "alice", f"2026-01-0{n}T00:00:00+00:00")
        for n, (action, before, after) in enumerate(moves, start=1)
    ]


def test_the_issue_cycle_stops_at_the_rolled_back_version():
    """promote v3, promote v1 again, roll back: v3; the next rollback has nowhere to go."""
    moves = history((PROMOTE, "1", "3"), (PROMOTE, "3", "1"))
    assert rollback_target(moves, "1") == "3"
    moves = history((PROMOTE, "1", "3"), (PROMOTE, "3", "1"), (ROLLBACK, "1", "3"))
    assert rolled_back(moves).keys() == {"1"}
    assert rollback_target(moves, "3") is None
    assert describe(moves) == "v1 -> v3 -> v1 -> v3 (rollback)"


def test_repeated_rollbacks_walk_further_back():
    moves = history((PROMOTE, None, "1"), (PROMOTE, "1", "2"), (PROMOTE, "2", "3"))
    assert rollback_target(moves, "3") == "2"
    moves = history(
        (PROMOTE, None, "1"), (PROMOTE, "1", "2"), (PROMOTE, "2", "3"), (ROLLBACK, "3", "2")
    )
    assert rollback_target(moves, "2") == "1"


def test_a_champion_set_outside_clm_still_counts():
    """v5 was made champion by hand; the next event's from_version shows it."""
    moves = history((PROMOTE, "1", "2"), (PROMOTE, "5", "6"))
    assert champions(moves) == ["1", "2", "5", "6"]
    assert rollback_target(moves, "6") == "5"
    # The champion moved by hand again, to v7: rollback goes to the last recorded one.
    assert rollback_target(moves, "7") == "6"


@pytest.mark.parametrize("current", ["1", "2"])
def test_no_history_means_nothing_to_roll_back_to(current):
    assert rollback_target([], current) is None
    assert describe([]) == "no recorded moves"


def test_event_keys_sort_in_order():
    keys = [event.key for event in history(*[(PROMOTE, "1", "2")] * 12)]
    assert keys == sorted(keys) and keys[0] == "champion_history.000001"
