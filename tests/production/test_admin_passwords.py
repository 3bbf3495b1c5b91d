"""The admin's user pages use Django's password forms: a password is only ever stored hashed."""

from __future__ import annotations

from django.contrib.auth.hashers import identify_hasher
from django.test import Client
from django.urls import reverse

from organisation.models import Role, User
from tests.conftest import World
from tests.second_factor import verified_login

TYPED = "Typed-in-plain-7731-text"


def _admin_client(world: World) -> Client:
    return verified_login(Client(), world.users["admin"])


def _stored_hash_is_real(user: User) -> None:
    assert user.password != TYPED
    identify_hasher(user.password)  # raises for anything that is not a hash Django made


def test_the_change_form_shows_no_editable_password(world: World) -> None:
    user = world.users["operator"]
    page = _admin_client(world).get(reverse("admin:organisation_user_change", args=[user.pk])).content.decode()
    assert 'name="password"' not in page  # no text box holding the hash
    assert "../password/" in page  # the link to Django's password change form


def test_saving_the_change_form_never_stores_a_typed_password(world: World) -> None:
    client = _admin_client(world)
    user = world.users["operator"]
    before = user.password
    response = client.post(
        reverse("admin:organisation_user_change", args=[user.pk]),
        {
            "username": user.username,
            "password": TYPED,
            "first_name": "",
            "last_name": "",
            "email": "",
            "is_active": "on",
            "agency": user.agency_id or "",
            "roles": [Role.OPERATOR],
            "extension": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "08:00:00",
            "last_login_0": "",
            "last_login_1": "",
        },
    )
    assert response.status_code == 302, response.content[:800]
    user.refresh_from_db()
    assert user.password == before
    assert not user.check_password(TYPED)


def test_adding_a_user_takes_the_password_twice_and_hashes_it(world: World) -> None:
    client = _admin_client(world)
    url = reverse("admin:organisation_user_add")
    page = client.get(url).content.decode()
    assert 'name="password1"' in page and 'name="password2"' in page
    mismatch = client.post(url, {"username": "newbie", "usable_password": "true", "password1": TYPED, "password2": "x"})
    assert mismatch.status_code == 200 and not User.objects.filter(username="newbie").exists()
    response = client.post(
        url,
        {
            "username": "newbie",
            "usable_password": "true",
            "password1": TYPED,
            "password2": TYPED,
            "agency": world.centre.pk,
            "roles": [Role.OPERATOR],
            "extension": "",
        },
    )
    assert response.status_code == 302, response.content[:800]
    newbie = User.objects.get(username="newbie")
    _stored_hash_is_real(newbie)
    assert newbie.check_password(TYPED)


def test_the_password_change_form_hashes_the_new_password(world: World) -> None:
    client = _admin_client(world)
    user = world.users["operator"]
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    assert url == f"/admin/organisation/user/{user.pk}/password/"
    response = client.post(url, {"password1": TYPED, "password2": TYPED, "usable_password": "true"})
    assert response.status_code == 302, response.content[:800]
    user.refresh_from_db()
    _stored_hash_is_real(user)
    assert user.check_password(TYPED)
