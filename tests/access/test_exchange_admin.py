"""Agency users never reach the exchange's admin pages: webhook subscriptions (their secrets, URLs and the
centre's unmasked view) and deliveries answer 403 to a staff agency user without the permission, send a
non-staff one to the log-in page, and a foreign agency's objects are not there even for one given access."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.test import Client
from django.urls import reverse

from exchange.models import Delivery, Subscription
from exchange.outbox import enqueue
from organisation.models import User
from tests.conftest import World
from tests.second_factor import verified_login

pytestmark = pytest.mark.django_db

AGENCY_USERS = ("handler_a", "agencyadmin_a", "handler_b")


def _objects(world: World) -> tuple[Subscription, Subscription, Delivery]:
    centre = Subscription.objects.create(name="centre-hook", target_url="https://centre.example/h", secret="c")
    foreign = Subscription.objects.create(
        name="zjj-hook", target_url="https://zjj.example/h", secret="b", agency=world.agency_b
    )
    with transaction.atomic():
        delivery = enqueue(centre, "reference.changed", "{}")
    return centre, foreign, delivery


def _urls(centre: Subscription, foreign: Subscription, delivery: Delivery) -> list[str]:
    return [
        reverse("admin:exchange_subscription_changelist"),
        reverse("admin:exchange_subscription_add"),
        reverse("admin:exchange_subscription_change", args=[centre.pk]),
        reverse("admin:exchange_subscription_change", args=[foreign.pk]),
        reverse("admin:exchange_subscription_delete", args=[foreign.pk]),
        reverse("admin:exchange_delivery_changelist"),
        reverse("admin:exchange_delivery_change", args=[delivery.pk]),
    ]


def _unchanged(centre: Subscription, foreign: Subscription) -> None:
    rows = Subscription.objects.filter(pk__in=[centre.pk, foreign.pk]).values_list("pk", "secret", "name")
    assert sorted(rows) == sorted([(centre.pk, "c", "centre-hook"), (foreign.pk, "b", "zjj-hook")])


@pytest.mark.parametrize("who", AGENCY_USERS)
def test_agency_users_are_not_let_into_the_exchange_admin(world: World, who: str) -> None:
    centre, foreign, delivery = _objects(world)
    client = verified_login(Client(), world.users[who])
    for url in _urls(centre, foreign, delivery):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    response = client.post(
        reverse("admin:exchange_subscription_changelist"),
        {"action": "rotate_secrets", "_selected_action": [str(centre.pk), str(foreign.pk)]},
    )
    assert response.status_code == 302 and "/login/" in response["Location"]
    _unchanged(centre, foreign)


def _staff(world: World, who: str) -> User:
    user = world.users[who]
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def test_a_staff_agency_user_without_the_permission_gets_403(world: World) -> None:
    centre, foreign, delivery = _objects(world)
    client = verified_login(Client(), _staff(world, "agencyadmin_a"))
    for url in _urls(centre, foreign, delivery):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"centre.example" not in response.content and b"zjj.example" not in response.content
    change = reverse("admin:exchange_subscription_change", args=[foreign.pk])
    assert client.post(change, {"name": "taken", "target_url": "https://evil.example/h"}).status_code == 403
    rotate = {"action": "rotate_secrets", "_selected_action": [str(centre.pk), str(foreign.pk)]}
    assert client.post(reverse("admin:exchange_subscription_changelist"), rotate).status_code == 403
    _unchanged(centre, foreign)


def test_a_staff_agency_user_given_access_sees_only_its_own_agencys_objects(world: World) -> None:
    centre, foreign, delivery = _objects(world)
    user = _staff(world, "agencyadmin_a")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="exchange",
            codename__in=["view_subscription", "view_delivery", "change_subscription"],
        )
    )
    own = Subscription.objects.create(
        name="cgj-hook", target_url="https://cgj.example/h", secret="a", agency=world.agency_a
    )
    client = verified_login(Client(), User.objects.get(pk=user.pk))
    listing = client.get(reverse("admin:exchange_subscription_changelist"))
    assert listing.status_code == 200
    assert b"cgj.example" in listing.content
    assert b"centre.example" not in listing.content and b"zjj.example" not in listing.content
    for pk in (centre.pk, foreign.pk):
        response = client.get(reverse("admin:exchange_subscription_change", args=[pk]))
        assert response.status_code in (302, 404), pk  # the admin's "does not exist" answer
        assert b"example" not in response.content
    deliveries = client.get(reverse("admin:exchange_delivery_changelist"))
    assert deliveries.status_code == 200 and str(delivery.pk).encode() not in deliveries.content
    rotate = {"action": "rotate_secrets", "_selected_action": [str(centre.pk), str(foreign.pk)]}
    client.post(reverse("admin:exchange_subscription_changelist"), rotate)
    _unchanged(centre, foreign)
    own.refresh_from_db()
    assert own.secret == "a"
