"""Append events in the writer's transaction; publish their ids only after commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from realtime.models import Event, EventAgency
from realtime.schemas import validate_payload

logger = logging.getLogger(__name__)

#: The one channel-layer group every web process listens on; processes fan out locally.
EVENTS_GROUP = "hotline.events"


def append_event(
    event_type: str, payload: dict[str, Any], *, ticket_id: int | None = None, agency_ids: Iterable[int] = ()
) -> Event:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events are appended inside the transaction of the change they describe")
    validate_payload(event_type, payload)
    agencies = sorted(set(agency_ids))
    event = Event.objects.create(type=event_type, payload=payload, ticket_id=ticket_id, agency_ids=agencies)
    EventAgency.objects.bulk_create([EventAgency(event=event, agency_id=agency) for agency in agencies])
    transaction.on_commit(lambda: publish_event_ids([event.pk]), robust=True)
    return event


def publish_event_ids(event_ids: list[int]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(EVENTS_GROUP, {"type": "events.committed", "ids": event_ids})
    except Exception:
        # The log is the truth: a lost doorbell is recovered by the clients' replay from last_event_id.
        logger.warning("could not publish event ids %s", event_ids, exc_info=True)


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
    ids = [event.pk for event in events]
    transaction.on_commit(lambda: publish_event_ids(ids), robust=True)
    return events
