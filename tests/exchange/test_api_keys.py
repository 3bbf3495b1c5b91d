"""API keys for other systems: shown once and stored hashed; refused with a clear code when unknown, expired,
revoked or used outside their scopes (revocation takes effect on the next request); rate-limited per key with
429 and Retry-After; every use logged without personal data; no way into the screens or the admin
(their pages and sockets know sessions only, and the key's account cannot log in)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from core import clock
from exchange.keys import KeyRefused, authenticate_api_key
from exchange.keys.actions import do_revoke_key
from exchange.keys.scopes import READ_ROUTES, SCOPES, WRITE_ROUTES
from exchange.models import ApiKey, ApiKeyUse
from organisation.models import AuditEntry, Role
from tests.conftest import World
from tests.exchange.keys import issue, key_client

pytestmark = pytest.mark.django_db


def test_the_key_is_shown_once_and_only_its_hash_is_stored(world: World) -> None:
    key, raw = issue(world)
    prefix, secret = raw.split("_", 2)[1:]
    assert raw.startswith("hk_") and prefix == key.prefix and len(secret) >= 40
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert not [name for name, value in stored.items() if isinstance(value, str) and secret in value]
    assert len(key.secret_hash) == 64 and secret not in key.secret_hash
    entry = AuditEntry.objects.get(action="api_key_created")
    assert (entry.target_type, entry.target_id, entry.actor_id) == ("api_key", key.pk, world.users["admin"].pk)
    assert secret not in str(entry.fields) and key.prefix in str(entry.fields)
    # The service account: the agency's handler, who can never log in.
    account = key.user
    assert account.agency_id == world.agency_a.pk and account.roles == [Role.AGENCY_HANDLER]
    assert account.is_active and not account.has_usable_password() and not account.is_staff


def test_a_valid_key_authenticates_as_its_service_account_by_either_header(world: World) -> None:
    key, raw = issue(world)
    for header in ("authorization", "x-api-key"):
        response = key_client(raw, header=header).get("/api/me/")
        assert response.status_code == 200, response.content
        assert response.json()["username"] == key.user.username


@pytest.mark.parametrize(
    "mutate, code",
    [
        ("unknown", "api_key_unknown"),
        ("wrong_secret", "api_key_unknown"),
        ("malformed", "api_key_unknown"),
        ("expired", "api_key_expired"),
        ("revoked", "api_key_revoked"),
    ],
)
def test_a_refused_key_answers_with_a_clear_code(world: World, mutate: str, code: str) -> None:
    key, raw = issue(world)
    if mutate == "unknown":
        raw = "hk_0123456789ab_" + raw.split("_", 2)[2]
    elif mutate == "wrong_secret":
        raw = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    elif mutate == "malformed":
        raw = "not-a-key"
    elif mutate == "expired":
        ApiKey.objects.filter(pk=key.pk).update(expires_at=clock.now() - dt.timedelta(seconds=1))
    elif mutate == "revoked":
        do_revoke_key(world.users["admin"], key)
    response = key_client(raw).get("/api/work-orders/")
    assert response.status_code in (401, 403)
    body = response.json()
    assert body["code"] == code and body["message"]
    with pytest.raises(KeyRefused) as refused:
        authenticate_api_key(raw, scope="work_orders:read")
    assert refused.value.code == code.removeprefix("api_key_")


def test_revocation_takes_effect_on_the_next_request(world: World) -> None:
    key, raw = issue(world)
    client = key_client(raw)
    assert client.get("/api/work-orders/").status_code == 200
    do_revoke_key(world.users["admin"], key)
    response = client.get("/api/work-orders/")
    assert response.json()["code"] == "api_key_revoked"
    key.user.refresh_from_db()
    assert not key.user.is_active


def test_a_route_outside_the_keys_scopes_is_refused(world: World) -> None:
    _key, raw = issue(world, scopes=["work_orders:read"])
    client = key_client(raw)
    assert client.get("/api/work-orders/").status_code == 200
    for method, path in [
        ("get", "/api/subjects/"),  # reference:read not held
        ("post", "/api/work-orders/1/sign/"),  # work_orders:act not held
        ("get", "/api/keys/"),  # no scope opens key management
        ("post", "/api/tickets/1/reveal/"),  # nor phone reveals
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == 403, (path, response.content)
        assert response.json()["code"] == "api_key_scope", path
    # A plain Django view (not DRF): the key does not authenticate there at all.
    assert client.get("/api/audit/").status_code == 302
    with pytest.raises(KeyRefused) as refused:
        authenticate_api_key(raw, scope="open311:submit")
    assert refused.value.code == "scope"
    assert authenticate_api_key(raw, scope="work_orders:read").prefix == _key.prefix


def test_the_rate_limit_answers_429_with_retry_after(world: World) -> None:
    key, raw = issue(world, rate="3/min")
    _other, other_raw = issue(world, rate="3/min")
    client = key_client(raw)
    for _ in range(2):
        assert client.get("/api/me/").status_code == 200
    assert client.get("/api/keys/").status_code == 403  # refused by its scopes, but counted
    response = client.get("/api/me/")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    # Per key: another key of the same agency is not slowed down.
    assert key_client(other_raw).get("/api/me/").status_code == 200
    assert ApiKeyUse.objects.filter(key=key, status=429).count() == 1


def test_every_use_is_logged_without_personal_data(world: World) -> None:
    key, raw = issue(world)
    client = key_client(raw)
    client.get("/api/work-orders/?q=13812341234")
    client.post("/api/tickets/1/reveal/", {"reason": "x"}, format="json")
    uses = list(ApiKeyUse.objects.filter(key=key).order_by("id").values_list("method", "path", "status"))
    assert uses == [("GET", "/api/work-orders/", 200), ("POST", "/api/tickets/1/reveal/", 403)]
    key.refresh_from_db()
    assert key.last_used_at is not None
    # A refused (expired) key is logged too; an unknown one has no row to log against.
    ApiKey.objects.filter(pk=key.pk).update(expires_at=clock.now() - dt.timedelta(seconds=1))
    client.get("/api/me/")
    assert ApiKeyUse.objects.filter(key=key, status=403).count() == 2
    key_client("hk_0123456789ab_nothing").get("/api/me/")
    assert ApiKeyUse.objects.count() == 3


def test_a_key_opens_no_screen_or_admin_page(world: World) -> None:
    key, raw = issue(world)
    client = Client(HTTP_AUTHORIZATION=f"ApiKey {raw}", HTTP_X_API_KEY=raw)
    for path in ("/inbox/", "/work/", "/admin/", "/console/"):
        response = client.get(path)
        assert response.status_code in (302, 403), path
        if response.status_code == 302:
            assert "login" in response["Location"], path
    # Nor can its service account log in, whatever password is tried.
    browser = Client()
    browser.post("/accounts/login/", {"username": key.user.username, "password": raw})
    assert "_auth_user_id" not in browser.session


def test_a_partner_key_has_only_its_scopes_role_and_sees_no_work(world: World) -> None:
    reader, _ = issue(world, partner="市民App", scopes=["reference:read"])
    assert reader.user.roles == [] and reader.user.agency_id is None
    # Submitting through Open311 is the intake row of the workflow table: the operator's role, and no route
    # but its scopes' is open to the key.
    key, raw = issue(world, partner="市民App", scopes=["open311:submit", "reference:read"])
    assert key.user.roles == ["operator"] and key.user.agency_id is None
    assert key_client(raw).get("/api/subjects/").status_code == 200
    assert key_client(raw).get("/api/tickets/").json()["code"] == "api_key_scope"
    assert key_client(raw).get("/api/work-orders/").json()["code"] == "api_key_scope"
    assert authenticate_api_key(raw, scope="open311:submit").user == key.user


def test_every_route_a_scope_opens_exists() -> None:
    """A renamed route would silently close to keys: every URL name in the scope table must resolve."""
    from django.urls import get_resolver

    names = {name for name in get_resolver().reverse_dict if isinstance(name, str)}
    assert "work-order-sign" in names  # the lookup itself sees the router's names
    for table in (READ_ROUTES, WRITE_ROUTES):
        assert set(table) <= names, sorted(set(table) - names)
        assert set(table.values()) <= set(SCOPES)


def test_a_key_survives_a_secret_key_rotation_through_the_fallback(world: World, settings: Any) -> None:
    _key, raw = issue(world)
    old_secret_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    settings.SECRET_KEY_FALLBACKS = [old_secret_key]
    assert key_client(raw).get("/api/me/").status_code == 200  # matched under the fallback, re-hashed
    settings.SECRET_KEY_FALLBACKS = []
    assert key_client(raw).get("/api/me/").status_code == 200
    _untouched, untouched_raw = issue(world)
    settings.SECRET_KEY = "yet-another-secret-key-" + "y" * 40
    assert key_client(untouched_raw).get("/api/me/").json()["code"] == "api_key_unknown"
