"""Live-socket helpers shared by the tests that open /ws/events/ in-process (Channels' WebsocketCommunicator)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio
from django.test import Client

from organisation.models import User
from realtime.hub import _hubs
from tests.second_factor import verified_login

#: The Origin header of a page of this site (realtime/origin.py checks it).
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def session_cookie(user: User) -> tuple[bytes, bytes]:
    """The Cookie header of a browser logged in as the user (second factor given where the role needs it)."""
    client = Client()
    verified_login(client, user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


@pytest_asyncio.fixture
async def stop_hubs() -> AsyncIterator[None]:
    """Stop the event loop's hub after the test: the next test's loop starts its own."""
    yield
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()
