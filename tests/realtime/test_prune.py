"""Pruning the event log takes each event's audience rows with it.

The database does not check an audience row's event (realtime/models.py says why), so nothing but the prune
itself stands between a pruned event and an orphaned audience row.
"""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.actions import do_create_ticket
from core import clock
from dispatch.actions import do_dispatch_ticket
from realtime.actions import do_prune_events
from realtime.models import Event, EventAgency, PruneMark
from tests.conftest import World, ticket_payload

pytestmark = pytest.mark.django_db(transaction=True)

EARLY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LATE = EARLY + dt.timedelta(days=3)


def _dispatched(world: World, phone: str, agency_id: int) -> None:
    ticket, _created = do_create_ticket(ticket_payload(phone=phone), actor=world.users["operator"])
    do_dispatch_ticket(ticket.pk, actor=world.users["dispatcher"], lead_agency_id=agency_id)


def test_pruned_events_leave_no_audience_rows_and_kept_ones_keep_theirs(world: World) -> None:
    with clock.pinned_at(EARLY):
        _dispatched(world, "13900000021", world.agency_a.pk)
    old_events = set(Event.objects.values_list("id", flat=True))
    with clock.pinned_at(LATE):
        _dispatched(world, "13900000022", world.agency_b.pk)
    new_audiences = set(
        EventAgency.objects.exclude(event_id__in=old_events).values_list("event_id", "agency_id").order_by()
    )
    assert EventAgency.objects.filter(event_id__in=old_events, agency_id=world.agency_a.pk).exists()
    assert any(agency == world.agency_b.pk for _event, agency in new_audiences)

    with clock.pinned_at(LATE):
        deleted = do_prune_events(retention=dt.timedelta(days=1))

    assert deleted >= len(old_events)
    assert not Event.objects.filter(id__in=old_events).exists()
    assert not EventAgency.objects.filter(event_id__in=old_events).exists()
    assert set(EventAgency.objects.values_list("event_id", "agency_id").order_by()) == new_audiences
    assert PruneMark.objects.get(pk=1).pruned_through_id == max(old_events)
