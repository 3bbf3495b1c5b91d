"""Every revocation closes the user's live sockets: a token revoked or expired, a logout, a password change, a
deactivation. Real sockets through the ASGI application (in-memory layer here, channels_redis on the
PostgreSQL + Redis pass); each test waits for the close itself."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from knox.models import AuthToken

from config.asgi import application
from core import clock
from organisation.identity.tokens import issue_token
from organisation.models import Role, User
from tests.conftest import World
from tests.second_factor import confirmed_device, verified_login

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stop_hubs")]
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
WAIT = 20  # the longest a test waits for the close that must come (a failure, not a sleep)
CLOSED = {"type": "websocket.close", "code": 4003}


async def _open(headers: list[tuple[bytes, bytes]]) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, "/ws/events/", headers=[ORIGIN, *headers])
    connected, _code = await socket.connect(timeout=WAIT)
    assert connected
    while json.loads(await socket.receive_from(timeout=WAIT))["kind"] != "live":
        pass
    return socket


async def _closed(socket: WebsocketCommunicator) -> dict[str, Any]:
    """Wait for the socket's close, passing over any event sent before it."""
    while True:
        message = await socket.receive_output(timeout=WAIT)
        if message["type"] == "websocket.close":
            return dict(message)


def _session(user: User) -> tuple[Client, tuple[bytes, bytes]]:
    client = verified_login(Client(), user)
    return client, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def _change_password(user_id: int) -> None:
    user = User.objects.get(pk=user_id)
    user.set_password("a-new-horse-24680")
    user.save()


def _deactivate(user_id: int) -> None:
    user = User.objects.get(pk=user_id)
    user.is_active = False
    user.save()


@pytest.mark.parametrize("revoke", ["logout", "password", "deactivate"])
async def test_a_session_socket_closes_on_logout_password_change_and_deactivation(world: World, revoke: str) -> None:
    operator = world.users["operator"]
    client, cookie = await database_sync_to_async(_session)(operator)
    socket = await _open([cookie])
    bystander = await _open([(await database_sync_to_async(_session)(world.users["dispatcher"]))[1]])
    action: dict[str, Callable[[], Any]] = {
        "logout": lambda: client.post("/accounts/logout/"),
        "password": lambda: _change_password(operator.pk),
        "deactivate": lambda: _deactivate(operator.pk),
    }
    await database_sync_to_async(action[revoke])()
    assert await _closed(socket) == CLOSED
    # Someone else's socket stays open and answers.
    await bystander.send_to(text_data=json.dumps({"type": "ping"}))
    assert json.loads(await bystander.receive_from(timeout=WAIT))["kind"] == "pong"
    await bystander.disconnect()


def _expire(digest: str) -> None:
    AuthToken.objects.filter(digest=digest).update(expiry=clock.now() - dt.timedelta(seconds=1))


def _api_logout(key: str) -> int:
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    return int(client.post("/api/auth/logout/").status_code)


@pytest.mark.parametrize("revoke", ["logout", "expired", "password", "deactivate"])
async def test_a_token_socket_closes_when_its_token_is_revoked_or_expires(world: World, revoke: str) -> None:
    dispatcher = world.users["dispatcher"]
    token, key = await database_sync_to_async(issue_token)(dispatcher)
    socket = await _open([(b"authorization", f"Token {key}".encode())])
    other_token = (await database_sync_to_async(issue_token)(world.users["operator"]))[1]
    bystander = await _open([(b"authorization", f"Token {other_token}".encode())])
    if revoke == "logout":
        assert await database_sync_to_async(_api_logout)(key) == 204
    elif revoke == "expired":
        await database_sync_to_async(_expire)(token.digest)
    elif revoke == "password":
        await database_sync_to_async(_change_password)(dispatcher.pk)
    else:
        await database_sync_to_async(_deactivate)(dispatcher.pk)
    assert await _closed(socket) == CLOSED
    await bystander.send_to(text_data=json.dumps({"type": "ping"}))
    assert json.loads(await bystander.receive_from(timeout=WAIT))["kind"] == "pong"
    await bystander.disconnect()


async def test_a_revoked_token_opens_no_socket(world: World) -> None:
    _token, key = await database_sync_to_async(issue_token)(world.users["operator"])
    assert await database_sync_to_async(_api_logout)(key) == 204
    socket = WebsocketCommunicator(
        application, "/ws/events/", headers=[ORIGIN, (b"authorization", f"Token {key}".encode())]
    )
    connected, code = await socket.connect(timeout=WAIT)
    assert not connected and code == 4001


async def test_a_session_that_owes_the_second_factor_opens_no_socket(world: World) -> None:
    supervisor = world.users["supervisor"]

    def unverified() -> tuple[bytes, bytes]:
        confirmed_device(supervisor)
        client = Client()
        client.force_login(supervisor)
        return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())

    socket = WebsocketCommunicator(
        application, "/ws/events/", headers=[ORIGIN, await database_sync_to_async(unverified)()]
    )
    connected, code = await socket.connect(timeout=WAIT)
    assert not connected and code == 4001
    verified = await _open([(await database_sync_to_async(_session)(supervisor))[1]])
    await verified.disconnect()


def _add_role(user_id: int, role: str) -> None:
    user = User.objects.get(pk=user_id)
    user.roles = [*user.roles, role]
    user.save()


async def test_a_session_socket_closes_when_a_new_role_needs_the_second_factor(world: World) -> None:
    """The operator's socket sees the same events as a supervisor's (both centre), but a supervisor needs the
    second factor, which this session never gave: the socket closes, as it could not open now."""
    operator = world.users["operator"]

    def plain_session() -> tuple[bytes, bytes]:
        client = Client()
        client.force_login(operator)  # an operator needs no second factor and has no device
        return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())

    socket = await _open([await database_sync_to_async(plain_session)()])
    bystander = await _open([(await database_sync_to_async(_session)(world.users["dispatcher"]))[1]])
    await database_sync_to_async(_add_role)(operator.pk, Role.SUPERVISOR)
    assert await _closed(socket) == CLOSED
    await bystander.send_to(text_data=json.dumps({"type": "ping"}))
    assert json.loads(await bystander.receive_from(timeout=WAIT))["kind"] == "pong"
    await bystander.disconnect()
