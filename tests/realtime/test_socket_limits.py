"""Limits of the live socket (issue #18): sockets per user, and a snapshot instead of a long replay."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from realtime.models import Event
from tests.conftest import World
from tests.realtime.test_events_socket import _connect, _events, _scenario, _until

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stop_hubs")]


async def test_a_user_holds_at_most_the_configured_number_of_live_sockets(world: World, settings: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "MAX_SOCKETS_PER_USER": 2}
    operator = world.users["operator"]
    first, first_ok, _ = await _connect(operator)
    second, second_ok, _ = await _connect(operator)
    assert first_ok and second_ok
    await _until(first, "live")
    await _until(second, "live")
    third, third_ok, _ = await _connect(operator)
    assert third_ok  # accepted, then closed with the code that says why
    output = await third.receive_output(timeout=10)
    assert output == {"type": "websocket.close", "code": 4009}
    # Another user is not counted against the operator.
    other, other_ok, _ = await _connect(world.users["dispatcher"])
    assert other_ok and (await _until(other, "live"))[-1]["kind"] == "live"
    # A closed socket frees its place.
    await first.disconnect()
    again, again_ok, _ = await _connect(operator)
    assert again_ok and (await _until(again, "live"))[-1]["kind"] == "live"
    for socket in (second, third, other, again):
        await socket.disconnect()


async def test_a_client_further_behind_than_the_replay_limit_gets_a_snapshot(world: World, settings: Any) -> None:
    await database_sync_to_async(_scenario)(world)
    ids = await database_sync_to_async(lambda: list(Event.objects.order_by("id").values_list("id", flat=True)))()
    assert len(ids) > 4
    settings.HOTLINE = {**settings.HOTLINE, "REPLAY_MAX_EVENTS": 3}
    behind, connected, _ = await _connect(world.users["operator"], f"?last_event_id={ids[0]}")
    assert connected
    messages = await _until(behind, "live")
    assert [m["kind"] for m in messages if m["kind"] == "snapshot"] == ["snapshot"] and not _events(messages)
    # Within the limit the log is replayed as before.
    near, connected, _ = await _connect(world.users["operator"], f"?last_event_id={ids[-3]}")
    messages = await _until(near, "live")
    assert [m["id"] for m in _events(messages)] == ids[-2:]
    for socket in (behind, near):
        await socket.disconnect()
