"""The admin's pages of agencies and users save through the organisation's actions: audited, announced, and
passwords only through Django's password forms (hashed, never stored as typed)."""

from __future__ import annotations

import pytest
from django.test import Client

from organisation import actions
from organisation.actions import ReferenceChange
from organisation.models import Agency, AuditEntry, User
from tests.conftest import World, english_client
from tests.second_factor import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(world: World) -> Client:
    client = english_client()
    verified_login(client, world.users["admin"])
    return client


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> list[ReferenceChange]:
    changes: list[ReferenceChange] = []
    monkeypatch.setattr(actions, "change_listeners", [*actions.change_listeners, changes.append])
    return changes


def test_a_typed_password_is_never_stored_as_typed(admin_client: Client, world: World) -> None:
    user = world.users["operator"]
    page = admin_client.get(f"/admin/organisation/user/{user.pk}/change/").content.decode()
    # Django's change form shows the hash read-only with a link to the password form, no editable box.
    assert 'name="password"' not in page and "../password/" in page
    form = {
        "username": user.username,
        "password": "typed-in-plain",
        "roles": ["operator", "dispatcher"],
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = admin_client.post(f"/admin/organisation/user/{user.pk}/change/", form)
    assert response.status_code == 302, response.content
    user.refresh_from_db()
    assert user.password != "typed-in-plain" and user.roles == ["operator", "dispatcher"]
    response = admin_client.post(
        f"/admin/organisation/user/{user.pk}/password/",
        {"password1": "a new Passw0rd here", "password2": "a new Passw0rd here", "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    user.refresh_from_db()
    assert user.password.startswith(("pbkdf2_", "argon2", "bcrypt", "scrypt")) and user.check_password(
        "a new Passw0rd here"
    )


def test_a_role_change_in_the_admin_is_audited_and_announced(
    admin_client: Client, world: World, heard: list[ReferenceChange]
) -> None:
    user = world.users["operator"]
    form = {
        "username": user.username,
        "roles": ["supervisor"],
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    assert admin_client.post(f"/admin/organisation/user/{user.pk}/change/", form).status_code == 302
    entry = AuditEntry.objects.get(action="user_changed")
    assert (entry.actor, entry.target_type, entry.target_id) == (world.users["admin"], "user", user.pk)
    assert {"roles_before": ["operator"], "roles_after": ["supervisor"]} in entry.fields
    assert [(c.kind, c.id, c.action) for c in heard] == [("user", user.pk, "changed")]
    assert "roles" in heard[0].fields and "password" not in heard[0].fields


def test_an_agency_created_in_the_admin_is_audited(
    admin_client: Client, world: World, heard: list[ReferenceChange]
) -> None:
    form = {"code": "lz-new", "name": "新单位", "kind": "department", "function": "housing", "sort_order": "0"}
    assert admin_client.post("/admin/organisation/agency/add/", {**form, "active": "on"}).status_code == 302
    agency = Agency.objects.get(code="lz-new")
    entry = AuditEntry.objects.get(action="agency_created")
    assert (entry.target_type, entry.target_id) == ("agency", agency.pk)
    assert heard == [ReferenceChange("agency", agency.pk, "created", tuple(heard[0].fields))]


def test_a_new_user_added_in_the_admin_gets_a_hashed_password(admin_client: Client, world: World) -> None:
    form = {
        "username": "newcomer",
        "password1": "a long Passw0rd 2026",
        "password2": "a long Passw0rd 2026",
        "usable_password": "true",
        "roles": ["operator"],
    }
    response = admin_client.post("/admin/organisation/user/add/", form)
    assert response.status_code == 302, response.content
    user = User.objects.get(username="newcomer")
    assert user.check_password("a long Passw0rd 2026") and user.password != "a long Passw0rd 2026"
    assert user.roles == ["operator"]
    assert AuditEntry.objects.filter(action="user_created", target_id=user.pk).exists()
