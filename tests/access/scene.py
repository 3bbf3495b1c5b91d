"""The objects an access test runs against: one or two agencies' tickets, driven through the real actions
to the state a test needs, and a snapshot of everything a refused request must leave alone.

Ownership only matters for agency users: lane ``a`` is dispatched to agency_a, lane ``b`` to agency_b.
agency_a's caller asked for confidentiality, agency_b's did not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.utils import timezone

from callcenter import actions as intake
from callcenter.models import KnowledgeArticle, Phrase, Ticket
from dispatch import actions as dispatching
from dispatch.actions import tickets as ticket_actions
from dispatch.models import ExtensionRequest, SupervisionCase, TimelineEntry, WorkOrder
from organisation.models import AuditEntry
from realtime.models import Event
from tests.conftest import World, ticket_payload

PHONE_E164 = "+8613812341234"
PHONE_NATIONAL = "13812341234"
PHONE_MASKED = "138****1234"
SECRET_NAME = "王保密"  # agency_a's caller asked for confidentiality
OPEN_NAME = "李公开"  # agency_b's caller did not

CENTRE = ("operator", "dispatcher", "commander", "supervisor", "auditor", "admin")
AGENCY_USERS = {"handler_a": "a", "agencyadmin_a": "a", "handler_b": "b"}
ROLES = (*CENTRE, *AGENCY_USERS, "nobody", "anonymous")


@dataclasses.dataclass
class Scene:
    world: World
    tickets: dict[str, Ticket]  # lane ("a" / "b") -> ticket
    work_orders: dict[str, WorkOrder]  # lane -> its work order (absent while a ticket is only accepted)
    master: Ticket | None = None
    article: KnowledgeArticle | None = None


def _handler(world: World, lane: str) -> Any:
    return world.users["handler_a" if lane == "a" else "handler_b"]


def new_ticket(world: World, lane: str) -> Ticket:
    name, confidential = (SECRET_NAME, True) if lane == "a" else (OPEN_NAME, False)
    ticket, created = intake.do_create_ticket(
        ticket_payload(caller_name=name, caller_confidential=confidential, title=f"工单{lane}"),
        actor=world.users["operator"],
    )
    assert created
    return ticket


def _advance(world: World, lane: str, ticket: Ticket, state: str) -> WorkOrder | None:
    """Drive one ticket through the real actions to the wanted scenario state."""
    users = world.users
    if state == "accepted":
        return None
    agency = world.agency_a if lane == "a" else world.agency_b
    dispatching.do_dispatch_ticket(
        ticket.pk, actor=users["dispatcher"], lead_agency_id=agency.pk, instructions="请核实处理"
    )
    wo = WorkOrder.objects.get(ticket=ticket)
    handler = _handler(world, lane)
    if state == "pending_sign":
        pass
    elif state == "supervised":
        dispatching.do_supervise_work_order(wo.pk, actor=users["supervisor"], instruction="请说明进展")
    elif state in ("return_requested", "returned"):
        dispatching.do_return_work_order(wo.pk, actor=handler, reason="不属于本单位职责", legal_basis="三定方案")
        if state == "returned":
            dispatching.do_approve_return(wo.pk, actor=users["dispatcher"], reason="同意退回")
    else:
        dispatching.do_sign_work_order(wo.pk, actor=handler)
        if state == "extension_pending":
            dispatching.do_request_extension(
                wo.pk, actor=handler, reason="需协调", requested_due_at=timezone.now() + dt.timedelta(days=120)
            )
        elif state != "handling":
            dispatching.do_reply_work_order(wo.pk, actor=handler, reply="已处理", outcome="resolved")
            if state != "replied":
                dispatching.do_approve_work_order(wo.pk, actor=users["dispatcher"])
                if state == "revisited_unsatisfied":
                    ticket_actions.do_revisit_ticket(
                        ticket.pk, actor=users["operator"], satisfaction="unsatisfied", resolved=False
                    )
                elif state == "revisited_satisfied":
                    ticket_actions.do_revisit_ticket(
                        ticket.pk, actor=users["operator"], satisfaction="satisfied", resolved=True
                    )
                else:
                    assert state == "pending_revisit", state
    wo.refresh_from_db()
    return wo


def build_scene(
    world: World, state: str | None, *, master: bool = False, article: bool = False, lanes: tuple[str, ...] = ("a", "b")
) -> Scene:
    tickets: dict[str, Ticket] = {}
    work_orders: dict[str, WorkOrder] = {}
    if state is not None:
        for lane in lanes:
            tickets[lane] = new_ticket(world, lane)
            wo = _advance(world, lane, tickets[lane], state)
            if wo is not None:
                work_orders[lane] = wo
            tickets[lane].refresh_from_db()
    scene = Scene(world, tickets, work_orders)
    if master:
        scene.master = new_ticket(world, "b")
    if article:
        scene.article = intake.do_save_article(
            {
                "code": "kb-garbage-times",
                "title": "城区生活垃圾清运时间安排",
                "body": "城区生活垃圾每日清运两次，清运时间为早上6点至8点和晚上7点至9点。",
                "subjects": ["t-garbage"],
                "keywords": "垃圾 清运 时间",
            }
        )
    return scene


def snapshot() -> dict[str, Any]:
    """Everything a refused request must leave alone."""
    return {
        "tickets": sorted(Ticket.objects.values_list("id", "state")),
        "work_orders": sorted(WorkOrder.objects.values_list("id", "state", "urge_count")),
        "timeline": TimelineEntry.objects.count(),
        "audit": AuditEntry.objects.count(),
        "extensions": sorted(ExtensionRequest.objects.values_list("id", "state")),
        "supervision": sorted(SupervisionCase.objects.values_list("id", "state")),
        "articles": sorted(KnowledgeArticle.objects.values_list("id", "code", "title")),
        "phrases": sorted(Phrase.objects.values_list("id", "title", "active")),
        "events": Event.objects.count(),
    }


def future(days: int) -> str:
    return (timezone.now() + dt.timedelta(days=days)).isoformat()
