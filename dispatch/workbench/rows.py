"""What a row of the workbench shows: the ticket (caller masked for agencies), the work order, the clock that
matters with its highest card, and a queue's own detail (the pending extension, the open supervision case).

A page of rows costs a constant number of queries: the page itself (with its tickets, work orders and
agencies joined), its clocks, their escalations, and the page's extension requests or supervision cases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from callcenter.models import Channel, Ticket, TicketState, Urgency
from callcenter.serializers import presented_name, presented_phone
from core import clock
from core.redaction import mask_personal_numbers
from dispatch import workflow
from dispatch.models import (
    Escalation,
    EscalationLevel,
    ExtensionRequest,
    ExtensionState,
    Responsibility,
    Stage,
    StageClock,
    SupervisionCase,
    SupervisionState,
    WorkOrder,
    WorkOrderState,
)
from dispatch.workbench.queues import TICKET, WORK_ORDER, Queue
from dispatch.workflow import Machine
from organisation.models import User
from organisation.policy import sees_caller_details

LEVEL_RANK: dict[str, int] = {EscalationLevel.WARNING: 1, EscalationLevel.OVERDUE: 2, EscalationLevel.SERIOUS: 3}
TICKET_JOINS = ("ticket", "ticket__subject", "ticket__caller")


def iso(value: dt.datetime | None) -> str | None:
    """A time as ISO 8601 in the city's zone (Asia/Shanghai), or None."""
    return timezone.localtime(value).isoformat() if value else None


def label(choices: Any, code: str) -> str:
    return str(choices(code).label) if code in choices.values else code


def ticket_url(number: str) -> str:
    return f"/tickets/{number}/"


def ticket_brief(ticket: Ticket, *, full: bool) -> dict[str, Any]:
    """A ticket as a row shows it; ``full``: the viewer sees callers' details (the centre), else masked."""
    subject = ticket.subject
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "url": ticket_url(ticket.number),
        "title": ticket.title if full else mask_personal_numbers(ticket.title),
        "state": ticket.state,
        "state_label": label(TicketState, ticket.state),
        "urgency": ticket.urgency,
        "urgency_label": label(Urgency, ticket.urgency),
        "channel": ticket.channel,
        "channel_label": label(Channel, ticket.channel),
        "subject": {"code": subject.code, "name": subject.display_name, "path": subject.display_path},
        "address": ticket.address,
        "caller_phone": presented_phone(ticket.caller.phone if ticket.caller else "", full),
        "caller_name": presented_name(ticket.caller_name, ticket.caller_confidential, full),
        "created_at": iso(ticket.created_at),
    }


class UrgeCheck:
    """Whether the viewer may urge a work order in its state: the workflow table's word (guards aside)."""

    def __init__(self, user: User) -> None:
        self.user = user
        self._seen: dict[tuple[str, int], bool] = {}

    def __call__(self, work_order: WorkOrder) -> bool:
        key = (work_order.state, work_order.agency_id)
        if key not in self._seen:
            allowed = workflow.available_actions(
                Machine.WORK_ORDER, work_order.state, self.user, agency_id=work_order.agency_id
            )
            self._seen[key] = "urge" in allowed
        return self._seen[key]


def work_order_brief(work_order: WorkOrder, may_urge: UrgeCheck) -> dict[str, Any]:
    agency = work_order.agency
    return {
        "id": work_order.pk,
        "number": work_order.number,
        "state": work_order.state,
        "state_label": label(WorkOrderState, work_order.state),
        "responsibility": work_order.responsibility,
        "responsibility_label": label(Responsibility, work_order.responsibility),
        "agency": {"id": agency.pk, "code": agency.code, "name": agency.display_name},
        "urge_count": work_order.urge_count,
        "may_urge": may_urge(work_order),
    }


