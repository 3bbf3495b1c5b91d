"""Append events in the writer's transaction; ring the doorbell once, only after commit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from django.db import transaction

from realtime import doorbell
from realtime.models import Event, EventAgency
from realtime.schemas import validate_payload


def append_event(
    event_type: str, payload: dict[str, Any], *, ticket_id: int | None = None, agency_ids: Iterable[int] = ()
) -> Event:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events are appended inside the transaction of the change they describe")
    validate_payload(event_type, payload)
    agencies = sorted(set(agency_ids))
    event = Event.objects.create(type=event_type, payload=payload, ticket_id=ticket_id, agency_ids=agencies)
    EventAgency.objects.bulk_create([EventAgency(event=event, agency_id=agency) for agency in agencies])
    _ring_after_commit()
    return event


def ring_after_commit() -> None:
    """For writers that insert event rows set-based in SQL (dispatch/escalations.py): ring once after commit."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events are appended inside the transaction of the change they describe")
    _ring_after_commit()


def _ring_after_commit() -> None:
    """One ring per transaction, however many events it appends (rolled-back callbacks are dropped)."""
    connection = transaction.get_connection()
    ring = _held_ring.get() or doorbell.ring
    if not any(callback is ring for _, callback, _ in connection.run_on_commit):
        transaction.on_commit(ring, robust=True)


class HeldRing:
    """Stands in for the doorbell inside ``ring_held()``: a commit that appended events only sets ``due``."""

    def __init__(self) -> None:
        self.due = False

    def __call__(self) -> None:
        self.due = True


_held_ring: ContextVar[HeldRing | None] = ContextVar("held_ring", default=None)


@contextlib.contextmanager
def ring_held() -> Iterator[HeldRing]:
    """Commits inside do not ring; the caller must call ``doorbell.ring()`` itself when ``due`` (still after commit).

    For the socket's own commands (realtime/consumers.py): the acknowledgement goes out first, before this
    process's hub wakes up to read the new events.
    """
    held = HeldRing()
    token = _held_ring.set(held)
    try:
        yield held
    finally:
        _held_ring.reset(token)


def append_events(event_type: str, items: list[tuple[dict[str, Any], int | None, Iterable[int]]]) -> list[Event]:
    """append_event for many events of one type at once (payload, ticket_id, agency_ids): two bulk inserts."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events are appended inside the transaction of the change they describe")
    if not items:
        return []
    rows = []
    for payload, ticket_id, agency_ids in items:
        validate_payload(event_type, payload)
        rows.append(Event(type=event_type, payload=payload, ticket_id=ticket_id, agency_ids=sorted(set(agency_ids))))
    events = Event.objects.bulk_create(rows, batch_size=1000)
    EventAgency.objects.bulk_create(
        [EventAgency(event_id=event.pk, agency_id=agency) for event in events for agency in event.agency_ids],
        batch_size=2000,
    )
    _ring_after_commit()
    return events
