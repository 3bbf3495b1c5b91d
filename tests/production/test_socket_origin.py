"""A socket's Origin is checked by scheme, host and port: a page on another port or scheme of the same host
cannot open a socket with the user's cookies (Channels' AllowedHostsOriginValidator compared the host only)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client

from config.asgi import application
from config.security import socket_origins
from organisation.models import User
from tests.conftest import World
from tests.second_factor import verified_login

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10  # seconds a handshake may take (a failure, not a sleep)


def _cookie_for(user: User) -> bytes:
    client = verified_login(Client(), user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _handshake(user: User, origin: str, host: str = "127.0.0.1:8000", scheme: str = "ws") -> bool:
    cookie = await database_sync_to_async(_cookie_for)(user)
    headers = [(b"cookie", cookie), (b"host", host.encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(application, "/ws/events/", headers=headers)
    communicator.scope["scheme"] = scheme
    connected, _code = await communicator.connect(timeout=WAIT)
    await communicator.disconnect()
    return bool(connected)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        ("http://127.0.0.1:8000", True),  # a configured origin (CSRF_TRUSTED_ORIGINS)
        ("http://localhost:8000", True),  # the same, by its other name
        ("http://localhost:3000", False),  # the finding: same host, another port
        ("http://127.0.0.1:8001", False),
        ("https://127.0.0.1:8000", False),  # another scheme
        ("http://evil.example", False),
        ("null", False),
        ("", False),  # no Origin at all
    ],
)
async def test_only_the_exact_origin_may_open_a_socket(world: World, origin: str, accepted: bool) -> None:
    assert await _handshake(world.users["operator"], origin) is accepted


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_page_on_the_servers_own_origin_may_open_one(world: World) -> None:
    # Not configured, but the socket's own origin (its Host, on a host in ALLOWED_HOSTS), as Django's CSRF check.
    operator = world.users["operator"]
    assert await _handshake(operator, "http://127.0.0.1:9123", host="127.0.0.1:9123")
    assert not await _handshake(operator, "http://127.0.0.1:9123", host="127.0.0.1:9124")
    assert not await _handshake(operator, "https://127.0.0.1:9123", host="127.0.0.1:9123")
    assert await _handshake(operator, "https://127.0.0.1:9123", host="127.0.0.1:9123", scheme="wss")
    assert not await _handshake(operator, "http://elsewhere.example:80", host="elsewhere.example")  # not allowed


def test_the_configured_origins_come_from_the_trusted_origins_and_hosts() -> None:
    trusted, hosts = ["https://hotline.example.org", "https://*.example.net"], ["hotline.example.org", ".x.cn"]
    assert socket_origins(trusted, hosts, secure_only=True) == ["https://hotline.example.org:443"]
    assert socket_origins([], ["a.example"], secure_only=False) == ["https://a.example:443", "http://a.example:80"]
    assert "http://127.0.0.1:8000" in settings.HOTLINE["SOCKET_ORIGINS"]


# --- with a real client against Daphne -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_daphne(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    daphne = str(Path(sys.executable).with_name("daphne"))
    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1", "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}", **env}
    process = subprocess.Popen(
        [daphne, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(process.stdout.read().decode() if process.stdout else "daphne exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, port
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet; the readiness check, not synchronisation
    process.kill()
    raise TimeoutError("daphne did not start")


@pytest.fixture
def daphne(tmp_path: Path) -> Iterator[int]:
    # The Origin is refused before anything touches the database: an empty folder of its own is enough.
    process, port = _start_daphne({"HOTLINE_VAR_DIR": str(tmp_path), "SQLITE_PATH": str(tmp_path / "none.sqlite3")})
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _status(port: int, origin: str, headers: dict[str, str] | None = None) -> int:
    try:
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws/events/", additional_headers={"Origin": origin, **(headers or {})}
        ):
            return 101
    except websockets.InvalidStatus as refused:
        return int(refused.response.status_code)


def test_daphne_refuses_another_port_or_scheme_with_403(daphne: int) -> None:
    for origin in (f"http://127.0.0.1:{daphne + 1}", f"https://127.0.0.1:{daphne}", "http://localhost:3000"):
        assert asyncio.run(_status(daphne, origin)) == 403, origin


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_daphne_accepts_the_right_origin_and_refuses_another_port(world: World, tmp_path: Path) -> None:
    from organisation.identity.tokens import issue_token

    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    process, port = _start_daphne({"DATABASE_URL": url, "HOTLINE_VAR_DIR": str(tmp_path)})
    try:
        token = {"Authorization": f"Token {issue_token(world.users['operator'])[1]}"}
        assert asyncio.run(_status(port, f"http://127.0.0.1:{port}", token)) == 101
        assert asyncio.run(_status(port, f"http://127.0.0.1:{port + 1}", token)) == 403
    finally:
        process.terminate()
        process.wait(timeout=30)
