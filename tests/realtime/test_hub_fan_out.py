"""The hub's fan-out: each delivery reaches a socket as one message, its audience's events in id order."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from realtime import hub as hub_module
from realtime.audience import Audience
from realtime.events import append_events
from realtime.hub import Hub, Subscriber, encode_event
from realtime.models import Event
from realtime.queries import latest_event_id
from tests.conftest import World

pytestmark = pytest.mark.asyncio

AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
CENTRE = Audience(1, centre=True, agency_id=None)
AGENCY_10 = Audience(2, centre=False, agency_id=10)
AGENCY_20 = Audience(3, centre=False, agency_id=20)


def _event(pk: int, agency_ids: list[int], event_type: str = "ticket.changed") -> Event:
    return Event(pk=pk, type=event_type, payload={"n": pk}, ticket_id=None, agency_ids=agency_ids, created_at=AT)


def _subscriber(audience: Audience, log: list[dict[str, Any]], buffering: bool = False) -> Subscriber:
    async def send(text: str) -> None:
        log.append(json.loads(text))

    async def close(code: int) -> None:
        raise AssertionError("not closed in these tests")

    return Subscriber(audience=audience, session_key=None, send=send, close=close, buffering=buffering)


def _ids(log: list[dict[str, Any]]) -> list[list[int]]:
    """Per message, the ids of the events it carries."""
    return [
        [event["id"] for event in message["events"]] if message["kind"] == "events" else [message["id"]]
        for message in log
    ]


async def test_a_burst_reaches_each_socket_as_one_message_with_only_its_audiences_events() -> None:
    hub = Hub()
    centre: list[dict[str, Any]] = []
    agency_10: list[dict[str, Any]] = []
    agency_20: list[dict[str, Any]] = []
    for audience, log in ((CENTRE, centre), (AGENCY_10, agency_10), (AGENCY_20, agency_20)):
        hub.add(_subscriber(audience, log))
    burst = [_event(5, [10]), _event(6, [20]), _event(7, [10, 20]), _event(8, [10], "caller.revealed")]
    await hub.fan_out(burst)
    assert _ids(centre) == [[5, 6, 7, 8]]
    assert _ids(agency_10) == [[5, 7]]  # never agency 20's event, never a centre-only type
    assert _ids(agency_20) == [[6, 7]]
    # Each event in an "events" message is exactly the "event" message it would have been on its own.
    assert centre[0]["kind"] == "events" and centre[0]["events"] == [json.loads(encode_event(e)) for e in burst]
    # A delivery with one event for an audience sends that event as it is.
    await hub.fan_out([_event(9, [20])])
    assert agency_20[-1] == json.loads(encode_event(_event(9, [20]))) and _ids(agency_10) == [[5, 7]]


async def test_events_held_during_the_replay_go_out_together_without_those_replayed() -> None:
    hub = Hub()
    log: list[dict[str, Any]] = []
    replaying = _subscriber(CENTRE, log, buffering=True)
    hub.add(replaying)
    await hub.fan_out([_event(5, []), _event(6, [])])
    await hub.fan_out([_event(7, [])])
    assert log == []  # held while the log is replayed
    await replaying.go_live(replayed_up_to=5)  # the replay already sent 5
    await hub.fan_out([_event(8, [])])
    assert _ids(log) == [[6, 7], [8]]


async def test_a_delivery_to_many_sockets_lets_the_event_loop_run_between_sends() -> None:
    hub = Hub()
    logs: list[list[dict[str, Any]]] = [[] for _ in range(3 * hub_module.SENDS_PER_TURN)]
    for log in logs:
        hub.add(_subscriber(CENTRE, log))
    served_meanwhile: list[int] = []

    async def another_socket() -> None:  # e.g. a handshake or a command waiting for the loop
        served_meanwhile.append(sum(1 for log in logs if log))

    other = asyncio.get_running_loop().create_task(another_socket())
    await hub.fan_out([_event(5, [])])
    await other
    assert 0 < served_meanwhile[0] < len(logs)  # it ran during the delivery, not before or after it
    assert all(_ids(log) == [[5]] for log in logs)


async def test_a_socket_going_live_during_a_delivery_does_not_also_get_what_its_replay_sent() -> None:
    hub = Hub()
    for _ in range(2 * hub_module.SENDS_PER_TURN):  # a delivery long enough to let other sockets run
        hub.add(_subscriber(CENTRE, []))
    log: list[dict[str, Any]] = []
    replaying = _subscriber(AGENCY_10, log, buffering=True)
    hub.add(replaying)
    # Its replay has already sent event 5; it goes live while the delivery of event 5 is under way.
    going_live = asyncio.get_running_loop().create_task(replaying.go_live(replayed_up_to=5))
    await hub.fan_out([_event(5, [10])])
    await going_live
    await hub.fan_out([_event(6, [10])])
    assert _ids(log) == [[6]]


@pytest.mark.django_db(transaction=True)
async def test_a_backlog_bigger_than_one_read_is_read_on_at_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "BATCH", 2)

    def commit_five() -> list[int]:
        with transaction.atomic():
            events = append_events(
                "caller.revealed", [({"ticket_id": n, "actor_id": 1}, n, [], None) for n in range(5)]
            )
        return [event.pk for event in events]

    hub = Hub()
    hub.last_id = await database_sync_to_async(latest_event_id)()
    log: list[dict[str, Any]] = []
    hub.add(_subscriber(CENTRE, log))
    ids = await database_sync_to_async(commit_five)()
    woken = []
    while await hub.deliver_new():
        woken.append(hub.wake.is_set())  # a full read wakes the hub again, without a ring or the poll
        hub.wake.clear()
    assert woken == [True, True, False]
    assert _ids(log) == [ids[0:2], ids[2:4], ids[4:5]]


async def test_a_hub_behind_the_replay_does_not_send_the_replayed_events_again() -> None:
    """The fault drill's finding: a socket replayed the log up to 9 on a hub that had read only up to 5 (it had
    just started, or a database restart slowed it); the hub then read 6..10 and sent 6..9 a second time."""
    hub = Hub()
    hub.last_id = 5
    log: list[dict[str, Any]] = []
    socket = _subscriber(CENTRE, log, buffering=True)
    hub.add(socket)
    # The replay after the client's position 3 sent 4, 6, 8, 9 (5 is another audience's, 7 not committed yet).
    await socket.go_live(9, start=3, sent={4, 6, 8, 9})
    hub.last_id = 10
    await hub.fan_out([_event(6, []), _event(7, []), _event(8, []), _event(9, []), _event(10, [])])
    assert _ids(log) == [[7, 10]]  # the late 7 and the new 10; nothing twice
    await hub.fan_out([_event(11, [])])
    assert _ids(log) == [[7, 10], [11]]


async def test_after_a_snapshot_only_what_is_newer_than_the_snapshot_is_sent() -> None:
    hub = Hub()
    log: list[dict[str, Any]] = []
    socket = _subscriber(CENTRE, log, buffering=True)
    hub.add(socket)
    await hub.fan_out([_event(5, []), _event(7, [])])
    await socket.go_live(6)  # a snapshot stamped 6
    assert _ids(log) == [[7]]
    await hub.fan_out([_event(6, []), _event(8, [])])  # a hub behind the snapshot
    assert _ids(log) == [[7], [8]]
