"""The socket command's write path: prepared lock and visibility statements, and the answers commands get."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.utils import translation

from callcenter.actions import do_create_ticket
from callcenter.models import Ticket
from core.errors import NotFound
from dispatch.access import may_see_work_order, visible_work_orders
from dispatch.actions import do_dispatch_ticket, do_sign_work_order
from dispatch.locks import lock_work_order
from dispatch.models import TimelineEntry, WorkOrder
from dispatch.socket_commands import run_command
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


def test_an_id_beyond_any_integer_column_is_not_found(world: World) -> None:
    for huge in (2**63, -(2**63) - 1, 2**70):
        message = {"type": "act", "request_id": "h", "work_order": huge, "action": "note", "fields": {"note": "x"}}
        assert run_command(world.users["handler_a"], message)["code"] == "not_found"
        bad_input = {**message, "fields": {"note": ""}}
        assert run_command(world.users["dispatcher"], bad_input)["code"] == "not_found"


def test_locking_an_out_of_range_id_is_not_found(world: World) -> None:
    for huge in (2**63, -(2**63) - 1):
        with transaction.atomic(), pytest.raises(NotFound):
            lock_work_order(huge)
        assert may_see_work_order(world.users["dispatcher"], huge) is False
