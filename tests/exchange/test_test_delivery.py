"""A subscription's test delivery: a signed ``ping`` through the outbox that a real local receiver gets and
can verify, queued from the admin action or the API (audited); and the delivery log, in the admin and at
/api/subscriptions/<id>/deliveries/, shows every attempt. Both scoped as the subscription admin is."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from exchange import signing
from exchange.models import Delivery, DeliveryState, Subscription
from exchange.outbox import drain
from organisation.models import AuditEntry, User
from tests.conftest import World
from tests.exchange.receiver import running_receiver
from tests.second_factor import verified_login

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "s3cret-for-pings"


def _subscription(url: str, **extra: Any) -> Subscription:
    return Subscription.objects.create(
        name="partner", target_url=url, secret=SECRET, allow_private_network=True, **extra
    )


def test_the_admin_action_sends_a_signed_ping_the_receiver_verifies(world: World) -> None:
    with running_receiver([200]) as receiver:
        subscription = _subscription(receiver.url, event_types=["reference.changed"])
        client = verified_login(Client(), world.users["admin"])
        changelist = reverse("admin:exchange_subscription_changelist")
        response = client.post(
            changelist, {"action": "send_test_deliveries", "_selected_action": [subscription.pk]}, follow=True
        )
        assert response.status_code == 200
        assert drain().delivered == 1
        receiver.wait_for(1)
    received = receiver.received[0]
    assert received.headers["x-hotline-event"] == "ping"
    assert json.loads(received.body)["type"] == "ping"
    assert signing.verify(received.headers["x-hotline-signature"], received.body, SECRET, now=int(time.time()))
    delivery = Delivery.objects.get()
    assert received.headers["x-hotline-delivery"] == str(delivery.pk)
    assert AuditEntry.objects.filter(action="subscription_test_delivery", target_id=subscription.pk).count() == 1


def test_the_delivery_log_shows_every_attempt(world: World) -> None:
    with running_receiver([500, 200]) as receiver:
        subscription = _subscription(receiver.url)
        response = world.client("admin").post(f"/api/subscriptions/{subscription.pk}/test-delivery/")
        assert response.status_code == 202
        assert response.json()["event_type"] == "ping" and response.json()["state"] == "pending"
        drain()
        Delivery.objects.update(next_attempt_at=Delivery.objects.get().created_at)  # due again now
        drain()
        receiver.wait_for(2)
    log = world.client("admin").get(f"/api/subscriptions/{subscription.pk}/deliveries/")
    assert log.status_code == 200
    [row] = log.json()["results"]
    assert row["state"] == DeliveryState.DELIVERED and row["attempt_count"] == 2
    assert [(a["number"], a["status_code"], a["ok"]) for a in row["attempts"]] == [(1, 500, False), (2, 200, True)]
    # The admin's log: the subscription links to its deliveries, and each delivery shows its attempts.
    client = verified_login(Client(), world.users["admin"])
    page = client.get(reverse("admin:exchange_subscription_change", args=[subscription.pk])).content.decode()
    link = reverse("admin:exchange_delivery_changelist") + f"?subscription__id__exact={subscription.pk}"
    assert link in page
    listing = client.get(link)
    assert listing.status_code == 200 and row["id"] in listing.content.decode()
    detail = client.get(reverse("admin:exchange_delivery_change", args=[row["id"]])).content.decode()
    assert "500" in detail and "200" in detail


def test_the_delivery_log_and_the_test_are_scoped_like_the_subscription_admin(world: World) -> None:
    own = _subscription("http://127.0.0.1:9/a", agency=world.agency_a)
    foreign = _subscription("http://127.0.0.1:9/b", agency=world.agency_b)
    handler = world.users["handler_a"]
    client = world.client("handler_a")
    assert client.get(f"/api/subscriptions/{own.pk}/deliveries/").status_code == 403
    assert client.post(f"/api/subscriptions/{own.pk}/test-delivery/").status_code == 403
    for codename in ("view_subscription", "change_subscription"):
        handler.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_authenticate(User.objects.get(pk=handler.pk))  # a fresh object: no cached permissions
    assert client.get(f"/api/subscriptions/{own.pk}/deliveries/").status_code == 200
    assert client.post(f"/api/subscriptions/{own.pk}/test-delivery/").status_code == 202
    assert client.get(f"/api/subscriptions/{foreign.pk}/deliveries/").status_code == 404
    assert client.post(f"/api/subscriptions/{foreign.pk}/test-delivery/").status_code == 404
    assert list(Delivery.objects.values_list("subscription_id", flat=True)) == [own.pk]
