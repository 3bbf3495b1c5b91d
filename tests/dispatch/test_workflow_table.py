"""Walk every (state, action) pair of the workflow table through the HTTP API.

Pairs the table allows succeed and write a timeline row; every other pair answers 409
``transition_not_allowed`` and changes nothing (state, timeline, events). A row whose guard never holds in
the state (``Guard.fails_in``: no reply while a return awaits the centre's decision) answers 409 with the
guard's code instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from callcenter.models import Ticket
from dispatch import workflow
from dispatch.models import TimelineEntry, WorkOrder
from dispatch.workflow import Machine
from organisation.models import Role
from realtime.models import Event
from tests.conftest import World, ticket_payload


def _ok(response: Any) -> dict:
    assert response.status_code in (200, 201), response.content
    return response.json()


class Builder:
    """Drives a fresh ticket through the real API into a wanted state."""

    def __init__(self, world: World):
        self.world = world

    def post(self, who: str, url: str, body: dict | None = None) -> dict:
        return _ok(self.world.client(who).post(url, body or {}, format="json"))

    def ticket(self, state: str, *, supervised: bool = True) -> tuple[int, int | None]:
        """Returns (ticket id, lead work order id)."""
        ticket_id = self.post("operator", "/api/tickets/", ticket_payload())["id"]
        if state == "accepted":
            return ticket_id, None
        if state == "merged":
            master = self.post("operator", "/api/tickets/", ticket_payload(phone="13900002222"))["id"]
            self.post("operator", f"/api/tickets/{ticket_id}/merge/", {"master_id": master})
            return ticket_id, None
        if state == "cancelled":
            self.post("operator", f"/api/tickets/{ticket_id}/cancel/", {"reason": "误登记"})
            return ticket_id, None
        data = self.post(
            "dispatcher", f"/api/tickets/{ticket_id}/dispatch/", {"lead_agency_id": self.world.agency_a.pk}
        )
        wo = data["work_orders"][0]["id"]
        # An open supervision case early on lets answer_supervision be tried in every later state.
        if supervised:
            self.post("supervisor", f"/api/work-orders/{wo}/supervise/", {"instruction": "请按时办理"})
        path = {
            "dispatched": [],
            # Not a ticket state: the lead's return awaits the centre's decision (the ticket stays dispatched).
            "return_requested": ["return"],
            "returned": ["return", "approve_return"],
            "in_progress": ["sign"],
            "replied": ["sign", "reply"],
            "pending_revisit": ["sign", "reply", "approve"],
            "revisited": ["sign", "reply", "approve", "revisit_unsatisfied"],
            "closed": ["sign", "reply", "approve", "revisit_satisfied", "close"],
        }[state]
        for step in path:
            self.step(ticket_id, wo, step)
        return ticket_id, wo

    def step(self, ticket_id: int, wo: int, step: str) -> None:
        calls: dict[str, tuple[str, str, dict[str, Any]]] = {
            "sign": ("handler_a", f"/api/work-orders/{wo}/sign/", {}),
            "return": (
                "handler_a",
                f"/api/work-orders/{wo}/return/",
                {"reason": "非本单位职责", "legal_basis": "三定方案"},
            ),
            "approve_return": ("dispatcher", f"/api/work-orders/{wo}/approve_return/", {"reason": "同意退回"}),
            "reply": ("handler_a", f"/api/work-orders/{wo}/reply/", {"reply": "已处理", "outcome": "resolved"}),
            "approve": ("dispatcher", f"/api/work-orders/{wo}/approve/", {}),
            "revisit_unsatisfied": (
                "operator",
                f"/api/tickets/{ticket_id}/revisit/",
                {"satisfaction": "unsatisfied", "resolved": False},
            ),
            "revisit_satisfied": (
                "operator",
                f"/api/tickets/{ticket_id}/revisit/",
                {"satisfaction": "satisfied", "resolved": True},
            ),
            "close": ("operator", f"/api/tickets/{ticket_id}/close/", {}),
        }
        who, url, body = calls[step]
        self.post(who, url, body)

    def work_order(self, state: str, *, supervised: bool = True) -> tuple[int, int]:
        by_ticket_state = {
            "pending_sign": "dispatched",
            "handling": "in_progress",
            "return_requested": "return_requested",
            "replied": "replied",
            "approved": "pending_revisit",
            "returned": "returned",
            "closed": "closed",
            "cancelled": "dispatched",
        }
        ticket_id, wo = self.ticket(by_ticket_state[state], supervised=supervised)
        assert wo is not None
        if state == "cancelled":
            self.post("dispatcher", f"/api/work-orders/{wo}/cancel/", {"reason": "撤回"})
        return ticket_id, wo


def _who_for(case: workflow.TableWalkCase) -> str:
    """A user the row allows; for pairs not in the table, one allowed elsewhere, so a refusal is about state."""
    roles = (
        case.row.roles
        if case.row
        else next(row.roles for row in workflow.table() if row.machine == case.machine and row.action == case.action)
    )
    for role, user in (
        (Role.OPERATOR, "operator"),
        (Role.DISPATCHER, "dispatcher"),
        (Role.SUPERVISOR, "supervisor"),
        (Role.AGENCY_HANDLER, "handler_a"),
    ):
        if role in roles:
            return user
    raise AssertionError(f"no test user for {case.action}")


def _body(action: str, world: World, ticket_id: int) -> dict[str, Any]:
    future = (timezone.now() + dt.timedelta(days=90)).isoformat()
    other = Builder(world).ticket("accepted")[0] if action == "merge" else None
    bodies: dict[str, dict[str, Any]] = {
        "resolve_directly": {"answer": "已答复"},
        "dispatch": {"lead_agency_id": world.agency_b.pk},
        "redispatch": {"lead_agency_id": world.agency_b.pk},
        "merge": {"master_id": other},
        "cancel": {"reason": "撤销"},
        "revisit": {"satisfaction": "satisfied", "resolved": True},
        "redo": {"note": "重办"},
        "close": {"note": "办结"},
        "sign": {},
        "return": {"reason": "非本单位职责", "legal_basis": "三定方案"},
        "approve_return": {"reason": "同意退回"},
        "reject_return": {"reason": "属于本单位职责，请继续办理"},
        "correct": {"urgency": "urgent", "reason": "核实后为紧急诉求"},
        "note": {"note": "进展"},
        "reply": {"reply": "已处理", "outcome": "resolved"},
        "approve": {},
        "send_back": {"note": "请补充"},
        "request_extension": {"reason": "需要更多时间", "requested_due_at": future},
        "approve_extension": {"note": "同意"},
        "reject_extension": {"note": "不同意"},
        "urge": {"note": "请加快"},
        "supervise": {"instruction": "督办"},
        "answer_supervision": {"answer": "已说明"},
        "escalate": {"type": "fire", "level": "IV"},
        "transfer": {"line": "119", "override_reason": "现场已起火"},
    }
    return bodies[action]


def _url(machine: Machine, object_id: int, action: str) -> str:
    base = "tickets" if machine == Machine.TICKET else "work-orders"
    return f"/api/{base}/{object_id}/{action}/"


def _snapshot(machine: Machine, object_id: int) -> tuple[str, int, int]:
    model = Ticket if machine == Machine.TICKET else WorkOrder
    return model.objects.get(pk=object_id).state, TimelineEntry.objects.count(), Event.objects.count()


# Ticket and work-order pairs; the unit pairs are walked by tests/emergency/test_units_workflow.py.
PAIRS = [case for machine in (Machine.TICKET, Machine.WORK_ORDER) for case in workflow.every_pair(machine)]


@pytest.mark.parametrize("case", PAIRS, ids=[f"{c.machine.value}:{c.state}:{c.action}" for c in PAIRS])
def test_every_state_action_pair(world: World, case: workflow.TableWalkCase) -> None:
    builder = Builder(world)
    if case.machine == Machine.TICKET:
        ticket_id, _wo = builder.ticket(case.state, supervised=case.action != "supervise")
        object_id = ticket_id
    else:
        ticket_id, object_id = builder.work_order(case.state, supervised=case.action != "supervise")
        if case.action in ("approve_extension", "reject_extension") and case.state == "handling":
            builder.post(
                "handler_a",
                f"/api/work-orders/{object_id}/request_extension/",
                {"reason": "需协调", "requested_due_at": (timezone.now() + dt.timedelta(days=60)).isoformat()},
            )
    body = _body(case.action, world, ticket_id)
    before = _snapshot(case.machine, object_id)
    response = world.client(_who_for(case)).post(_url(case.machine, object_id, case.action), body, format="json")
    blocking = [guard for guard in case.row.guards if case.state in guard.fails_in] if case.row else []
    if case.row is None or blocking:
        assert response.status_code == 409, response.content
        assert response.json()["code"] == (blocking[0].code if blocking else "transition_not_allowed")
        assert _snapshot(case.machine, object_id) == before
    else:
        assert response.status_code == 200, response.content
        _state, timeline_rows, events = _snapshot(case.machine, object_id)
        assert timeline_rows > before[1]
        assert events > before[2]
        latest = TimelineEntry.objects.filter(action=case.action, machine=case.machine).order_by("-id").first()
        assert latest is not None and latest.from_state == case.state
        if case.row.target is not None:
            assert latest.to_state == case.row.target
        if case.row.resumes:
            # The built work order was awaiting sign-off when its agency asked to return it.
            assert latest.to_state == "pending_sign" and latest.to_state in case.row.resumes


def test_table_has_no_unreachable_public_action() -> None:
    for machine in Machine:
        for action in workflow.actions(machine):
            assert any(c.row for c in workflow.every_pair(machine) if c.action == action)


def test_system_rows_cannot_be_called_over_the_api(world: World) -> None:
    _ticket_id, wo = Builder(world).work_order("approved")
    for action in ("create", "close", "redo"):
        response = world.client("admin").post(f"/api/work-orders/{wo}/{action}/", {}, format="json")
        assert response.status_code in (404, 405)
    assert WorkOrder.objects.get(pk=wo).state == "approved"


def test_a_role_outside_the_row_is_refused_with_403_and_nothing_changes(world: World) -> None:
    ticket_id, wo = Builder(world).work_order("pending_sign")
    before = _snapshot(Machine.WORK_ORDER, wo)
    response = world.client("operator").post(f"/api/work-orders/{wo}/sign/", {}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    response = world.client("agencyadmin_a").post(f"/api/tickets/{ticket_id}/cancel/", {"reason": "x"}, format="json")
    assert response.status_code == 403
    assert _snapshot(Machine.WORK_ORDER, wo) == before


def test_a_role_that_can_never_act_gets_403_whatever_the_state(world: World) -> None:
    ticket_id, wo = Builder(world).work_order("pending_sign")
    # The handler may never dispatch: the answer must not reveal that the ticket is already dispatched.
    response = world.client("handler_a").post(
        f"/api/tickets/{ticket_id}/dispatch/", {"lead_agency_id": world.agency_b.pk}, format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    response = world.client("operator").post(
        f"/api/work-orders/{wo}/reply/", {"reply": "x", "outcome": "resolved"}, format="json"
    )
    assert response.status_code == 403
