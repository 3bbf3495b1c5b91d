"""The live events socket: handshakes, scope, replay, snapshots, revocation, and publish-on-commit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from callcenter.actions import do_create_ticket, do_reveal_caller
from config.asgi import application
from dispatch.actions import do_dispatch_ticket, do_sign_work_order
from dispatch.models import WorkOrder
from organisation.models import User
from realtime import doorbell
from realtime.actions import do_prune_events
from realtime.events import EventItem, append_events
from realtime.hub import _hubs
from realtime.models import Event
from tests.conftest import World, ticket_payload
from tests.second_factor import verified_login
from tests.sockets import ORIGIN, session_cookie

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stop_hubs")]
WAIT = 10  # seconds a test waits for a message that must come (a failure, not a sleep)


async def _connect(
    user: User | None, query: str = "", origin: tuple[bytes, bytes] = ORIGIN
) -> tuple[WebsocketCommunicator, bool, Any]:
    headers = [origin]
    if user is not None:
        headers.append(await database_sync_to_async(session_cookie)(user))
    communicator = WebsocketCommunicator(application, f"/ws/events/{query}", headers=headers)
    connected, code = await communicator.connect(timeout=WAIT)
    return communicator, connected, code


async def _until(communicator: WebsocketCommunicator, kind: str) -> list[dict[str, Any]]:
    """Messages up to and including the first of the given kind."""
    seen = []
    while True:
        message = json.loads(await communicator.receive_from(timeout=WAIT))
        seen.append(message)
        if message["kind"] == kind:
            return seen


def _events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events among messages, those sent together in an "events" message included, in the order sent."""
    events = []
    for message in messages:
        if message["kind"] == "event":
            events.append(message)
        elif message["kind"] == "events":
            events.extend(message["events"])
    return events


