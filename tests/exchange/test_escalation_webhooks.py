"""Escalations reach webhooks: the timer worker's bulk writer hands its work_order.escalated events to the
after-write listeners in its own transaction, so a subscription gets a delivery row when a timer fires."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from callcenter.actions import do_create_ticket
from core import clock
from dispatch.actions import do_dispatch_ticket
from dispatch.deadlines.escalations import fire_due_until
from exchange.models import Delivery, Subscription
from realtime.events import notify_written, register_after_write
from realtime.models import Event
from tests.conftest import World, ticket_payload

pytestmark = pytest.mark.django_db(transaction=True)
CST = ZoneInfo("Asia/Shanghai")


def test_a_subscription_for_escalations_gets_a_delivery_when_a_timer_fires(world: World) -> None:
    centre = Subscription.objects.create(
        name="centre", target_url="http://127.0.0.1:9/hook", secret="s", event_types=["work_order.escalated"]
    )
    other_agency = Subscription.objects.create(
        name="other", target_url="http://127.0.0.1:9/hook", secret="s", agency=world.agency_a
    )
    with clock.pinned_at(dt.datetime(2026, 3, 2, 10, 0, tzinfo=CST)):
        ticket, _created = do_create_ticket(ticket_payload(phone="13900000031"), actor=world.users["operator"])
        do_dispatch_ticket(
            ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_b.pk, override_reason="test"
        )
    assert not Delivery.objects.filter(event_type="work_order.escalated").exists()

    fire_due_until(dt.datetime(2026, 3, 4, 0, 0, tzinfo=CST))

    escalated = list(Event.objects.filter(type="work_order.escalated").order_by("pk"))
    assert escalated
    deliveries = list(Delivery.objects.filter(event_type="work_order.escalated").order_by("event_id"))
    assert [d.event_id for d in deliveries] == [event.pk for event in escalated]
    assert {d.subscription_id for d in deliveries} == {centre.pk}  # agency A is not the escalated one's
    body = json.loads(deliveries[0].body)
    assert body["type"] == "work_order.escalated"
    assert body["payload"]["escalations"][0]["ticket_id"] == ticket.pk
    assert not Delivery.objects.filter(subscription=other_agency, event_type="work_order.escalated").exists()


def test_notify_written_runs_the_listeners_inside_the_transaction_only() -> None:
    seen: list[list[int]] = []

    def listener(events: object) -> None:
        seen.append([event.pk for event in events])  # type: ignore[attr-defined]

    register_after_write(listener)
    try:
        with pytest.raises(RuntimeError):
            notify_written([Event(pk=1, type="reference.changed", payload={})])
        with transaction.atomic():
            notify_written([])
            notify_written([Event(pk=7, type="reference.changed", payload={})])
        assert seen == [[7]]
    finally:
        from realtime import events

        events._after_write_listeners.remove(listener)
