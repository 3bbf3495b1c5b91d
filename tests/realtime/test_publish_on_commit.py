"""Events are appended in the writer's transaction; the doorbell rings once per commit, after it, never on rollback."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from realtime import doorbell
from realtime.events import append_event, append_events, ring_after_commit
from realtime.models import Event
from tests.conftest import World


def _revealed(ticket_id: int) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "actor_id": 1}


def test_events_are_published_only_after_commit_and_never_on_rollback(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        append_event("caller.revealed", _revealed(1), ticket_id=1)
        assert Event.objects.count() == 1
    assert len(callbacks) == 1  # registered for after commit, not run inside the transaction
    with django_capture_on_commit_callbacks() as rolled_back:
        try:
            with transaction.atomic():
                append_event("caller.revealed", _revealed(2), ticket_id=2)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert rolled_back == [] and Event.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_event_outside_a_transaction_is_refused(world: World) -> None:
    with pytest.raises(RuntimeError):
        append_event("caller.revealed", _revealed(3), ticket_id=3)
    with pytest.raises(RuntimeError):
        ring_after_commit()
    assert Event.objects.count() == 0


def _count_from_another_connection() -> int:
    """What a hub would read now: another thread has its own database connection."""
    counted: list[int] = []

    def count() -> None:
        try:
            counted.append(Event.objects.count())
        finally:
            connection.close()

    reader = threading.Thread(target=count)
    reader.start()
    reader.join()
    return counted[0]


@pytest.fixture
def rings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every ring of the doorbell, as the number of events another connection could read at that moment."""
    heard: list[int] = []
    monkeypatch.setattr(doorbell, "ring", lambda: heard.append(_count_from_another_connection()))
    return heard


@pytest.mark.django_db(transaction=True)
def test_a_transaction_rings_once_after_commit_however_many_events_it_appends(world: World, rings: list[int]) -> None:
    with transaction.atomic():
        for ticket_id in (1, 2, 3):
            append_event("caller.revealed", _revealed(ticket_id), ticket_id=ticket_id)
        append_events("caller.revealed", [(_revealed(4), 4, [], None), (_revealed(5), 5, [], None)])
        ring_after_commit()  # as a set-based SQL writer does
        assert rings == []
    assert rings == [5]  # once, and every event was readable elsewhere when it rang
    with transaction.atomic():
        append_event("caller.revealed", _revealed(6), ticket_id=6)
    assert rings == [5, 6]  # the next transaction rings again


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_rings_nothing_and_takes_no_later_ring_with_it(
    world: World, rings: list[int]
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        append_event("caller.revealed", _revealed(1), ticket_id=1)
        raise RuntimeError("roll back")
    assert rings == []
    with transaction.atomic():
        append_event("caller.revealed", _revealed(2), ticket_id=2)
    assert rings == [1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rolled_back_first", [True, False], ids=["savepoint-first", "savepoint-last"])
def test_a_rolled_back_savepoint_does_not_take_the_transactions_ring(
    world: World, rings: list[int], rolled_back_first: bool
) -> None:
    def in_rolled_back_savepoint() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            append_event("caller.revealed", _revealed(1), ticket_id=1)
            raise RuntimeError("roll back the savepoint")

    steps: list[Callable[[], Any]] = [
        in_rolled_back_savepoint,
        lambda: append_event("caller.revealed", _revealed(2), ticket_id=2),
    ]
    with transaction.atomic():
        for step in steps if rolled_back_first else reversed(steps):
            step()
    assert rings == [1]
