"""`manage.py check --deploy` is clean with the documented production variables (README "Production settings")."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: The documented production environment (README "Production settings"; docker/compose.yml sets the same).
PRODUCTION_ENV = {
    "HOTLINE_PRODUCTION": "1",
    "ALLOWED_HOSTS": "hotline.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://hotline.example.org",
}


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "DJANGO_", "DEBUG"))}
    base.pop("ALLOWED_HOSTS", None)
    base.pop("CSRF_TRUSTED_ORIGINS", None)
    base["HOTLINE_VAR_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_check_deploy_is_clean_with_the_production_variables(tmp_path: Path) -> None:
    key = secrets.token_urlsafe(60)
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV, DJANGO_SECRET_KEY=key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_them_check_deploy_names_what_is_missing(tmp_path: Path) -> None:
    result = _manage(tmp_path, "check", "--deploy", "--tag", "security")
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HOTLINE_PRODUCTION": "1"}, "DJANGO_SECRET_KEY"),
        ({"HOTLINE_PRODUCTION": "1", "DJANGO_SECRET_KEY": "x" * 60, "DEBUG": "1"}, "DEBUG"),
    ],
)
def test_production_refuses_a_missing_key_or_debug(tmp_path: Path, env: dict[str, str], message: str) -> None:
    result = _manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
