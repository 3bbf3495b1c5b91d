"""The socket command's fast path: prepared lock and visibility statements, the ack on the wire, the ring after it."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import translation

from callcenter.actions import do_create_ticket
from callcenter.models import Ticket
from dispatch import clock
from dispatch.access import may_see_work_order, visible_work_orders
from dispatch.actions import do_dispatch_ticket, do_sign_work_order
from dispatch.errors import NotFound
from dispatch.locks import lock_work_order
from dispatch.models import TimelineEntry, WorkOrder
from dispatch.prepared import PreparedInsert, PreparedQuery, PreparedUpdate
from realtime import consumers, doorbell
from realtime.commands import run_command
from realtime.consumers import EventsConsumer
from realtime.events import append_event, ring_held
from realtime.models import Event
from realtime.wire import SCOPE_KEY
from tests.conftest import World, ticket_payload


def _dispatched(world: World, agency_pk: int, phone: str = "13900000021") -> WorkOrder:
    ticket, _ = do_create_ticket(ticket_payload(phone=phone), actor=world.users["operator"])
    do_dispatch_ticket(ticket.pk, actor=world.users["dispatcher"], lead_agency_id=agency_pk)
    return WorkOrder.objects.get(ticket=ticket)


def _fields(instance: Any) -> dict[str, Any]:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_locked_rows_are_the_rows_the_orm_reads(world: World) -> None:
    work_order = _dispatched(world, world.agency_a.pk)
    do_sign_work_order(work_order.pk, actor=world.users["handler_a"])  # sets a datetime that was empty
    with transaction.atomic():
        ticket, locked = lock_work_order(work_order.pk)
        assert ticket._state.adding is False and locked._state.db == "default"
    assert _fields(ticket) == _fields(Ticket.objects.get(pk=work_order.ticket_id))
    assert _fields(locked) == _fields(WorkOrder.objects.get(pk=work_order.pk))
    assert locked.signed_at is not None and locked.signed_at.tzinfo is not None
    # The subject and agency are no longer joined in, but still there when an action needs them.
    assert ticket.subject.pk == ticket.subject_id and locked.agency.pk == world.agency_a.pk


def test_locking_a_missing_work_order_is_not_found(world: World) -> None:
    with transaction.atomic(), pytest.raises(NotFound):
        lock_work_order(987654)


def test_may_see_work_order_agrees_with_visible_work_orders(world: World) -> None:
    own = _dispatched(world, world.agency_a.pk)
    foreign = _dispatched(world, world.agency_b.pk, phone="13900000022")
    for name, user in world.users.items():
        for work_order_id in (own.pk, foreign.pk, 987654):
            expected = visible_work_orders(user).filter(pk=work_order_id).exists()
            assert may_see_work_order(user, work_order_id) is expected, (name, work_order_id)
    assert may_see_work_order(world.users["handler_a"], own.pk) is True
    assert may_see_work_order(world.users["handler_a"], foreign.pk) is False


def test_prepared_queries_refuse_what_they_cannot_run_like_the_orm(world: World) -> None:
    joined: PreparedQuery[WorkOrder] = PreparedQuery(
        WorkOrder, lambda pk: WorkOrder.objects.select_related("agency").filter(pk=pk), arity=1
    )
    with pytest.raises(ValueError):
        joined.rows(1)
    missing_value: PreparedQuery[WorkOrder] = PreparedQuery(WorkOrder, lambda pk: WorkOrder.objects.all(), arity=1)
    with pytest.raises(ValueError):
        missing_value.rows(1)


def test_held_ring_marks_a_commit_due_instead_of_ringing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    rings: list[str] = []
    monkeypatch.setattr(doorbell, "ring", lambda: rings.append("ring"))
    with ring_held() as held:
        with transaction.atomic():
            append_event("caller.revealed", {"ticket_id": 1, "actor_id": 1}, ticket_id=1)
            append_event("caller.revealed", {"ticket_id": 2, "actor_id": 1}, ticket_id=2)
        assert held.due is False  # the test's own transaction has not committed yet
    assert rings == []  # not even once the test's transaction ends: the holder rings


@pytest.mark.django_db(transaction=True)
def test_held_ring_is_due_only_after_a_commit(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    rings: list[str] = []
    monkeypatch.setattr(doorbell, "ring", lambda: rings.append("ring"))
    with ring_held() as rolled_back, pytest.raises(RuntimeError), transaction.atomic():
        append_event("caller.revealed", {"ticket_id": 1, "actor_id": 1}, ticket_id=1)
        raise RuntimeError("roll back")
    assert rolled_back.due is False
    with ring_held() as committed, transaction.atomic():
        append_event("caller.revealed", {"ticket_id": 2, "actor_id": 1}, ticket_id=2)
    assert committed.due is True and rings == []
    with transaction.atomic():  # outside ring_held, the doorbell rings by itself again
        append_event("caller.revealed", {"ticket_id": 3, "actor_id": 1}, ticket_id=3)
    assert rings == ["ring"]


class _Wire:
    """Stands in for realtime.wire.DaphneWire: records the frames written to the connection."""

    def __init__(self, log: list[Any]) -> None:
        self.log = log
        self.open = True

    def write(self, frames: bytes) -> None:
        self.log.append(("wire", frames))


def _payload_of_frame(frame: bytes) -> dict[str, Any]:
    assert frame[0] == 0x81  # one final text frame
    length = frame[1] & 0x7F
    start = 2 if length < 126 else 4
    return dict(json.loads(frame[start:].decode("utf-8")))


@pytest.mark.django_db(transaction=True)
def test_a_note_over_daphne_is_acked_on_the_wire_and_then_rings(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    work_order = _dispatched(world, world.agency_a.pk)
    do_sign_work_order(work_order.pk, actor=world.users["handler_a"])
    log: list[Any] = []
    monkeypatch.setattr(consumers.doorbell, "ring", lambda: log.append(("ring",)))
    consumer = EventsConsumer()
    consumer.scope = {"user": world.users["handler_a"], SCOPE_KEY: _Wire(log)}
    consumer.recent = []

    async def asgi_send(message: dict[str, Any]) -> None:
        log.append(("asgi", message))

    consumer.base_send = asgi_send
    events_before = Event.objects.count()
    message = {
        "type": "act",
        "request_id": "n1",
        "work_order": work_order.pk,
        "action": "note",
        "fields": {"note": "x"},
    }
    asyncio.run(consumer.receive(text_data=json.dumps(message)))
    assert [entry[0] for entry in log] == ["wire", "ring"]
    assert _payload_of_frame(log[0][1]) == {
        "kind": "ack",
        "request_id": "n1",
        "ok": True,
        "work_order": work_order.pk,
        "state": "handling",
    }
    assert Event.objects.count() == events_before + 1  # one event, committed before the ack and the one ring
    assert TimelineEntry.objects.filter(work_order=work_order, action="note").count() == 1

    # A refused command commits nothing and rings nothing; a closed wire falls back to ASGI.
    log.clear()
    consumer.scope[SCOPE_KEY].open = False
    refused = {**message, "request_id": "n2", "fields": {"note": ""}}
    asyncio.run(consumer.receive(text_data=json.dumps(refused)))
    assert [entry[0] for entry in log] == ["asgi"]
    answer = json.loads(log[0][1]["text"])
    assert answer["request_id"] == "n2" and answer["code"] == "invalid_input" and "note" in answer["fields"]


def test_lock_with_visible_to_finds_only_what_the_user_sees(world: World) -> None:
    own = _dispatched(world, world.agency_a.pk)
    with transaction.atomic():
        assert lock_work_order(own.pk, visible_to=world.users["handler_a"])[1].pk == own.pk
        assert lock_work_order(own.pk, visible_to=world.users["dispatcher"])[1].pk == own.pk
    for stranger in ("handler_b", "nobody"):
        with transaction.atomic(), pytest.raises(NotFound):
            lock_work_order(own.pk, visible_to=world.users[stranger])


def test_a_foreign_work_order_is_not_found_whatever_else_is_wrong(world: World) -> None:
    foreign = _dispatched(world, world.agency_b.pk)
    handler = world.users["handler_a"]
    past = "2000-01-01T00:00:00+08:00"
    commands = [
        ("note", {"note": "x"}),  # would succeed on an own work order
        ("note", {"note": ""}),  # refused by the input check
        ("request_extension", {"reason": "x", "requested_due_at": past}),  # refused by the action before locking
        ("sign", {}),
    ]
    for action, fields in commands:
        message = {"type": "act", "request_id": action, "work_order": foreign.pk, "action": action, "fields": fields}
        with translation.override("en"):
            answer = run_command(handler, message)
        assert answer == {
            "kind": "ack",
            "request_id": action,
            "ok": False,
            "code": "not_found",
            "message": "Not found.",
            "fields": {},
        }, (action, fields)
    assert TimelineEntry.objects.filter(work_order=foreign, actor=handler).count() == 0
    # The same commands on a work order the user sees get their own answers.
    own = _dispatched(world, world.agency_a.pk, phone="13900000023")
    seen = {"type": "act", "work_order": own.pk}
    blank = run_command(handler, {**seen, "request_id": "b", "action": "note", "fields": {"note": ""}})
    assert blank["code"] == "invalid_input" and "note" in blank["fields"]
    early = run_command(handler, {**seen, "request_id": "e", "action": "request_extension", "fields": commands[2][1]})
    assert early["code"] == "invalid_input" and "requested_due_at" in early["fields"]
    noted = run_command(handler, {**seen, "request_id": "n", "action": "note", "fields": {"note": "x"}})
    assert noted["code"] == "transition_not_allowed"  # not signed yet: the workflow table says no


def test_prepared_insert_and_update_write_what_the_orm_writes(world: World) -> None:
    work_order = _dispatched(world, world.agency_a.pk, phone="13900000024")
    at = clock.now()
    handler = world.users["handler_a"]
    values = {
        "ticket_id": work_order.ticket_id,
        "work_order": work_order,
        "machine": "work_order",
        "action": "note",
        "from_state": "pending_sign",
        "to_state": "pending_sign",
        "actor": handler,
        "actor_agency_id": handler.agency_id,
        "note": "已联系市民",
        "data": {"outcome": "solved", "list": [1, "二"]},
        "created_at": at,
    }
    with transaction.atomic():
        prepared = PreparedInsert(TimelineEntry).insert(TimelineEntry(**values))
        by_orm = TimelineEntry.objects.create(**values)
    assert prepared.pk is not None and prepared.pk != by_orm.pk and prepared._state.adding is False
    read_back = {key: value for key, value in _fields(TimelineEntry.objects.get(pk=prepared.pk)).items() if key != "id"}
    assert read_back == {key: value for key, value in _fields(by_orm).items() if key != "id"}
    assert read_back["data"] == values["data"] and read_back["created_at"] == at

    # NULLs and values, in both orders (Django writes NULL into the SQL, so each pattern is its own statement).
    updater = PreparedUpdate(WorkOrder)
    for replied_at, reply_text in ((at, "答复"), (None, ""), (at, "再次答复")):
        work_order.replied_at, work_order.reply_text, work_order.updated_at = replied_at, reply_text, at
        with transaction.atomic():
            assert updater.update(work_order, ["replied_at", "reply_text", "updated_at"]) == 1
        fresh = WorkOrder.objects.get(pk=work_order.pk)
        assert (fresh.replied_at, fresh.reply_text, fresh.updated_at) == (replied_at, reply_text, at)
        assert _fields(fresh) == _fields(work_order)
    ghost = WorkOrder(pk=987654, updated_at=at)
    with transaction.atomic():
        assert updater.update(ghost, ["updated_at"]) == 0


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_commands_run_in_the_thread_database_sync_to_async_uses() -> None:
    here = threading.get_ident()
    fast = await consumers._in_database_thread(threading.get_ident)
    assert fast != here  # never on the event loop's thread
    assert fast == await database_sync_to_async(threading.get_ident)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_async_to_sync_inside_a_command_returns_to_the_servers_loop() -> None:
    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    loop_seen = await consumers._in_database_thread(lambda: async_to_sync(running_loop)())
    assert loop_seen is asyncio.get_running_loop()


def test_an_id_beyond_any_integer_column_is_not_found(world: World) -> None:
    for huge in (2**63, -(2**63) - 1, 2**70):
        message = {"type": "act", "request_id": "h", "work_order": huge, "action": "note", "fields": {"note": "x"}}
        assert run_command(world.users["handler_a"], message)["code"] == "not_found"
        bad_input = {**message, "fields": {"note": ""}}
        assert run_command(world.users["dispatcher"], bad_input)["code"] == "not_found"


def test_an_out_of_range_id_on_a_query_never_compiled_is_no_rows(world: World) -> None:
    never_run: PreparedQuery[WorkOrder] = PreparedQuery(WorkOrder, lambda pk: WorkOrder.objects.filter(pk=pk), arity=1)
    assert never_run.instances(2**63) == []
    ticket, _created = do_create_ticket(ticket_payload(), actor=world.users["operator"])
    do_dispatch_ticket(
        ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk, override_reason="x"
    )
    work_order = WorkOrder.objects.get(ticket=ticket)
    assert [found.pk for found in never_run.instances(work_order.pk)] == [work_order.pk]
