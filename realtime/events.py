"""Append events in the writer's transaction; ring the doorbell once, only after commit.

Every append registers its own ``transaction.on_commit`` callback, so a rolled-back savepoint or
transaction can never take the ring of events that did commit with it. The callbacks of one transaction
share a ``_Ring``: after the commit Django runs them one after the other, the first rings and the rest
see that it already has.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import transaction

from organisation.actions import ReferenceChange
from realtime import doorbell
from realtime.models import Event, EventAgency
from realtime.schemas import validate_payload


def append_event(
    event_type: str,
    payload: dict[str, Any],
    *,
    ticket_id: int | None = None,
    agency_ids: Iterable[int] = (),
    city_id: int | None = None,
) -> Event:
    """``city_id``: the city whose centre sees the event (None: every city's)."""
    _require_transaction()
    validate_payload(event_type, payload)
    agencies = sorted(set(agency_ids))
    event = Event.objects.create(
        type=event_type, payload=payload, ticket_id=ticket_id, agency_ids=agencies, city_id=city_id
    )
    EventAgency.objects.bulk_create([EventAgency(event=event, agency_id=agency) for agency in agencies])
    notify_written([event])
    _ring_after_commit()
    return event


#: One event of append_events: payload, ticket id, agency ids and city id (as append_event takes them).
EventItem = tuple[dict[str, Any], int | None, Iterable[int], int | None]


def append_events(event_type: str, items: list[EventItem]) -> list[Event]:
    """append_event for many events of one type at once: two bulk inserts."""
    _require_transaction()
    if not items:
        return []
    rows = []
    for payload, ticket_id, agency_ids, city_id in items:
        validate_payload(event_type, payload)
        rows.append(
            Event(
                type=event_type,
                payload=payload,
                ticket_id=ticket_id,
                agency_ids=sorted(set(agency_ids)),
                city_id=city_id,
            )
        )
    events = Event.objects.bulk_create(rows, batch_size=1000)
    EventAgency.objects.bulk_create(
        [EventAgency(event_id=event.pk, agency_id=agency) for event in events for agency in event.agency_ids],
        batch_size=2000,
    )
    notify_written(events)
    _ring_after_commit()
    return events


#: Called in the writer's transaction with the events just written (a seam: the exchange registers the
#: webhook outbox here). Both append paths call them; a writer inserting event rows any other way must call
#: notify_written itself, in the same transaction, or the events never leave the system.
_after_write_listeners: list[Callable[[Sequence[Event]], object]] = []


def register_after_write(listener: Callable[[Sequence[Event]], object]) -> None:
    if listener not in _after_write_listeners:
        _after_write_listeners.append(listener)


def notify_written(events: Sequence[Event]) -> None:
    """Hand events just written (with their ids) to the after-write listeners; inside the writer's transaction."""
    _require_transaction()
    if not events:
        return
    for listener in _after_write_listeners:
        listener(events)


def ring_after_commit() -> None:
    """Ring once after commit, for writers that insert event rows set-based in SQL (they call notify_written
    with those rows too). The append paths ring by themselves."""
    _require_transaction()
    _ring_after_commit()


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events are appended inside the transaction of the change they describe")


class _Ring:
    """The doorbell ring shared by the on-commit callbacks of one transaction: only the first one rings."""

    def __init__(self) -> None:
        self.rung = False

    def __call__(self) -> None:
        if not self.rung:
            self.rung = True
            doorbell.ring()


# Per thread, because Django's connections are: the appends of one transaction all happen in its thread.
_current = threading.local()


def _ring_after_commit() -> None:
    ring: _Ring | None = getattr(_current, "ring", None)
    if ring is None or ring.rung:
        # The previous transaction's ring has gone out (or there was none): this transaction needs its own.
        # An unrung one belongs to this transaction, or to one whose callbacks a rollback dropped: reusable.
        ring = _current.ring = _Ring()
    transaction.on_commit(ring, robust=True)


def announce_reference_change(change: ReferenceChange) -> None:
    """A ``reference.changed`` event for the centre (registered with the organisation at start-up)."""
    payload = {"kind": change.kind, "id": change.id, "action": change.action, "fields": list(change.fields)}
    append_event("reference.changed", payload)
