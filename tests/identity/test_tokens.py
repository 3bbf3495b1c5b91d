"""API tokens: hashed, expiring, revoked on logout, password change, deactivation and role change; the second
factor for the roles that need it; /api/auth/token/ keeps its request shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from knox.models import AuthToken
from rest_framework.test import APIClient

from core import clock
from organisation.models import Role
from tests.conftest import World
from tests.identity.conftest import PASSWORD
from tests.second_factor import confirmed_device, current_code

pytestmark = pytest.mark.django_db


def _token(username: str, **extra: str) -> Any:
    return APIClient().post("/api/auth/token/", {"username": username, "password": PASSWORD, **extra})


def _me(token: str) -> int:
    """200 with a valid token; 401 for a bad one (403 here, as DRF answers when session auth comes first)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    status = int(client.get("/api/me/").status_code)
    return 401 if status == 403 else status


def test_a_token_is_issued_for_the_same_request_with_an_expiry_and_stored_hashed(with_passwords: World) -> None:
    answer = _token("operator")
    assert answer.status_code == 200, answer.content
    token = answer.json()["token"]
    expiry = dt.datetime.fromisoformat(answer.json()["expiry"])
    assert dt.timedelta(hours=11) < expiry - clock.now() <= dt.timedelta(hours=12)
    assert _me(token) == 200
    # Only a hash is kept: the key itself is in no column.
    assert not AuthToken.objects.filter(digest=token).exists()
    assert token not in {row.digest for row in AuthToken.objects.all()}
    # JSON works as well as a form, and a wrong password gets a 400 with no token.
    json_answer = APIClient().post("/api/auth/token/", {"username": "operator", "password": PASSWORD}, format="json")
    assert json_answer.status_code == 200
    wrong = APIClient().post("/api/auth/token/", {"username": "operator", "password": "wrong-password-1"})
    assert wrong.status_code == 400 and "token" not in wrong.json()


def test_an_expired_token_is_refused(with_passwords: World) -> None:
    token = _token("operator").json()["token"]
    AuthToken.objects.update(expiry=clock.now() - dt.timedelta(seconds=1))
    assert _me(token) == 401


@pytest.mark.parametrize("change", ["password", "deactivate", "roles"])
def test_every_token_of_a_user_is_revoked_when_the_password_the_account_or_the_roles_change(
    with_passwords: World, change: str
) -> None:
    first, second = _token("dispatcher").json()["token"], _token("dispatcher").json()["token"]
    other = _token("operator").json()["token"]
    user = with_passwords.users["dispatcher"]
    if change == "password":
        user.set_password("another-horse-67890")
    elif change == "deactivate":
        user.is_active = False
    else:
        user.roles = [Role.OPERATOR]
    user.save()
    assert (_me(first), _me(second)) == (401, 401)
    assert _me(other) == 200


def test_logout_revokes_the_token_it_is_sent_with_and_logout_all_every_token(with_passwords: World) -> None:
    first, second, third = (_token("operator").json()["token"] for _ in range(3))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert client.post("/api/auth/logout/").status_code == 204
    assert (_me(first), _me(second), _me(third)) == (401, 200, 200)
    client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert client.post("/api/auth/logout-all/").status_code == 204
    assert (_me(second), _me(third)) == (401, 401)


def test_roles_that_need_the_second_factor_get_a_token_only_with_the_code(with_passwords: World) -> None:
    refused = _token("supervisor")
    assert refused.status_code == 400 and "otp" in str(refused.json())
    assert not AuthToken.objects.exists()
    device = confirmed_device(with_passwords.users["supervisor"])
    answer = _token("supervisor", otp=current_code(device))
    assert answer.status_code == 200, answer.content
    assert _me(answer.json()["token"]) == 200
    # A code is good once, and a wrong one is refused.
    assert _token("supervisor", otp=current_code(device)).status_code == 400
    assert _token("supervisor", otp="12345x").status_code == 400
    assert AuthToken.objects.count() == 1


def test_numeric_passwords_are_refused() -> None:
    with pytest.raises(ValidationError):
        validate_password("73920584")
    validate_password("demo-12345")  # the demo's password still passes
