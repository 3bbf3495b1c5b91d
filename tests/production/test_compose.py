"""docker/compose.yml is the production cluster: valid YAML, every service's command exists, migrations and the
production set-up run once before the app, never the demo city; nginx sits in front with the socket upgrade."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands

DOCKER = Path(__file__).resolve().parents[2] / "docker"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((DOCKER / "compose.yml").read_text())
    return dict(compose["services"])


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:2] == ["sh", "-c"]:
        words = shlex.split(words[2])
    return words


def _manage_commands(words: list[str]) -> list[str]:
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word == "manage.py"]


def test_every_service_is_there(services: dict[str, Any]) -> None:
    assert {"db", "redis", "migrate", "web", "timers", "outbox", "nginx"} <= set(services)


def test_every_manage_py_command_exists(services: dict[str, Any]) -> None:
    known = get_commands()
    used = [
        name for service in services.values() if "command" in service for name in _manage_commands(_command(service))
    ]
    assert used and all(name in known for name in used), used


def test_migrations_and_the_production_set_up_run_once_before_the_app(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert _manage_commands(_command(migrate)) == ["migrate", "init_production"]
    assert migrate["restart"] == "no"
    for name in ("web", "timers", "outbox"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    commands = [" ".join(_command(service)) for service in services.values() if "command" in service]
    assert not [command for command in commands if "load_demo_city" in command]
    assert "load_demo_city" not in (DOCKER / "Dockerfile").read_text()


def test_the_app_runs_as_production_with_a_timer_worker_and_health_checks(services: dict[str, Any]) -> None:
    for name in ("migrate", "web", "timers", "outbox"):
        assert services[name]["environment"]["HOTLINE_PRODUCTION"].startswith("${HOTLINE_PRODUCTION:-1}")
    assert _manage_commands(_command(services["timers"])) == ["run_timers"]
    assert _manage_commands(_command(services["outbox"])) == ["run_outbox"]
    assert services["outbox"]["environment"] == services["timers"]["environment"]
    assert services["outbox"]["restart"] == services["timers"]["restart"] == "unless-stopped"
    assert services["outbox"]["depends_on"] == services["timers"]["depends_on"]
    assert "/health/live" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["nginx"]["depends_on"]["web"] == {"condition": "service_healthy"}
    for name in ("db", "redis", "web"):
        assert services[name]["healthcheck"]["test"], name
    admin = services["migrate"]["environment"]
    assert {"HOTLINE_ADMIN_USERNAME", "HOTLINE_ADMIN_PASSWORD", "HOTLINE_ADMIN_EMAIL"} <= set(admin)


def test_nginx_passes_socket_upgrades_and_the_scheme(services: dict[str, Any]) -> None:
    conf = (DOCKER / "nginx.conf").read_text()
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert "server web:8000" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header X-Forwarded-Proto" in conf
    assert "proxy_read_timeout 1h;" in conf


def test_the_image_holds_every_app() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    apps = ("config", "core", "organisation", "realtime", "gis", "callcenter", "dispatch", "emergency", "exchange")
    for app in (*apps, "demo"):
        assert f"COPY {app} ./{app}" in dockerfile, app
