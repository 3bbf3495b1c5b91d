"""The subscriptions API (/api/subscriptions/): an agency's key with ``webhooks:manage`` subscribes its own
agency only and gets its work orders' events signed at a real local receiver, never another agency's; a key
without the scope is refused; a foreign subscription answers 404; a key can never reach private networks;
bad input is a 400 with field errors; an administrator sees and manages every subscription."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from callcenter.actions import do_create_ticket
from dispatch.actions import do_dispatch_ticket
from exchange import signing
from exchange.actions import do_save_subscription
from exchange.models import Delivery, Subscription
from exchange.outbox import drain
from organisation.models import AuditEntry
from tests.conftest import World, ticket_payload
from tests.exchange.keys import AGENCY_KEY_SCOPES, issue, key_client
from tests.exchange.receiver import running_receiver

pytestmark = pytest.mark.django_db(transaction=True)

WEBHOOK_SCOPES = [*AGENCY_KEY_SCOPES, "webhooks:manage"]
PUBLIC_URL = "http://93.184.216.34/hook"  # a public address literal: checked without a DNS lookup


def _dispatch(world: World, agency_pk: int, phone: str) -> int:
    ticket, _created = do_create_ticket(ticket_payload(phone=phone), actor=world.users["operator"])
    do_dispatch_ticket(ticket.pk, actor=world.users["dispatcher"], lead_agency_id=agency_pk, override_reason="test")
    return ticket.pk


def test_a_key_subscribes_its_agency_and_receives_its_work_orders_signed(world: World) -> None:
    _key, raw = issue(world, agency=world.agency_a, scopes=WEBHOOK_SCOPES)
    client = key_client(raw)
    created = client.post(
        "/api/subscriptions/",
        {"name": "业务系统", "target_url": PUBLIC_URL, "event_types": ["work_order.created"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["agency"] == world.agency_a.pk and body["allow_private_network"] is False
    secret = body["secret"]
    assert secret
    subscription = Subscription.objects.get(pk=body["id"])
    assert AuditEntry.objects.filter(action="subscription_created", target_id=subscription.pk).count() == 1
    # Reading it back never shows the secret again.
    read = client.get(f"/api/subscriptions/{subscription.pk}/")
    assert read.status_code == 200 and "secret" not in read.json()
    assert [row["id"] for row in client.get("/api/subscriptions/").json()["results"]] == [subscription.pk]

    with running_receiver([200]) as receiver:
        # Only an administrator may point it at a private address (here: the test's local receiver).
        subscription.target_url, subscription.allow_private_network = receiver.url, True
        do_save_subscription(world.users["admin"], subscription, changed=["target_url", "allow_private_network"])
        own_ticket = _dispatch(world, world.agency_a.pk, "13900000041")
        _dispatch(world, world.agency_b.pk, "13900000042")
        assert drain().delivered == 1
        receiver.wait_for(1)
    assert Delivery.objects.filter(subscription=subscription).count() == 1
    received = receiver.received[0]
    assert received.headers["x-hotline-event"] == "work_order.created"
    assert signing.verify(received.headers["x-hotline-signature"], received.body, secret, now=int(time.time()))
    payload = json.loads(received.body)["payload"]
    assert payload["work_order"]["ticket_id"] == own_ticket


def test_a_key_rotates_and_deletes_its_subscription_audited(world: World) -> None:
    _key, raw = issue(world, agency=world.agency_a, scopes=["webhooks:manage"])
    client = key_client(raw)
    created = client.post("/api/subscriptions/", {"name": "a", "target_url": PUBLIC_URL}, format="json").json()
    rotated = client.post(f"/api/subscriptions/{created['id']}/rotate-secret/")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in ("", created["secret"])
    subscription = Subscription.objects.get(pk=created["id"])
    assert subscription.secret == rotated.json()["secret"] and subscription.previous_secret == created["secret"]
    assert client.delete(f"/api/subscriptions/{created['id']}/").status_code == 204
    assert not Subscription.objects.exists()
    actions = set(AuditEntry.objects.filter(target_type="subscription").values_list("action", flat=True))
    assert actions == {"subscription_created", "subscription_secret_rotated", "subscription_deleted"}


def test_a_key_without_the_scope_is_refused(world: World) -> None:
    _key, raw = issue(world, agency=world.agency_a)  # the agency scopes, webhooks:manage not among them
    client = key_client(raw)
    own = Subscription.objects.create(name="a", target_url=PUBLIC_URL, secret="s", agency=world.agency_a)
    for method, url in [
        ("get", "/api/subscriptions/"),
        ("post", "/api/subscriptions/"),
        ("get", f"/api/subscriptions/{own.pk}/"),
        ("delete", f"/api/subscriptions/{own.pk}/"),
        ("post", f"/api/subscriptions/{own.pk}/rotate-secret/"),
    ]:
        response = getattr(client, method)(url, {"name": "x", "target_url": PUBLIC_URL}, format="json")
        assert response.status_code == 403, (method, url)
        assert response.json()["code"] == "api_key_scope"
    assert Subscription.objects.get().secret == "s"


def test_a_foreign_subscription_answers_404_to_a_key(world: World) -> None:
    _key, raw = issue(world, agency=world.agency_a, scopes=["webhooks:manage"])
    client = key_client(raw)
    foreign = Subscription.objects.create(name="b", target_url=PUBLIC_URL, secret="s", agency=world.agency_b)
    centre = Subscription.objects.create(name="centre", target_url=PUBLIC_URL, secret="s")
    for subscription in (foreign, centre):
        assert client.get(f"/api/subscriptions/{subscription.pk}/").status_code == 404
        assert client.delete(f"/api/subscriptions/{subscription.pk}/").status_code == 404
        assert client.post(f"/api/subscriptions/{subscription.pk}/rotate-secret/").status_code == 404
    assert client.get("/api/subscriptions/").json()["results"] == []
    assert Subscription.objects.count() == 2 and set(Subscription.objects.values_list("secret", flat=True)) == {"s"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a", "target_url": "http://127.0.0.1:8080/hook"}, "target_url"),
        ({"name": "a", "target_url": "http://10.0.0.5/hook"}, "target_url"),
        ({"name": "a", "target_url": PUBLIC_URL, "allow_private_network": True}, "allow_private_network"),
        ({"name": "a", "target_url": "ftp://93.184.216.34/x"}, "target_url"),
        ({"name": "a", "target_url": PUBLIC_URL, "event_types": ["nope.nothing"]}, "event_types"),
        ({"name": "a", "target_url": PUBLIC_URL, "event_types": "work_order.created"}, "event_types"),
        ({"name": "", "target_url": PUBLIC_URL}, "name"),
        ({"target_url": PUBLIC_URL}, "name"),
    ],
)
def test_bad_input_from_a_key_is_a_400_with_field_errors(world: World, body: dict[str, Any], field: str) -> None:
    _key, raw = issue(world, agency=world.agency_a, scopes=["webhooks:manage"])
    response = key_client(raw).post("/api/subscriptions/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not Subscription.objects.exists()


def test_a_key_cannot_subscribe_another_agency(world: World) -> None:
    _key, raw = issue(world, agency=world.agency_a, scopes=["webhooks:manage"])
    body = {"name": "a", "target_url": PUBLIC_URL, "agency": world.agency_b.pk}
    response = key_client(raw).post("/api/subscriptions/", body, format="json")
    assert response.status_code == 400 and "agency" in response.json()["fields"]
    assert not Subscription.objects.exists()


def test_an_administrator_lists_and_manages_every_subscription(world: World) -> None:
    a = Subscription.objects.create(name="a", target_url=PUBLIC_URL, secret="s", agency=world.agency_a)
    b = Subscription.objects.create(name="b", target_url=PUBLIC_URL, secret="s", agency=world.agency_b)
    centre = Subscription.objects.create(name="centre", target_url=PUBLIC_URL, secret="s")
    admin = world.client("admin")
    listed = admin.get("/api/subscriptions/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [a.pk, b.pk, centre.pk]
    assert all("secret" not in row for row in listed.json()["results"])
    created = admin.post(
        "/api/subscriptions/",
        {"name": "local", "target_url": "http://127.0.0.1:9/hook", "allow_private_network": True},
        format="json",
    )
    assert created.status_code == 201 and created.json()["agency"] is None and created.json()["secret"]
    assert admin.post(f"/api/subscriptions/{b.pk}/rotate-secret/").status_code == 200
    assert admin.delete(f"/api/subscriptions/{centre.pk}/").status_code == 204
    assert set(Subscription.objects.values_list("name", flat=True)) == {"a", "b", "local"}
    # A handler of an agency without the subscription permissions may not.
    assert world.client("handler_a").get("/api/subscriptions/").status_code == 403
    assert world.client("handler_a").post("/api/subscriptions/", {}, format="json").status_code == 403


def test_a_key_sends_a_test_delivery_and_reads_its_log_for_its_own_subscriptions_only(world: World) -> None:
    _key, raw = issue(world, agency=world.agency_a, scopes=["webhooks:manage"])
    client = key_client(raw)
    own = client.post("/api/subscriptions/", {"name": "a", "target_url": PUBLIC_URL}, format="json").json()
    foreign = Subscription.objects.create(name="b", target_url=PUBLIC_URL, secret="s", agency=world.agency_b)
    queued = client.post(f"/api/subscriptions/{own['id']}/test-delivery/")
    assert queued.status_code == 202 and queued.json()["event_type"] == "ping"
    log = client.get(f"/api/subscriptions/{own['id']}/deliveries/")
    assert log.status_code == 200 and [row["id"] for row in log.json()["results"]] == [queued.json()["id"]]
    assert client.post(f"/api/subscriptions/{foreign.pk}/test-delivery/").status_code == 404
    assert client.get(f"/api/subscriptions/{foreign.pk}/deliveries/").status_code == 404
    assert list(Delivery.objects.values_list("subscription_id", flat=True)) == [own["id"]]
    _other, without_scope = issue(world, agency=world.agency_a)
    refused = key_client(without_scope).post(f"/api/subscriptions/{own['id']}/test-delivery/")
    assert refused.status_code == 403 and refused.json()["code"] == "api_key_scope"
