"""The outbox: deliveries commit and roll back with their cause; retries reach a flaky receiver once, with one
delivery id; attempts are recorded; parked deliveries come back through the admin action."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from core import clock
from exchange import signing
from exchange.models import Delivery, DeliveryState, Subscription
from exchange.outbox import backoff_seconds, drain, drain_once
from organisation.actions import do_save_agency
from organisation.models import Agency
from tests.conftest import World
from tests.exchange.receiver import running_receiver
from tests.second_factor import verified_login

pytestmark = pytest.mark.django_db(transaction=True)


def _subscription(url: str, **extra: Any) -> Subscription:
    return Subscription.objects.create(
        name="partner", target_url=url, secret="s3cret-current", allow_private_network=True, **extra
    )


def _edit_agency(world: World, code: str, name: str) -> Agency:
    """A real action that appends an event (reference.changed) in its transaction."""
    agency = Agency(code=code, name=name, kind="department", function="housing")
    return do_save_agency(agency, actor=world.users["admin"], changed=["name"])


class Boom(Exception):
    pass


def test_a_delivery_is_written_in_the_actions_transaction_and_not_on_rollback(world: World) -> None:
    _subscription("http://127.0.0.1:9/hook", event_types=["reference.changed"])
    with pytest.raises(Boom), transaction.atomic():
        _edit_agency(world, "rolled", "回滚局")
        assert Delivery.objects.count() == 1  # inside the action's transaction, beside its event
        raise Boom
    assert Delivery.objects.count() == 0
    with transaction.atomic():
        agency = _edit_agency(world, "kept", "保留局")
    delivery = Delivery.objects.get()
    assert delivery.event_type == "reference.changed"
    assert json.loads(delivery.body)["payload"]["id"] == agency.pk


def test_enqueue_refuses_to_run_outside_a_transaction(world: World) -> None:
    from exchange.outbox import enqueue

    subscription = _subscription("http://127.0.0.1:9/hook")
    with pytest.raises(RuntimeError):
        enqueue(subscription, "reference.changed", "{}")


def test_a_receiver_failing_three_times_gets_the_event_once_with_one_delivery_id(world: World) -> None:
    with running_receiver([500, 503, 500, 200]) as receiver:
        _subscription(receiver.url, event_types=["reference.changed"])
        with transaction.atomic():
            _edit_agency(world, "flaky", "重试局")
        delivery = Delivery.objects.get()
        start = clock.now()
        for hour in range(6):  # every round two hours on: past any backoff (capped at one hour)
            with clock.pinned_at(start + dt.timedelta(hours=2 * hour)):
                drain_once()
        assert len(receiver.received) == 4
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert {r.headers["x-hotline-delivery"] for r in receiver.received} == {str(delivery.id)}
    assert {r.headers["x-hotline-event"] for r in receiver.received} == {"reference.changed"}
    attempts = list(delivery.attempts.values_list("number", "status_code", "ok", "error_kind"))
    assert attempts == [
        (1, 500, False, "http_status"),
        (2, 503, False, "http_status"),
        (3, 500, False, "http_status"),
        (4, 200, True, ""),
    ]
    assert delivery.attempt_count == 4


def test_a_redirect_is_a_failure_and_never_followed(world: World) -> None:
    with running_receiver([302]) as receiver:
        _subscription(receiver.url, event_types=["reference.changed"])
        with transaction.atomic():
            _edit_agency(world, "moved", "跳转局")
        drain()
        assert len(receiver.received) == 1  # the Location (another port) was not asked
    attempt = Delivery.objects.get().attempts.get()
    assert (attempt.status_code, attempt.error_kind, attempt.ok) == (302, "redirect", False)


def test_backoff_grows_and_is_capped(settings: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "OUTBOX_BACKOFF_BASE_SECONDS": 10, "OUTBOX_BACKOFF_CAP_SECONDS": 100}
    assert 5 <= backoff_seconds(1) <= 10
    assert 20 <= backoff_seconds(3) <= 40
    assert all(50 <= backoff_seconds(20) <= 100 for _ in range(20))


def test_a_parked_delivery_is_retried_from_the_admin_action(world: World, settings: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "OUTBOX_MAX_FAILURES": 2}
    with running_receiver([500, 500, 200]) as receiver:
        _subscription(receiver.url, event_types=["reference.changed"])
        with transaction.atomic():
            _edit_agency(world, "parked", "搁置局")
        start = clock.now()
        for hour in range(4):
            with clock.pinned_at(start + dt.timedelta(hours=2 * hour)):
                drain_once()
        delivery = Delivery.objects.get()
        assert delivery.state == DeliveryState.PARKED
        assert delivery.parked_reason == "2 failures, last: http_status 500"
        assert len(receiver.received) == 2

        client = Client()
        verified_login(client, world.users["admin"])
        changelist = reverse("admin:exchange_delivery_changelist")
        assert client.get(changelist).status_code == 200
        assert client.get(reverse("admin:exchange_delivery_change", args=[delivery.pk])).status_code == 200
        response = client.post(changelist, {"action": "retry_deliveries", "_selected_action": [str(delivery.pk)]})
        assert response.status_code == 302
        delivery.refresh_from_db()
        assert delivery.state == DeliveryState.PENDING
        drain()
        assert len(receiver.received) == 3
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.attempt_count == 3


def test_the_signature_verifies_with_the_documented_recipe_and_the_previous_secret(world: World) -> None:
    with running_receiver([200]) as receiver:
        _subscription(
            receiver.url,
            event_types=["reference.changed"],
            previous_secret="s3cret-old",
            previous_secret_until=clock.now() + dt.timedelta(days=1),
        )
        with transaction.atomic():
            _edit_agency(world, "signed", "签名局")
        drain()
        (request,) = receiver.received
    header = request.headers["x-hotline-signature"]
    timestamp = int(header.split(",")[0].removeprefix("t="))
    now = int(clock.now().timestamp())
    assert signing.verify(header, request.body, "s3cret-current", now=now)
    assert signing.verify(header, request.body, "s3cret-old", now=now)
    assert not signing.verify(header, request.body, "someone-else", now=now)
    assert not signing.verify(header, request.body + b" ", "s3cret-current", now=now)
    assert not signing.verify(header, request.body, "s3cret-current", now=timestamp + 301)  # a replay, too late
    assert json.loads(request.body)["type"] == "reference.changed"


def test_after_the_overlap_only_the_current_secret_signs(world: World) -> None:
    with running_receiver([200]) as receiver:
        _subscription(
            receiver.url, previous_secret="s3cret-old", previous_secret_until=clock.now() - dt.timedelta(seconds=1)
        )
        with transaction.atomic():
            _edit_agency(world, "rotated", "轮换局")
        drain()
    header = receiver.received[0].headers["x-hotline-signature"]
    assert header.count("v1=") == 1
    assert not signing.verify(header, receiver.received[0].body, "s3cret-old", now=int(clock.now().timestamp()))


def test_rows_a_short_lease_could_not_cover_are_given_back_unsent(world: World) -> None:
    with running_receiver([200]) as receiver:
        _subscription(receiver.url, event_types=["reference.changed"])
        with transaction.atomic():
            _edit_agency(world, "lease", "租约局")
        result = drain_once(lease_seconds=1)  # shorter than the time-outs of one send
        assert result.claimed == 1
        assert receiver.received == []
        assert Delivery.objects.filter(claim_token="", claimed_until=None, state=DeliveryState.PENDING).count() == 1
        drain()
        assert len(receiver.received) == 1
