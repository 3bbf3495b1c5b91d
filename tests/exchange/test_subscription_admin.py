"""Subscriptions are written through exchange/actions.py: checked (URL, known event types, who), audited
without secrets; a new subscription's secret is generated and shown once; rotation keeps the previous secret
signing for the overlap."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from core import clock
from core.errors import InvalidInput, NotAllowed
from exchange.actions import ROTATION_OVERLAP, do_rotate_secret, do_save_subscription
from exchange.models import Subscription
from organisation.models import AuditEntry
from tests.conftest import World
from tests.second_factor import verified_login

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hook"  # loopback: only with allow_private_network


def _admin(world: World) -> Client:
    return verified_login(Client(), world.users["admin"])


def _form(**extra: Any) -> dict[str, Any]:
    return {
        "name": "partner",
        "target_url": URL,
        "event_types": ["work_order.escalated", "reference.changed"],
        "allow_private_network": "on",
        "active": "on",
        **extra,
    }


def test_the_admin_creates_a_subscription_with_a_generated_secret_shown_once(world: World) -> None:
    client = _admin(world)
    response = client.post(reverse("admin:exchange_subscription_add"), _form(), follow=True)
    assert response.status_code == 200
    subscription = Subscription.objects.get()
    assert len(subscription.secret) >= 40
    assert subscription.event_types == ["work_order.escalated", "reference.changed"]
    shown = [str(m) for m in response.context["messages"] if subscription.secret in str(m)]
    assert len(shown) == 1
    change = reverse("admin:exchange_subscription_change", args=[subscription.pk])
    page = client.get(change).content.decode()
    assert subscription.secret not in page  # never again
    entry = AuditEntry.objects.get(action="subscription_created")
    assert (entry.target_type, entry.target_id, entry.actor_id) == (
        "subscription",
        subscription.pk,
        world.users["admin"].pk,
    )
    assert subscription.secret not in str(entry.fields)

    response = client.post(change, _form(name="partner two"), follow=True)
    assert response.status_code == 200
    subscription.refresh_from_db()
    assert subscription.name == "partner two"
    assert not [m for m in get_messages(response.wsgi_request) if subscription.secret in str(m)]
    assert AuditEntry.objects.get(action="subscription_changed").fields == [{"fields": ["name"]}]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"event_types": ["no.such_type"]}, "event_types"),
        ({"allow_private_network": ""}, "target_url"),  # loopback without the administrator's leave
        ({"target_url": "ftp://example.org/hook"}, "target_url"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_is_a_form_error_and_saves_nothing(world: World, changes: dict[str, Any], field: str) -> None:
    response = _admin(world).post(reverse("admin:exchange_subscription_add"), _form(**changes))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]
    assert not Subscription.objects.exists()
    assert not AuditEntry.objects.filter(target_type="subscription").exists()


def test_the_action_refuses_unknown_event_types_and_non_administrators(world: World) -> None:
    subscription = Subscription(name="x", target_url=URL, allow_private_network=True, event_types=["nope"])
    with pytest.raises(InvalidInput) as refused:
        do_save_subscription(world.users["admin"], subscription)
    assert set(refused.value.fields) == {"event_types"}
    subscription.event_types = []
    with pytest.raises(NotAllowed):
        do_save_subscription(world.users["agencyadmin_a"], subscription)
    assert not Subscription.objects.exists()
    saved, secret = do_save_subscription(world.users["admin"], subscription)
    assert saved.pk and secret == saved.secret


def test_rotation_keeps_the_previous_secret_for_the_overlap(world: World) -> None:
    subscription, first = do_save_subscription(
        world.users["admin"], Subscription(name="x", target_url=URL, allow_private_network=True)
    )
    now = clock.now()
    with clock.pinned_at(now):
        second = do_rotate_secret(world.users["admin"], subscription)
    subscription.refresh_from_db()
    assert first and second != first
    assert (subscription.secret, subscription.previous_secret) == (second, first)
    assert subscription.previous_secret_until == now + ROTATION_OVERLAP
    entry = AuditEntry.objects.get(action="subscription_secret_rotated")
    assert first not in str(entry.fields) and second not in str(entry.fields)
    with pytest.raises(NotAllowed):
        do_rotate_secret(world.users["handler_a"], subscription)
    subscription.refresh_from_db()
    assert subscription.secret == second


def test_the_admin_rotation_action_shows_the_new_secret_once(world: World) -> None:
    subscription, first = do_save_subscription(
        world.users["admin"], Subscription(name="x", target_url=URL, allow_private_network=True)
    )
    response = _admin(world).post(
        reverse("admin:exchange_subscription_changelist"),
        {"action": "rotate_secrets", "_selected_action": [str(subscription.pk)]},
        follow=True,
    )
    subscription.refresh_from_db()
    assert subscription.previous_secret == first and subscription.secret != first
    assert subscription.previous_secret_until is not None
    assert subscription.previous_secret_until > clock.now() + ROTATION_OVERLAP - dt.timedelta(minutes=1)
    assert [m for m in response.context["messages"] if subscription.secret in str(m)]


def test_deleting_in_the_admin_is_audited(world: World) -> None:
    subscription, _secret = do_save_subscription(
        world.users["admin"], Subscription(name="x", target_url=URL, allow_private_network=True)
    )
    url = reverse("admin:exchange_subscription_delete", args=[subscription.pk])
    assert _admin(world).post(url, {"post": "yes"}).status_code == 302
    assert not Subscription.objects.exists()
    assert AuditEntry.objects.filter(action="subscription_deleted", target_id=subscription.pk).exists()
