"""Typed phone numbers in what the live socket sends (an incident's title) reach agency screens masked, in the
snapshot, the replay and live events alike; centre screens receive them in full."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from tests.conftest import World
from tests.realtime.test_events_socket import _connect, _events, _next_events, _until

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stop_hubs")]

TITLE = "火情 报警人139-1234-5678"
TITLE_MASKED = "火情 报警人139****5678"


def _incident(world: World) -> int:
    from emergency import actions as emergency

    users = world.users
    body = {"type": "fire", "title": TITLE, "latitude": 24.3126, "longitude": 109.4112}
    incident = emergency.do_report_incident(body, actor=users["commander"])
    emergency.do_link_agency(incident.pk, {"agency_id": world.agency_a.pk, "task": "疏散"}, actor=users["commander"])
    return int(incident.pk)


def _confirm(incident_id: int, world: World) -> None:
    from emergency import actions as emergency

    emergency.do_transition_incident(incident_id, "confirm", actor=world.users["commander"])


def _titles(events: list[dict[str, Any]]) -> set[str]:
    return {event["payload"]["incident"]["title"] for event in events if "incident" in event["payload"]}


async def test_agency_sockets_receive_typed_numbers_masked(world: World) -> None:
    incident_id = await database_sync_to_async(_incident)(world)
    # The snapshot (no position given).
    socket, connected, _ = await _connect(world.users["handler_a"])
    assert connected
    messages = await _until(socket, "live")
    snapshot = next(m for m in messages if m["kind"] == "snapshot")
    assert [row["title"] for row in snapshot["incidents"]] == [TITLE_MASKED]
    await socket.disconnect()
    # The replay from the log, and a live event.
    agency, connected, _ = await _connect(world.users["handler_a"], "?last_event_id=0")
    assert connected
    centre, connected, _ = await _connect(world.users["commander"], "?last_event_id=0")
    assert connected
    replayed_agency = _events(await _until(agency, "live"))
    replayed_centre = _events(await _until(centre, "live"))
    assert _titles(replayed_agency) == {TITLE_MASKED}
    assert _titles(replayed_centre) == {TITLE}
    await database_sync_to_async(_confirm)(incident_id, world)
    (live_agency,) = await _next_events(agency, 1)
    (live_centre,) = await _next_events(centre, 1)
    assert live_agency["payload"]["incident"]["title"] == TITLE_MASKED
    assert live_centre["payload"]["incident"]["title"] == TITLE
    await agency.disconnect()
    await centre.disconnect()
