"""Production is not the demo: the demo loader never resets a password and never runs on a production database;
production start-up creates the first administrator once, from the environment, and never overwrites it."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from core import installation
from core.models import Installation
from organisation.models import Agency, AuditEntry, Role, User
from tests.pinned_time import DEMO_NOW

DEMO = ["--tickets", "12", "--now", DEMO_NOW.isoformat()]
STRONG = "Lantern-river-4471-orchid"


@pytest.fixture
def admin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_ADMIN_USERNAME", "chief")
    monkeypatch.setenv("HOTLINE_ADMIN_PASSWORD", STRONG)
    monkeypatch.setenv("HOTLINE_ADMIN_EMAIL", "chief@example.org")


def test_a_restart_of_the_demo_keeps_a_password_changed_by_the_admin(db: object) -> None:
    call_command("load_demo_city", *DEMO, stdout=io.StringIO())
    admin = User.objects.get(username="admin")
    assert admin.check_password("demo-12345")
    admin.set_password("a-new-secret-chosen-later")
    admin.roles = [Role.ADMIN, Role.AUDITOR]
    admin.save()

    call_command("load_demo_city", *DEMO, stdout=io.StringIO())  # what scripts/run.py does on every start

    admin.refresh_from_db()
    assert admin.check_password("a-new-secret-chosen-later")
    assert not admin.check_password("demo-12345")
    assert sorted(admin.roles) == sorted([Role.ADMIN, Role.AUDITOR])
    assert installation.purpose() == "demo"


def test_the_demo_refuses_a_database_set_up_for_production(db: object, admin_env: None) -> None:
    call_command("init_production", "--no-input", stdout=io.StringIO())
    with translation.override("en"), pytest.raises(CommandError, match="set up for production"):
        call_command("load_demo_city", *DEMO, stdout=io.StringIO())
    assert not Agency.objects.exists()
    assert list(User.objects.values_list("username", flat=True)) == ["chief"]


def test_production_refuses_a_database_holding_the_demo(db: object, admin_env: None) -> None:
    installation.do_mark(installation.DEMO)
    with translation.override("en"), pytest.raises(CommandError, match="holds the demo city"):
        call_command("init_production", "--no-input", stdout=io.StringIO())
    assert Installation.objects.get().purpose == "demo"
    assert not User.objects.exists()


def test_the_first_administrator_comes_from_the_environment_once(db: object, admin_env: None) -> None:
    call_command("init_production", "--no-input", stdout=io.StringIO())
    chief = User.objects.get(username="chief")
    assert chief.check_password(STRONG) and chief.is_superuser and chief.is_staff
    assert chief.roles == [Role.ADMIN] and chief.email == "chief@example.org"
    assert installation.purpose() == "production"

    chief.set_password("changed-after-the-first-start")
    chief.save()
    out = io.StringIO()
    call_command("init_production", "--no-input", stdout=out)  # every start runs it again
    chief.refresh_from_db()
    assert chief.check_password("changed-after-the-first-start")
    assert "left unchanged" in out.getvalue()
    assert User.objects.count() == 1


def test_an_existing_user_of_that_name_is_never_overwritten(db: object, admin_env: None) -> None:
    user = User.objects.create_user("chief", password="their-own-password-1")
    call_command("init_production", "--no-input", stdout=io.StringIO())
    user.refresh_from_db()
    assert user.check_password("their-own-password-1") and not user.is_superuser


def test_a_weak_administrator_password_is_refused(db: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_ADMIN_USERNAME", "chief")
    monkeypatch.setenv("HOTLINE_ADMIN_PASSWORD", "12345678")
    with translation.override("en"), pytest.raises(CommandError, match="password is too weak"):
        call_command("init_production", "--no-input", stdout=io.StringIO())
    assert not User.objects.exists()


def test_without_the_variables_it_says_how_to_add_an_administrator(db: object, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOTLINE_ADMIN_USERNAME", "HOTLINE_ADMIN_PASSWORD", "HOTLINE_ADMIN_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    err = io.StringIO()
    call_command("init_production", "--no-input", stdout=io.StringIO(), stderr=err)
    assert "HOTLINE_ADMIN_USERNAME" in err.getvalue()
    assert not User.objects.exists() and installation.purpose() == "production"


def test_the_first_administrator_is_recorded(db: object, admin_env: None) -> None:
    call_command("init_production", "--no-input", stdout=io.StringIO())
    chief = User.objects.get(username="chief")
    # No person acted: the creation is announced to listeners but carries no actor in the audit log.
    assert not AuditEntry.objects.filter(target_type="user", target_id=chief.pk).exists()


def test_on_a_terminal_without_the_variables_it_asks_for_the_first_administrator(
    db: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The person at the keyboard is the one thing outside the machine: their answers are given here.
    for name in ("HOTLINE_ADMIN_USERNAME", "HOTLINE_ADMIN_PASSWORD", "HOTLINE_ADMIN_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter(["chief", "", "chief2", "chief@example.org"])
    passwords = iter(["12345678", "12345678", STRONG, STRONG])
    monkeypatch.setattr("builtins.input", lambda _prompt="": next(answers))
    monkeypatch.setattr("getpass.getpass", lambda _prompt="": next(passwords))
    err = io.StringIO()
    call_command("init_production", stdout=io.StringIO(), stderr=err)
    assert err.getvalue()  # the weak password was refused and the questions asked again
    assert list(User.objects.values_list("username", flat=True)) == ["chief2"]
    assert User.objects.get(username="chief2").check_password(STRONG)