async def _next_events(communicator: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events, however the server grouped them into messages."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        events += _events([json.loads(await communicator.receive_from(timeout=WAIT))])
    return events


def _scenario(world: World) -> dict[str, int]:
    """Every event type, touching both agencies, through the real actions."""
    users = world.users
    ticket_a, _ = do_create_ticket(ticket_payload(), actor=users["operator"])
    ticket_b, _ = do_create_ticket(ticket_payload(phone="13900000009"), actor=users["operator"])
    do_dispatch_ticket(ticket_a.pk, actor=users["dispatcher"], lead_agency_id=world.agency_a.pk)
    do_dispatch_ticket(ticket_b.pk, actor=users["dispatcher"], lead_agency_id=world.agency_b.pk)
    do_sign_work_order(ticket_b.work_orders.get().pk, actor=users["handler_b"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    from dispatch.attachments.actions import do_attach_to_work_order

    proof = SimpleUploadedFile("proof.pdf", b"%PDF-1.4\n%%EOF\n")
    do_attach_to_work_order(ticket_b.work_orders.get().pk, proof, actor=users["handler_b"])
    from dispatch.actions import do_correct_ticket

    do_correct_ticket(ticket_b.pk, actor=users["dispatcher"], reason="核实后为紧急诉求", urgency="urgent")
    do_reveal_caller(ticket_a.pk, actor=users["handler_a"], reason="需要联系市民核实")
    from dispatch.actions.tickets import do_merge_ticket

    duplicate, _ = do_create_ticket(ticket_payload(phone="13900000010"), actor=users["operator"])
    do_merge_ticket(duplicate.pk, actor=users["operator"], master_id=ticket_b.pk)
    from callcenter.actions import do_record_call_event

    for step in ("ringing", "answered", "ended"):
        do_record_call_event(
            {"call_id": f"PBX-{ticket_a.pk}", "event": step, "caller": "13812341234"}, actor=users["operator"]
        )
    _incident_scenario(world)
    from tests.emergency.unit_fixtures import unit_scenario

    unit_scenario(world)  # unit.moved for agency A's unit, unit.status_changed for agency B's
    from tests.dispatch.timer_fixtures import timer_scenario

    timer_scenario(world)  # work_order.escalated for agency B, work_order.deadline_unknown for agency A
    return {"a": ticket_a.pk, "b": ticket_b.pk}


def _incident_scenario(world: World) -> None:
    """Every incident event type; agency_a is linked to the first incident only."""
    from emergency import actions as emergency

    users = world.users
    body = {"type": "fire", "title": "火情", "latitude": 24.3126, "longitude": 109.4112}
    incident = emergency.do_report_incident(body, actor=users["commander"])
    duplicate = emergency.do_report_incident(body, actor=users["operator"])
    link = emergency.do_link_agency(
        incident.pk, {"agency_id": world.agency_a.pk, "task": "疏散"}, actor=users["commander"]
    )
    emergency.do_act_on_task(link.pk, "acknowledge", {}, actor=users["handler_a"])
    emergency.do_link_agency(duplicate.pk, {"agency_id": world.agency_b.pk, "task": "警戒"}, actor=users["commander"])
    emergency.do_transition_incident(duplicate.pk, "confirm", actor=users["commander"])
    emergency.do_merge_incident(duplicate.pk, actor=users["commander"], into_id=incident.pk)


async def test_anonymous_and_foreign_origin_handshakes_are_rejected(world: World) -> None:
    _communicator, connected, _code = await _connect(None)
    assert not connected
    _communicator, connected, _code = await _connect(
        world.users["operator"], origin=(b"origin", b"http://evil.example")
    )
    assert not connected
    _communicator, connected, _code = await _connect(world.users["nobody"])
    assert not connected


async def test_an_agency_socket_never_receives_another_agencys_events(world: World) -> None:
    await database_sync_to_async(_scenario)(world)
    everything = await database_sync_to_async(lambda: list(Event.objects.order_by("id")))()
    from realtime.schemas import EVENT_SCHEMAS

    assert {e.type for e in everything} == set(EVENT_SCHEMAS)  # every event type there is
    agency_socket, connected, _ = await _connect(world.users["handler_a"], "?last_event_id=0")
    assert connected
    centre_socket, connected, _ = await _connect(world.users["dispatcher"], "?last_event_id=0")
    assert connected
    agency_seen = _events(await _until(agency_socket, "live"))
    centre_seen = _events(await _until(centre_socket, "live"))
    expected_a = [e.pk for e in everything if world.agency_a.pk in e.agency_ids and e.type != "caller.revealed"]
    assert [m["id"] for m in agency_seen] == expected_a and expected_a
    assert [m["id"] for m in centre_seen] == [e.pk for e in everything]
    # Live events follow the same rule.
    await database_sync_to_async(_scenario)(world)
    after = await database_sync_to_async(lambda: list(Event.objects.filter(id__gt=everything[-1].pk).order_by("id")))()
    live_a = [e.pk for e in after if world.agency_a.pk in e.agency_ids and e.type != "caller.revealed"]
    received = [event["id"] for event in await _next_events(agency_socket, len(live_a))]
    assert received == live_a
    assert await agency_socket.receive_nothing(timeout=0.5)
    await agency_socket.disconnect()
    await centre_socket.disconnect()


async def test_replay_after_last_event_id_then_live_in_order(world: World) -> None:
    await database_sync_to_async(_scenario)(world)
    ids = await database_sync_to_async(lambda: list(Event.objects.order_by("id").values_list("id", flat=True)))()
    middle = ids[len(ids) // 2]
    socket, connected, _ = await _connect(world.users["operator"], f"?last_event_id={middle}")
    assert connected
    messages = await _until(socket, "live")
    assert messages[0]["kind"] == "hello"
    assert [m["id"] for m in _events(messages)] == [i for i in ids if i > middle]
    assert messages[-1]["last_event_id"] == ids[-1]
    ticket, _ = await database_sync_to_async(do_create_ticket)(ticket_payload(), actor=world.users["operator"])
    [live] = await _next_events(socket, 1)
    assert live["type"] == "ticket.created" and live["payload"]["ticket"]["id"] == ticket.pk and live["id"] > ids[-1]
    await socket.disconnect()


async def test_events_committed_together_reach_a_socket_as_one_message_in_id_order(world: World) -> None:
    socket, connected, _ = await _connect(world.users["operator"])
    assert connected
    await _until(socket, "live")

    def burst() -> list[int]:
        with transaction.atomic():
            items: list[EventItem] = [({"ticket_id": n, "actor_id": 1}, n, [], None) for n in (1, 2, 3)]
            return [event.pk for event in append_events("caller.revealed", items)]

    ids = await database_sync_to_async(burst)()
    message = json.loads(await socket.receive_from(timeout=WAIT))
    assert message["kind"] == "events" and [event["id"] for event in message["events"]] == ids
    assert {(event["kind"], event["type"]) for event in message["events"]} == {("event", "caller.revealed")}
    await socket.disconnect()


async def test_a_client_behind_the_pruned_log_gets_a_snapshot(world: World) -> None:
    await database_sync_to_async(_scenario)(world)
    from datetime import timedelta

    await database_sync_to_async(do_prune_events)(retention=timedelta(0))
    socket, connected, _ = await _connect(world.users["handler_a"], "?last_event_id=1")
    assert connected
    messages = await _until(socket, "live")
    snapshot = next(m for m in messages if m["kind"] == "snapshot")
    assert snapshot["as_of"] >= 1 and not _events(messages)
    assert {w["agency_id"] for w in snapshot["work_orders"]} == {world.agency_a.pk}
    assert [t["id"] for t in snapshot["tickets"]] == [w["ticket_id"] for w in snapshot["work_orders"]]
    await socket.disconnect()


async def test_sockets_close_when_the_user_logs_out_or_loses_the_role(world: World) -> None:
    operator = world.users["operator"]
    client = Client()
    await database_sync_to_async(verified_login)(client, operator)
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    socket = WebsocketCommunicator(application, "/ws/events/", headers=[ORIGIN, cookie])
    assert (await socket.connect(timeout=WAIT))[0]
    await _until(socket, "live")
    await database_sync_to_async(client.logout)()
    closed = await socket.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4003}

    handler = world.users["handler_a"]
    second, connected, _ = await _connect(handler)
    assert connected
    await _until(second, "live")

    def demote() -> None:
        User.objects.filter(pk=handler.pk).update(roles=[])

    await database_sync_to_async(demote)()
    assert await second.receive_output(timeout=5) == {"type": "websocket.close", "code": 4003}


async def test_ping_pong_and_inbound_limits(world: World) -> None:
    socket, connected, _ = await _connect(world.users["operator"])
    assert connected
    await _until(socket, "live")
    await socket.send_to(text_data=json.dumps({"type": "ping"}))
    assert json.loads(await socket.receive_from(timeout=WAIT)) == {"kind": "pong"}
    await socket.send_to(text_data="x" * 5000)
    assert await socket.receive_output(timeout=WAIT) == {"type": "websocket.close", "code": 4008}


async def test_an_agency_acts_over_the_socket_with_the_apis_rules(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dispatched() -> tuple[int, int]:
        ticket, _ = do_create_ticket(ticket_payload(), actor=world.users["operator"])
        do_dispatch_ticket(ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk)
        other, _ = do_create_ticket(ticket_payload(phone="13900000011"), actor=world.users["operator"])
        do_dispatch_ticket(other.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_b.pk)
        return ticket.work_orders.get().pk, other.work_orders.get().pk

    own, foreign = await database_sync_to_async(dispatched)()
    socket, connected, _ = await _connect(world.users["handler_a"])
    assert connected
    await _until(socket, "live")
    # Each ring records how many events there were when it rang (it runs where the commit happened).
    rings: list[int] = []
    real_ring = doorbell.ring

    def ring() -> None:
        rings.append(Event.objects.count())
        real_ring()

    monkeypatch.setattr(doorbell, "ring", ring)
    events_before = await database_sync_to_async(Event.objects.count)()

    async def act(**message: Any) -> dict[str, Any]:
        await socket.send_to(text_data=json.dumps({"type": "act", **message}))
        return (await _until(socket, "ack"))[-1]

    signed = await act(request_id="r1", work_order=own, action="sign", fields={})
    assert signed == {"kind": "ack", "request_id": "r1", "ok": True, "work_order": own, "state": "handling"}
    # Committed, and the doorbell rung once, before the ack went out.
    assert rings == [await database_sync_to_async(Event.objects.count)()] and rings[0] > events_before
    again = await act(request_id="r2", work_order=own, action="sign", fields={})
    assert again["ok"] is False and again["code"] == "transition_not_allowed"
    bad = await act(request_id="r3", work_order=own, action="return", fields={"reason": "x"})
    assert bad["code"] == "invalid_input" and "legal_basis" in bad["fields"]
    hidden = await act(request_id="r4", work_order=foreign, action="sign", fields={})
    assert hidden["code"] == "not_found"
    unknown = await act(request_id="r5", work_order=own, action="approve", fields={})
    assert unknown["code"] == "unknown_action"
    states = await database_sync_to_async(
        lambda: dict(WorkOrder.objects.filter(pk__in=[own, foreign]).values_list("pk", "state"))
    )()
    assert states == {own: "handling", foreign: "pending_sign"}
    assert len(rings) == 1  # the refused commands committed nothing, so they rang nothing
    await socket.disconnect()


async def test_many_sockets_connecting_at_once_start_one_hub(world: World) -> None:
    cookie = await database_sync_to_async(session_cookie)(world.users["operator"])
    sockets = [WebsocketCommunicator(application, "/ws/events/", headers=[ORIGIN, cookie]) for _ in range(8)]
    results = await asyncio.gather(*(s.connect(timeout=WAIT) for s in sockets))
    assert all(connected for connected, _ in results)
    hub = _hubs[asyncio.get_running_loop()]
    await asyncio.wait_for(hub.listening.wait(), timeout=WAIT)
    # One each: the doorbell, the log poll, the re-check of sockets, the revocation bell.
    assert hub.listen_starts == 1 and len(hub.tasks) == 4
    assert len(hub.subscribers) == 8
    for socket in sockets:
        await socket.disconnect()
