"""An agency's subscription receives only what that agency's screens receive, masked as there; SSRF targets
are refused unless an administrator allowed private networks for the subscription."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from exchange.actions import check_target_url
from exchange.models import Delivery, DeliveryState, Subscription
from exchange.outbox import drain
from exchange.targets import TargetRefused, resolve_target
from tests.conftest import World

TITLE = "火情 报警人139-1234-5678"
TITLE_MASKED = "火情 报警人139****5678"


def _incident_for_agency_a(world: World) -> None:
    from emergency import actions as emergency

    commander = world.users["commander"]
    body = {"type": "fire", "title": TITLE, "latitude": 24.3126, "longitude": 109.4112}
    incident = emergency.do_report_incident(body, actor=commander)
    emergency.do_link_agency(incident.pk, {"agency_id": world.agency_a.pk, "task": "疏散"}, actor=commander)


def _titles(subscription: Subscription) -> list[str]:
    bodies = [json.loads(body) for body in subscription.deliveries.values_list("body", flat=True)]
    return [body["payload"]["incident"]["title"] for body in bodies if "incident" in body["payload"]]


@pytest.mark.django_db
def test_an_agency_subscription_never_receives_another_agencys_events(world: World) -> None:
    common = {"target_url": "https://partner.example/hook", "secret": "x"}
    centre = Subscription.objects.create(name="centre", **common)
    for_a = Subscription.objects.create(name="a", agency=world.agency_a, **common)
    for_b = Subscription.objects.create(name="b", agency=world.agency_b, **common)
    only_changes = Subscription.objects.create(name="a-changes", agency=world.agency_a, event_types=["x"], **common)
    _incident_for_agency_a(world)  # the actions' own transactions
    assert for_b.deliveries.count() == 0
    assert only_changes.deliveries.count() == 0
    assert for_a.deliveries.exists()
    assert set(_titles(for_a)) == {TITLE_MASKED}
    assert set(_titles(centre)) == {TITLE}
    assert centre.deliveries.count() > for_a.deliveries.count()  # incident.created is the centre's alone


@pytest.mark.django_db
def test_an_inactive_subscription_receives_nothing(world: World) -> None:
    Subscription.objects.create(name="off", target_url="https://partner.example/hook", secret="x", active=False)
    _incident_for_agency_a(world)  # the actions' own transactions
    assert not Delivery.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://localhost/hook",
    ],
)
def test_ssrf_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        resolve_target(url, allow_private=False)
    assert refused.value.code == "private_address"
    assert check_target_url(url, allow_private=False)
    assert resolve_target(url, allow_private=True).address


def test_a_name_resolving_to_loopback_is_refused(monkeypatch: Any) -> None:
    # The one double here stands for the outside DNS: a public-looking name whose record points inside.
    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "innocent.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with pytest.raises(TargetRefused):
        resolve_target("https://innocent.example/hook", allow_private=False)


@pytest.mark.parametrize("url", ["ftp://partner.example/x", "file:///etc/passwd", "http://user:pw@partner.example/"])
def test_other_schemes_and_credentials_in_urls_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        resolve_target(url, allow_private=True)
    assert refused.value.code == "bad_url"


@pytest.mark.django_db(transaction=True)
def test_the_worker_refuses_a_private_target_at_send_time(world: World) -> None:
    # Saved directly (not through the admin's check), or the name's address changed since: checked again per attempt.
    Subscription.objects.create(name="inside", target_url="http://127.0.0.1:9/hook", secret="x")
    _incident_for_agency_a(world)  # the actions' own transactions
    drain()
    delivery = Delivery.objects.order_by("created_at").first()
    assert delivery is not None
    assert delivery.state == DeliveryState.PENDING
    assert list(delivery.attempts.values_list("error_kind", "status_code")) == [("private_address", None)]
