"""The second factor: required for admin, supervisor, auditor and commander (enrolment with a QR code first),
asked of anyone who set one up, optional for the rest; every step in the audit log, which the auditor reads."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from organisation.models import AuditEntry
from tests.conftest import World
from tests.identity.conftest import PASSWORD
from tests.second_factor import confirmed_device, current_code, verified_login

pytestmark = pytest.mark.django_db


def _password_login(username: str) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def _code_of_secret(secret_base32: str) -> str:
    from base64 import b32decode

    return f"{totp(b32decode(secret_base32)):06d}"


@pytest.mark.parametrize("who", ["admin", "supervisor", "auditor", "commander"])
def test_a_required_role_without_a_device_enrols_before_anything_else(with_passwords: World, who: str) -> None:
    client = _password_login(who)
    home = client.get("/")
    assert home.status_code == 302 and home["Location"].startswith("/accounts/second-factor/enrol/")
    assert client.get("/api/me/").status_code == 403
    page = client.get(home["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "cdn" not in html.lower()
    secret = re.search(r'id="otp-secret">([A-Z2-7]+)<', html)
    assert secret is not None
    wrong = client.post(home["Location"], {"token": "000000" if _code_of_secret(secret[1]) != "000000" else "111111"})
    assert wrong.status_code == 200 and not TOTPDevice.objects.filter(confirmed=True).exists()
    TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    done = client.post(home["Location"], {"token": _code_of_secret(secret[1])})
    assert done.status_code == 302
    assert TOTPDevice.objects.filter(user=with_passwords.users[who], confirmed=True).count() == 1
    assert client.get("/api/me/").status_code == 200
    assert AuditEntry.objects.filter(action="second_factor_enrolled", target_id=with_passwords.users[who].pk).exists()


def test_a_user_with_a_device_gives_the_code_after_the_password(with_passwords: World) -> None:
    device = confirmed_device(with_passwords.users["auditor"])
    client = _password_login("auditor")
    asked = client.get("/audit/")
    assert asked.status_code == 302 and asked["Location"].startswith("/accounts/second-factor/?next=/audit/")
    assert client.post("/accounts/second-factor/", {"token": "12345x", "next": "/audit/"}).status_code == 200
    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.save()
    given = client.post("/accounts/second-factor/", {"token": current_code(device), "next": "/audit/"})
    assert given.status_code == 302 and given["Location"] == "/audit/"
    assert client.get("/audit/").status_code == 200
    # An optional user who set one up is asked too; one who did not is not.
    operator_device = confirmed_device(with_passwords.users["operator"])
    assert _password_login("operator").get("/console/").status_code == 302
    operator_device.delete()
    assert _password_login("operator").get("/console/").status_code == 200


def test_security_events_are_in_the_audit_log_for_the_auditor(with_passwords: World) -> None:
    Client().post("/accounts/login/", {"username": "operator", "password": "wrong-password"})
    Client().post("/accounts/login/", {"username": "nobody-at-all", "password": "wrong-password"})
    client = _password_login("operator")
    client.post("/accounts/logout/")
    user = with_passwords.users["handler_a"]
    user.set_password("another-horse-13579")
    user.save()
    admin = verified_login(Client(), with_passwords.users["admin"])
    changed = admin.post(
        f"/admin/organisation/user/{with_passwords.users['handler_b'].pk}/change/",
        {
            "username": "handler_b",
            "agency": with_passwords.agency_b.pk,
            "roles": ["agency_admin"],
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert changed.status_code == 302, changed.content.decode()[:2000]
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"login_failed", "login", "logout", "password_changed", "role_changed"} <= actions
    unknown = AuditEntry.objects.get(action="login_failed", fields__0__username="nobody-at-all")
    assert unknown.actor is None and unknown.fields == [{"username": "nobody-at-all", "address": "127.0.0.1"}]
    auditor = Client()
    auditor.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    verified_login(auditor, with_passwords.users["auditor"])
    rows: list[dict[str, Any]] = auditor.get("/api/audit/?action=login_failed").json()["results"]
    assert {row["action"] for row in rows} == {"Failed login"}
    assert any(row["actor"] == "nobody-at-all" for row in rows)
    page = html.unescape(auditor.get("/audit/").content.decode())
    for label in ("Logged in", "Logged out", "Changed the password", "Changed a user's roles"):
        assert label in page


def test_the_demo_prints_the_code_of_its_published_key_only(with_passwords: World) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    from demo.management.commands.load_demo_city import DEMO_TOTP_KEY_HEX, DEMO_TOTP_SECRET
    from organisation.identity.actions import do_enrol_known_device

    device = do_enrol_known_device(with_passwords.users["admin"], DEMO_TOTP_KEY_HEX)
    assert _code_of_secret(DEMO_TOTP_SECRET) == current_code(device)
    out = StringIO()
    call_command("demo_otp_code", "admin", stdout=out)
    assert out.getvalue().strip() == current_code(device)
    confirmed_device(with_passwords.users["auditor"])  # a key of its own: never printed
    with pytest.raises(CommandError):
        call_command("demo_otp_code", "auditor", stdout=StringIO())
