"""Managing keys: the API (/api/keys/) and the admin pages issue (the key shown once), list, revoke and rotate
them, audited; an agency's administrator manages its own agency's keys only (a foreign one is not there);
bad input is a 400 naming the field and changes nothing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from core import clock
from exchange.models import ApiKey
from organisation.models import AuditEntry
from tests.conftest import World
from tests.exchange.keys import AGENCY_KEY_SCOPES, issue, key_client
from tests.second_factor import verified_login

pytestmark = pytest.mark.django_db


def _body(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "name": "城管业务系统",
        "agency": world.agency_a.pk,
        "scopes": AGENCY_KEY_SCOPES,
        "expires_at": (clock.now() + dt.timedelta(days=90)).isoformat(),
        **extra,
    }


def test_an_administrator_issues_a_key_shown_in_the_answer_only(world: World) -> None:
    client = world.client("admin")
    response = client.post("/api/keys/", _body(world, rate="60/min"), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    raw = body["key"]
    assert raw.startswith(f"hk_{body['prefix']}_") and body["state"] == "active" and body["rate"] == "60/min"
    assert key_client(raw).get("/api/me/").status_code == 200
    listed = client.get("/api/keys/").content.decode() + client.get(f"/api/keys/{body['id']}/").content.decode()
    assert body["prefix"] in listed and raw not in listed and raw.split("_", 2)[2] not in listed


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"expires_at": None}, "expires_at"),
        ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),  # no offset
        ({"expires_at": (clock.now() + dt.timedelta(days=400)).isoformat()}, "expires_at"),
        ({"expires_at": (clock.now() - dt.timedelta(days=1)).isoformat()}, "expires_at"),
        ({"scopes": ["work_orders:delete"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"name": ""}, "name"),
        ({"rate": "fast"}, "rate"),
        ({"agency": None, "partner": ""}, "partner"),
        ({"agency": None, "partner": "市民App"}, "scopes"),  # work order scopes are for agencies' keys
        ({"partner": "市民App"}, "partner"),  # an agency's and a partner's at once
        ({"agency": 999999}, "agency"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_issues_nothing(
    world: World, extra: dict[str, Any], field: str
) -> None:
    response = world.client("admin").post("/api/keys/", _body(world, **extra), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not ApiKey.objects.exists()


def test_an_agency_administrator_manages_its_own_agencys_keys_only(world: World) -> None:
    client = world.client("agencyadmin_a")
    own = client.post("/api/keys/", _body(world), format="json")
    assert own.status_code == 201, own.content
    foreign_agency = client.post("/api/keys/", _body(world, agency=world.agency_b.pk), format="json")
    assert foreign_agency.status_code == 400 and "agency" in foreign_agency.json()["fields"]
    partner_body = _body(world, agency=None, partner="市民App", scopes=["open311:submit"])
    partner = client.post("/api/keys/", partner_body, format="json")
    assert partner.status_code == 400
    foreign, _raw = issue(world, agency=world.agency_b)
    assert [row["id"] for row in client.get("/api/keys/").json()["results"]] == [own.json()["id"]]
    assert client.get(f"/api/keys/{foreign.pk}/").status_code == 404
    assert client.post(f"/api/keys/{foreign.pk}/revoke/").status_code == 404
    assert client.post(f"/api/keys/{foreign.pk}/rotate/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


@pytest.mark.parametrize("who", ["handler_a", "operator", "dispatcher", "auditor", "nobody"])
def test_nobody_else_may_manage_keys(world: World, who: str) -> None:
    key, _raw = issue(world)
    client = world.client(who)
    assert client.get("/api/keys/").status_code == 403
    assert client.post("/api/keys/", _body(world), format="json").status_code == 403
    assert client.post(f"/api/keys/{key.pk}/revoke/").status_code == 403
    assert ApiKey.objects.count() == 1


def test_a_key_cannot_create_keys_even_its_agency_administrators(world: World) -> None:
    _key, raw = issue(world, by="agencyadmin_a")
    response = key_client(raw).post("/api/keys/", _body(world), format="json")
    assert response.status_code == 403 and response.json()["code"] == "api_key_scope"
    assert ApiKey.objects.count() == 1


def test_revoke_through_the_api_is_audited_and_final(world: World) -> None:
    key, raw = issue(world)
    client = world.client("admin")
    response = client.post(f"/api/keys/{key.pk}/revoke/")
    assert response.status_code == 200 and response.json()["state"] == "revoked"
    assert key_client(raw).get("/api/me/").json()["code"] == "api_key_revoked"
    assert AuditEntry.objects.filter(action="api_key_revoked", target_id=key.pk).count() == 1
    again = client.post(f"/api/keys/{key.pk}/revoke/")
    assert again.status_code == 400


def test_rotation_gives_a_new_key_and_the_old_one_works_for_the_overlap_only(world: World) -> None:
    key, raw = issue(world)
    response = world.client("admin").post(f"/api/keys/{key.pk}/rotate/")
    assert response.status_code == 201
    new_raw = response.json()["key"]
    assert new_raw != raw and response.json()["scopes"] == sorted(AGENCY_KEY_SCOPES)
    assert key_client(new_raw).get("/api/me/").status_code == 200
    assert key_client(raw).get("/api/me/").status_code == 200  # still, for the overlap
    key.refresh_from_db()
    assert key.expires_at <= clock.now() + dt.timedelta(hours=24)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=clock.now() - dt.timedelta(seconds=1))
    assert key_client(raw).get("/api/me/").json()["code"] == "api_key_expired"


def test_the_admin_page_issues_a_key_shown_once_and_revokes_it(world: World) -> None:
    client = verified_login(Client(), world.users["admin"])
    form = {
        "name": "城管业务系统",
        "agency": world.agency_a.pk,
        "partner": "",
        "scopes": AGENCY_KEY_SCOPES,
        "expires_at": (clock.now() + dt.timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S"),
        "rate": "",
    }
    response = client.post(reverse("admin:exchange_apikey_add"), form, follow=True)
    assert response.status_code == 200
    key = ApiKey.objects.get()
    pattern = re.compile(rf"hk_{key.prefix}_[A-Za-z0-9_-]{{40,}}")
    shown = [match.group(0) for m in response.context["messages"] if (match := pattern.search(str(m)))]
    assert len(shown) == 1
    raw = shown[0]
    assert key_client(raw).get("/api/me/").status_code == 200
    page = client.get(reverse("admin:exchange_apikey_change", args=[key.pk])).content.decode()
    assert key.prefix in page and raw not in page
    changelist = reverse("admin:exchange_apikey_changelist")
    client.post(changelist, {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert key_client(raw).get("/api/me/").json()["code"] == "api_key_revoked"
    uses = client.get(reverse("admin:exchange_apikeyuse_changelist") + f"?key__id__exact={key.pk}")
    assert uses.status_code == 200 and "/api/me/" in uses.content.decode()


def test_the_admin_form_refuses_bad_input(world: World) -> None:
    client = verified_login(Client(), world.users["admin"])
    form = {"name": "x", "agency": "", "partner": "", "scopes": ["work_orders:read"], "expires_at": "", "rate": "x"}
    response = client.post(reverse("admin:exchange_apikey_add"), form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"partner", "expires_at", "rate"} <= set(errors)
    assert not ApiKey.objects.exists()
