"""Return review (退单审核): an agency's return is a request the centre approves or rejects.

While it waits the agency stays responsible: its clocks run on, the ticket keeps its state, it may not reply
or ask for more time; the centre may still urge and supervise.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from callcenter.models import TicketState
from core import clock
from dispatch import workflow
from dispatch.models import Responsibility, Stage, StageClock, TimelineEntry, WorkOrder, WorkOrderState
from dispatch.socket_commands import run_command
from realtime.models import Event
from tests.conftest import World, ticket_payload
from tests.pinned_time import WORKDAY_MORNING

RETURN = {"reason": "不属于本单位职责", "legal_basis": "《柳州市城市市容和环境卫生管理条例》"}


def _post(world: World, who: str, url: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
    response = world.client(who).post(url, body or {}, format="json")
    assert response.status_code == status, response.content
    return response.json()


def _dispatched(world: World, *, agency: int | None = None) -> tuple[int, int]:
    ticket = _post(world, "operator", "/api/tickets/", ticket_payload(), status=201)
    data = _post(
        world,
        "dispatcher",
        f"/api/tickets/{ticket['id']}/dispatch/",
        {"lead_agency_id": agency or world.agency_a.pk},
    )
    return ticket["id"], data["work_orders"][0]["id"]


def _ticket_state(world: World, ticket_id: int) -> str:
    return str(world.client("operator").get(f"/api/tickets/{ticket_id}/").json()["state"])


def _running(work_order_id: int, stage: str) -> StageClock:
    return StageClock.objects.get(work_order_id=work_order_id, stage=stage, stopped_at__isnull=True)


def _last_event(action: str) -> dict[str, Any]:
    event = Event.objects.filter(type="work_order.changed", payload__action=action).order_by("-id").first()
    assert event is not None, action
    return dict(event.payload)


def test_a_return_waits_for_the_centre_then_approval_returns_the_ticket_for_redispatch(world: World) -> None:
    with clock.pinned_at(WORKDAY_MORNING):
        ticket_id, wo = _dispatched(world)
        sign_clock = _running(wo, Stage.SIGN)

        requested = _post(world, "handler_a", f"/api/work-orders/{wo}/return/", RETURN)
        assert requested["state"] == "return_requested"
        assert requested["return_reason"] == RETURN["reason"]
        # The agency is still responsible: the sign clock runs on, the ticket stays dispatched.
        assert _running(wo, Stage.SIGN).pk == sign_clock.pk
        assert _ticket_state(world, ticket_id) == "dispatched"
        assert _last_event("return")["to_state"] == "return_requested"
        assert set(requested["available_actions"]) <= {"answer_supervision"}
        centre = world.client("dispatcher").get(f"/api/work-orders/{wo}/").json()
        assert {"approve_return", "reject_return", "urge", "cancel"} <= set(centre["available_actions"])

        approved = _post(
            world, "dispatcher", f"/api/work-orders/{wo}/approve_return/", {"reason": "核实属实，同意退回"}
        )
        assert approved["state"] == "returned" and approved["finished_at"] is not None
        assert not StageClock.objects.filter(work_order_id=wo, stopped_at__isnull=True).exists()
        assert StageClock.objects.get(pk=sign_clock.pk).stopped_by == "approve_return"
        assert _ticket_state(world, ticket_id) == "returned"
        event = _last_event("approve_return")
        assert (event["from_state"], event["to_state"]) == ("return_requested", "returned")
        row = TimelineEntry.objects.filter(work_order_id=wo, action="approve_return").get()
        assert row.data == {"reason": "核实属实，同意退回"} and row.actor == world.users["dispatcher"]
        follow = TimelineEntry.objects.filter(ticket_id=ticket_id, action="follow_work_orders").last()
        assert follow is not None and (follow.from_state, follow.to_state) == ("dispatched", "returned")

        # Re-dispatch to another agency works as before; the routing leaves out the one that returned it.
        again = _post(
            world, "dispatcher", f"/api/tickets/{ticket_id}/redispatch/", {"lead_agency_id": world.agency_b.pk}
        )
        assert again["state"] == "dispatched"
        assert sorted(w["state"] for w in again["work_orders"]) == ["pending_sign", "returned"]


def test_a_rejected_return_goes_back_to_handling_with_the_same_deadline(world: World) -> None:
    with clock.pinned_at(WORKDAY_MORNING):
        ticket_id, wo = _dispatched(world)
        _post(world, "handler_a", f"/api/work-orders/{wo}/sign/")
        handle = _running(wo, Stage.HANDLE)
        assert handle.due_at is not None
        _post(world, "handler_a", f"/api/work-orders/{wo}/return/", RETURN)
        assert _ticket_state(world, ticket_id) == "in_progress"

        # Meanwhile: no reply, no extension request (the guard's own code); urging and supervising go on.
        reply = world.client("handler_a").post(
            f"/api/work-orders/{wo}/reply/", {"reply": "已处理", "outcome": "resolved"}, format="json"
        )
        assert reply.status_code == 409 and reply.json()["code"] == "return_pending"
        extension = world.client("handler_a").post(
            f"/api/work-orders/{wo}/request_extension/",
            {"reason": "需协调", "requested_due_at": (handle.due_at + dt.timedelta(days=30)).isoformat()},
            format="json",
        )
        assert extension.status_code == 409 and extension.json()["code"] == "return_pending"
        note = world.client("handler_a").post(f"/api/work-orders/{wo}/note/", {"note": "进展"}, format="json")
        assert note.status_code == 409 and note.json()["code"] == "transition_not_allowed"
        urged = _post(world, "dispatcher", f"/api/work-orders/{wo}/urge/", {"note": "请尽快处理"})
        assert urged["urge_count"] == 1 and urged["state"] == "return_requested"
        _post(world, "supervisor", f"/api/work-orders/{wo}/supervise/", {"instruction": "请说明情况"})
        assert WorkOrder.objects.get(pk=wo).state == "return_requested"

        rejected = _post(
            world, "dispatcher", f"/api/work-orders/{wo}/reject_return/", {"reason": "属于本单位职责，请继续办理"}
        )
        assert rejected["state"] == "handling"
        assert rejected["return_reason"] == "" and rejected["return_legal_basis"] == ""
        # The same clock, still running, with the same deadline.
        after = _running(wo, Stage.HANDLE)
        assert after.pk == handle.pk and after.due_at == handle.due_at
        assert _ticket_state(world, ticket_id) == "in_progress"
        event = _last_event("reject_return")
        assert (event["from_state"], event["to_state"]) == ("return_requested", "handling")
        # The agency reads why on its own timeline.
        agency_timeline = world.client("handler_a").get(f"/api/work-orders/{wo}/timeline/").json()
        last = [row for row in agency_timeline if row["action"] == "reject_return"][-1]
        assert last["note"] == "属于本单位职责，请继续办理"
        assert (last["from_state"], last["to_state"]) == ("return_requested", "handling")

        replied = _post(
            world, "handler_a", f"/api/work-orders/{wo}/reply/", {"reply": "已清运完毕", "outcome": "resolved"}
        )
        assert replied["state"] == "replied"
        assert _ticket_state(world, ticket_id) == "replied"


def test_a_rejected_return_before_signing_goes_back_to_awaiting_sign_off(world: World) -> None:
    with clock.pinned_at(WORKDAY_MORNING):
        ticket_id, wo = _dispatched(world)
        sign = _running(wo, Stage.SIGN)
        _post(world, "handler_a", f"/api/work-orders/{wo}/return/", RETURN)
        rejected = _post(world, "admin", f"/api/work-orders/{wo}/reject_return/", {"reason": "请先签收核实"})
        assert rejected["state"] == "pending_sign"
        assert _running(wo, Stage.SIGN).pk == sign.pk and _running(wo, Stage.SIGN).due_at == sign.due_at
        assert _ticket_state(world, ticket_id) == "dispatched"
        assert _post(world, "handler_a", f"/api/work-orders/{wo}/sign/")["state"] == "handling"
        # It may ask again, and be approved this time.
        _post(world, "handler_a", f"/api/work-orders/{wo}/return/", RETURN)
        assert _post(world, "dispatcher", f"/api/work-orders/{wo}/approve_return/")["state"] == "returned"


def test_only_the_centre_decides_and_other_agencies_see_nothing(world: World) -> None:
    _ticket_id, wo = _dispatched(world)
    before = TimelineEntry.objects.count()
    # A foreign agency cannot even find the work order.
    foreign = world.client("handler_b").post(f"/api/work-orders/{wo}/return/", RETURN, format="json")
    assert foreign.status_code == 404
    _post(world, "handler_a", f"/api/work-orders/{wo}/return/", RETURN)
    assert TimelineEntry.objects.count() == before + 1
    for who, action in (
        ("handler_b", "approve_return"),
        ("handler_b", "reject_return"),
    ):
        response = world.client(who).post(f"/api/work-orders/{wo}/{action}/", {"reason": "x"}, format="json")
        assert response.status_code == 404, (who, action)
    for who in ("handler_a", "agencyadmin_a", "operator", "supervisor", "commander", "auditor"):
        for action in ("approve_return", "reject_return"):
            response = world.client(who).post(f"/api/work-orders/{wo}/{action}/", {"reason": "x"}, format="json")
            assert response.status_code == 403 and response.json()["code"] == "permission_denied", (who, action)
    assert WorkOrder.objects.get(pk=wo).state == "return_requested"
    assert TimelineEntry.objects.count() == before + 1


def test_a_rejection_needs_a_reason(world: World) -> None:
    _ticket_id, wo = _dispatched(world)
    _post(world, "handler_a", f"/api/work-orders/{wo}/return/", RETURN)
    for body in ({}, {"reason": "  "}, {"reason": "长" * 5001}):
        response = world.client("dispatcher").post(f"/api/work-orders/{wo}/reject_return/", body, format="json")
        assert response.status_code == 400 and "reason" in response.json()["fields"], body
    bad_body = world.client("dispatcher").post(f"/api/work-orders/{wo}/approve_return/", [1], format="json")
    assert bad_body.status_code == 400
    assert WorkOrder.objects.get(pk=wo).state == "return_requested"


def test_a_decision_on_a_work_order_that_asked_nothing_is_a_conflict(world: World) -> None:
    _ticket_id, wo = _dispatched(world)
    response = world.client("dispatcher").post(f"/api/work-orders/{wo}/approve_return/", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "transition_not_allowed"
    _post(world, "handler_a", f"/api/work-orders/{wo}/return/", RETURN)
    again = world.client("handler_a").post(f"/api/work-orders/{wo}/return/", RETURN, format="json")
    assert again.status_code == 409 and again.json()["code"] == "transition_not_allowed"


def test_cancelling_the_ticket_withdraws_a_work_order_awaiting_a_return_decision(world: World) -> None:
    ticket_id, wo = _dispatched(world)
    _post(world, "handler_a", f"/api/work-orders/{wo}/return/", RETURN)
    cancelled = _post(world, "dispatcher", f"/api/tickets/{ticket_id}/cancel/", {"reason": "市民撤回诉求"})
    assert cancelled["state"] == "cancelled"
    assert WorkOrder.objects.get(pk=wo).state == "cancelled"
    assert not StageClock.objects.filter(work_order_id=wo, stopped_at__isnull=True).exists()


def test_the_socket_command_return_asks_for_review(world: World) -> None:
    _ticket_id, wo = _dispatched(world)
    answer = run_command(
        world.users["handler_a"],
        {"type": "act", "request_id": "r1", "work_order": wo, "action": "return", "fields": RETURN},
    )
    assert answer == {"kind": "ack", "request_id": "r1", "ok": True, "work_order": wo, "state": "return_requested"}
    refused = run_command(
        world.users["handler_a"],
        {
            "type": "act",
            "request_id": "r2",
            "work_order": wo,
            "action": "reply",
            "fields": {"reply": "x", "outcome": "resolved"},
        },
    )
    assert refused["ok"] is False and refused["code"] == "return_pending"


def _wo(state: str, *, lead: bool = True, signed: bool = False) -> WorkOrder:
    return WorkOrder(
        state=state,
        responsibility=Responsibility.LEAD if lead else Responsibility.CO_HANDLER,
        signed_at=WORKDAY_MORNING if signed else None,
    )


@pytest.mark.parametrize(
    ("work_orders", "expected"),
    [
        ([_wo("return_requested")], TicketState.DISPATCHED),
        ([_wo("return_requested", signed=True)], TicketState.IN_PROGRESS),
        ([_wo("return_requested"), _wo("pending_sign", lead=False)], TicketState.DISPATCHED),
        ([_wo("return_requested", signed=True), _wo("replied", lead=False, signed=True)], TicketState.IN_PROGRESS),
        ([_wo("replied", signed=True), _wo("return_requested", lead=False, signed=True)], TicketState.IN_PROGRESS),
        ([_wo("returned"), _wo("return_requested", lead=False)], TicketState.RETURNED),
    ],
)
def test_a_return_awaiting_review_still_counts_for_the_ticket(work_orders: list[WorkOrder], expected: str) -> None:
    assert workflow.ticket_state_from_work_orders(work_orders) == expected


def test_the_table_says_where_a_rejection_goes(world: World) -> None:
    rows = world.client("dispatcher").get("/api/workflow/").json()
    reject = next(r for r in rows if r["machine"] == "work_order" and r["action"] == "reject_return")
    assert reject["from"] == ["return_requested"] and reject["to"] is None
    assert reject["back_to"] == ["pending_sign", "handling"]
    ask = next(r for r in rows if r["machine"] == "work_order" and r["action"] == "return")
    assert ask["to"] == "return_requested" and ask["stops"] == []
    approve = next(r for r in rows if r["machine"] == "work_order" and r["action"] == "approve_return")
    assert approve["to"] == "returned" and approve["stops"] == ["sign", "handle"]
    assert WorkOrderState.RETURN_REQUESTED.label
