"""Login throttling: thirty wrong passwords on each login path end in 429 with a clear message, while another
user from another address still logs in."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from organisation.models import AuditEntry
from tests.conftest import World
from tests.identity.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN_PATHS = {  # the path, who logs in after the lockout (the admin's page takes staff only), and the answer
    "page": ("/accounts/login/", "handler_a", 302),
    "admin": ("/admin/login/", "admin", 302),
    "api": ("/api/auth/token/", "handler_a", 200),
}


def _post(path: str, username: str, password: str, address: str, language: str = "zh-hans") -> Any:
    client = Client(REMOTE_ADDR=address)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client.post(path, {"username": username, "password": password})


@pytest.mark.parametrize("way", LOGIN_PATHS)
def test_thirty_wrong_logins_get_429_and_another_user_elsewhere_still_logs_in(with_passwords: World, way: str) -> None:
    path, other, success = LOGIN_PATHS[way]
    answers = [_post(path, "dispatcher", f"wrong-{n}", "10.0.0.1").status_code for n in range(30)]
    assert answers[-1] == 429
    assert answers.index(429) <= settings.AXES_FAILURE_LIMIT
    # The right password does not help the locked account, nor does another account from the locked address.
    assert _post(path, "dispatcher", PASSWORD, "10.0.0.1").status_code == 429
    assert _post(path, "dispatcher", PASSWORD, "10.0.0.9").status_code == 429
    assert _post(path, other, PASSWORD, "10.0.0.1").status_code == 429
    # Another user from another address is not held up.
    assert _post(path, other, PASSWORD, "10.0.0.2").status_code == success
    assert AuditEntry.objects.filter(action="lockout").exists()
    failures = AuditEntry.objects.filter(action="login_failed")
    assert failures.count() >= settings.AXES_FAILURE_LIMIT
    # The log holds the name and the address, never the password typed.
    assert failures.first().fields[0]["address"] == "10.0.0.1"  # type: ignore[union-attr]
    assert "wrong-" not in str(list(failures.values_list("fields", flat=True)))


def test_the_lockout_message_is_clear_in_both_languages(with_passwords: World) -> None:
    for n in range(settings.AXES_FAILURE_LIMIT + 1):
        last = _post("/accounts/login/", "operator", f"wrong-{n}", "10.0.0.3")
    assert last.status_code == 429
    assert "登录失败次数过多" in last.content.decode()
    english = _post("/accounts/login/", "operator", "wrong", "10.0.0.3", language="en")
    assert english.status_code == 429 and "Too many failed logins" in english.content.decode()
    api = _post("/api/auth/token/", "operator", "wrong", "10.0.0.3", language="en")
    assert api.status_code == 429 and "Too many failed logins" in api.json()["detail"]