def highest_levels(clock_ids: Iterable[int]) -> dict[int, str]:
    """The highest fired escalation of each clock (warning < yellow < red), one query."""
    levels: dict[int, str] = {}
    for clock_id, level in Escalation.objects.filter(clock_id__in=list(clock_ids)).values_list("clock_id", "level"):
        if LEVEL_RANK.get(level, 0) > LEVEL_RANK.get(levels.get(clock_id, ""), 0):
            levels[clock_id] = level
    return levels


def clock_brief(row: StageClock, level: str | None, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": row.pk,
        "stage": row.stage,
        "stage_label": label(Stage, row.stage),
        "started_at": iso(row.started_at),
        "due_at": iso(row.due_at),
        "warn_at": iso(row.warn_at),
        "due_provisional": row.due_provisional,
        "due_error": row.due_error,
        "overdue": row.due_at is not None and row.due_at < now,
        "level": level,
        "level_label": label(EscalationLevel, level) if level else "",
    }


def clocks_by_id(clock_ids: Sequence[int | None]) -> dict[int, dict[str, Any]]:
    """The given clocks, presented, with their highest card: two queries."""
    ids = [i for i in clock_ids if i]
    if not ids:
        return {}
    now = clock.now()
    levels = highest_levels(ids)
    return {row.pk: clock_brief(row, levels.get(row.pk), now) for row in StageClock.objects.filter(pk__in=ids)}


def with_joins(kind: str, rows: QuerySet[Any]) -> QuerySet[Any]:
    """The queue's queryset with what its rows show joined in."""
    if kind == TICKET:
        return rows.select_related("subject", "caller")
    if kind == WORK_ORDER:
        return rows.select_related("agency", *TICKET_JOINS)
    return rows.select_related("work_order", "work_order__agency", *TICKET_JOINS)


def _details(queue: Queue, items: Sequence[Any]) -> dict[int, dict[str, Any]]:
    work_order_ids = [item.pk for item in items]
    if queue.detail == "return_request":
        return {wo.pk: {"reason": wo.return_reason, "legal_basis": wo.return_legal_basis} for wo in items}
    if queue.detail == "extension":
        requests = ExtensionRequest.objects.filter(work_order_id__in=work_order_ids, state=ExtensionState.PENDING)
        return {
            r.work_order_id: {
                "id": r.pk,
                "reason": r.reason,
                "requested_due_at": iso(r.requested_due_at),
                "previous_due_at": iso(r.previous_due_at),
                "requested_at": iso(r.requested_at),
            }
            for r in requests
        }
    if queue.detail == "supervision":
        cases = SupervisionCase.objects.filter(work_order_id__in=work_order_ids, state=SupervisionState.OPEN)
        return {
            c.work_order_id: {
                "id": c.pk,
                "instruction": c.instruction,
                "answer_due_at": iso(c.answer_due_at),
                "opened_at": iso(c.opened_at),
            }
            for c in cases
        }
    return {}


def present(user: User, queue: Queue, items: Sequence[Any]) -> list[dict[str, Any]]:
    """A page of one queue's rows (items from ``ordered_rows`` + ``with_joins``)."""
    full = sees_caller_details(user)
    may_urge = UrgeCheck(user)
    clocks = clocks_by_id([getattr(item, "row_clock_id", None) for item in items])
    rows = []
    for item in items:
        if queue.kind == TICKET:
            ticket, work_order = item, None
        elif queue.kind == WORK_ORDER:
            ticket, work_order = item.ticket, item
        else:
            ticket, work_order = item.ticket, item.work_order
        rows.append(
            {
                "key": f"{queue.kind}-{item.pk}",
                "kind": queue.kind,
                "ticket": ticket_brief(ticket, full=full),
                "work_order": work_order_brief(work_order, may_urge) if work_order else None,
                "clock": clocks.get(getattr(item, "row_clock_id", None) or 0),
            }
        )
    if queue.detail:
        details = _details(queue, items)
        for row, item in zip(rows, items, strict=True):
            row[queue.detail] = details.get(item.pk)
    return rows
