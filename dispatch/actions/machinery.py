"""The shared machinery of every action: timeline rows, events, stage clocks, workflow transitions and
work-order creation (callcenter/actions.py uses it too). Nothing here owns a transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from callcenter.models import Ticket, TicketState
from dispatch import workflow
from dispatch.deadlines.policies import Deadline, deadline_for, warning_for_extension
from dispatch.deadlines.timers import arm_clock, cancel_clocks, fired_levels
from dispatch.models import Stage, StageClock, TimelineEntry, WorkOrder, WorkOrderState
from dispatch.workflow import Machine, Transition
from organisation.models import Agency, User, city_or_default
from realtime.events import append_event

# --- shared machinery ------------------------------------------------------------------------------


def write_timeline(
    *,
    ticket: Ticket,
    machine: Machine,
    action: str,
    from_state: str,
    to_state: str,
    actor: User | None,
    at: dt.datetime,
    work_order: WorkOrder | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    return TimelineEntry.objects.create(
        ticket=ticket,
        work_order=work_order,
        machine=machine.value,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        actor_agency_id=actor.agency_id if actor else None,
        note=note,
        data=data or {},
        created_at=at,
    )


def agency_ids_of_ticket(ticket: Ticket) -> list[int]:
    return list(WorkOrder.objects.filter(ticket=ticket).values_list("agency_id", flat=True).distinct())


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    # Events reach agency screens: no personal data here, only what identifies and classifies.
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "state": ticket.state,
        "urgency": ticket.urgency,
        "subject_id": ticket.subject_id,
        "appeal_type_id": ticket.appeal_type_id,
        "latitude": ticket.latitude,
        "longitude": ticket.longitude,
    }


def work_order_summary(work_order: WorkOrder) -> dict[str, Any]:
    return {
        "id": work_order.pk,
        "number": work_order.number,
        "ticket_id": work_order.ticket_id,
        "agency_id": work_order.agency_id,
        "responsibility": work_order.responsibility,
        "state": work_order.state,
    }


def emit_ticket_event(ticket: Ticket, event_type: str, **details: Any) -> None:
    append_event(
        event_type,
        {"ticket": ticket_summary(ticket), **details},
        ticket_id=ticket.pk,
        agency_ids=agency_ids_of_ticket(ticket),
        city_id=city_or_default(ticket.city_id),
    )


def emit_work_order_event(work_order: WorkOrder, event_type: str, **details: Any) -> None:
    append_event(
        event_type,
        {"work_order": work_order_summary(work_order), **details},
        ticket_id=work_order.ticket_id,
        agency_ids=[work_order.agency_id],
        city_id=city_or_default(work_order.ticket.city_id),
    )


def start_stage_clock(
    ticket: Ticket,
    work_order: WorkOrder | None,
    stage: str,
    at: dt.datetime,
    *,
    due_at: dt.datetime | None = None,
    inherit: bool = False,
) -> StageClock:
    """Start a stage clock with its deadline frozen now (dispatch/deadlines/policies.py) and arm its escalation timers.

    ``inherit`` (a reply sent back) continues the previous clock's deadline; levels it already fired are not
    fired again. ``due_at`` (an approved extension) sets the deadline; the warning keeps the policy's rule.
    """
    skip: set[str] = set()
    if inherit:
        previous = (
            StageClock.objects.filter(ticket=ticket, work_order=work_order, stage=stage)
            .exclude(stopped_at__isnull=True)
            .order_by("-id")
            .first()
        )
        deadline = Deadline(
            previous.time_limit if previous else "",
            previous.due_at if previous else None,
            previous.warn_at if previous else None,
            previous.policy_id if previous else None,
            previous.due_error if previous else "",
            previous.due_provisional if previous else False,
        )
        skip = fired_levels(previous.pk) if previous else set()
    else:
        deadline = deadline_for(ticket, stage, at)
        if due_at is not None:
            warn_at = warning_for_extension(ticket, deadline, at, due_at)
            # A deadline the centre granted is a date it announced, not one the calendar computed.
            deadline = Deadline(deadline.limit, due_at, warn_at, deadline.policy_id)
    started = StageClock.objects.create(
        ticket=ticket,
        work_order=work_order,
        stage=stage,
        started_at=at,
        due_at=deadline.due_at,
        due_error=deadline.error,
        due_provisional=deadline.provisional,
        warn_at=deadline.warn_at,
        time_limit=deadline.limit,
        policy_id=deadline.policy_id,
    )
    arm_clock(started, skip_levels=skip)
    if deadline.error:
        append_event(
            "work_order.deadline_unknown",
            {
                "clock_id": started.pk,
                "work_order_id": work_order.pk if work_order else None,
                "ticket_id": ticket.pk,
                "agency_id": work_order.agency_id if work_order else None,
                "stage": stage,
                "error": deadline.error,
            },
            ticket_id=ticket.pk,
            agency_ids=[work_order.agency_id] if work_order else [],
            city_id=city_or_default(ticket.city_id),
        )
    return started


def stop_stage_clocks(
    ticket: Ticket, work_order: WorkOrder | None, stages: Iterable[str], at: dt.datetime, action: str
) -> None:
    stages = list(stages)
    if stages:
        running = StageClock.objects.filter(
            ticket=ticket, work_order=work_order, stage__in=stages, stopped_at__isnull=True
        )
        clock_ids = list(running.values_list("id", flat=True))
        running.update(stopped_at=at, stopped_by=action)
        cancel_clocks(clock_ids, at)


def transition_ticket(
    ticket: Ticket,
    action: str,
    *,
    actor: User,
    at: dt.datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> Transition:
    row = workflow.authorise(Machine.TICKET, ticket.state, action, actor=actor, obj=ticket, context={"now": at})
    from_state, to_state = ticket.state, row.next_state(ticket.state, ticket)
    ticket.state = to_state
    ticket.updated_at = at
    if to_state == TicketState.CLOSED:
        ticket.closed_at = at
    ticket.save(update_fields=["state", "updated_at", "closed_at"])
    stop_stage_clocks(ticket, None, row.stops, at, action)
    write_timeline(
        ticket=ticket,
        machine=Machine.TICKET,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        at=at,
        note=note,
        data=data,
    )
    emit_ticket_event(ticket, "ticket.changed", action=action, from_state=from_state, to_state=to_state)
    return row


_TIMESTAMP_ON_ENTRY = {
    WorkOrderState.HANDLING: None,
    WorkOrderState.REPLIED: "replied_at",
    WorkOrderState.APPROVED: "approved_at",
    WorkOrderState.RETURNED: "finished_at",
    WorkOrderState.CANCELLED: "finished_at",
    WorkOrderState.CLOSED: "finished_at",
}


def transition_work_order(
    ticket: Ticket,
    work_order: WorkOrder,
    action: str,
    *,
    actor: User,
    at: dt.datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
    cascaded: bool = False,
    changes: dict[str, Any] | None = None,
) -> Transition:
    """Move one work order; ``cascaded`` when a ticket action already authorised the actor."""
    row = workflow.authorise(
        Machine.WORK_ORDER,
        work_order.state,
        action,
        actor=actor,
        obj=work_order,
        agency_id=work_order.agency_id,
        context={"now": at},
        cascaded=cascaded,
    )
    from_state, to_state = work_order.state, row.next_state(work_order.state, work_order)
    changed = ["state", "updated_at"]
    for name, value in (changes or {}).items():
        setattr(work_order, name, value)
        changed.append(name)
    work_order.state = to_state
    work_order.updated_at = at
    if action == "sign":
        work_order.signed_at = at
        changed.append("signed_at")
    stamp = _TIMESTAMP_ON_ENTRY.get(WorkOrderState(to_state)) if to_state != from_state else None
    if stamp:
        setattr(work_order, stamp, at)
        changed.append(stamp)
    work_order.save(update_fields=sorted(set(changed)))
    stop_stage_clocks(ticket, work_order, row.stops, at, action)
    for stage in row.starts:
        start_stage_clock(ticket, work_order, stage, at, inherit=(action == "send_back" and stage == Stage.HANDLE))
    write_timeline(
        ticket=ticket,
        work_order=work_order,
        machine=Machine.WORK_ORDER,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        at=at,
        note=note,
        data=data,
    )
    emit_work_order_event(work_order, "work_order.changed", action=action, from_state=from_state, to_state=to_state)
    return row


def sync_ticket_state(ticket: Ticket, *, actor: User, at: dt.datetime) -> None:
    """Make the ticket's state follow its work orders, as the workflow table says."""
    if workflow.find(Machine.TICKET, ticket.state, "follow_work_orders") is None:
        return
    derived = workflow.ticket_state_from_work_orders(WorkOrder.objects.filter(ticket=ticket))
    if derived == ticket.state:
        return
    from_state = ticket.state
    workflow.authorise(Machine.TICKET, from_state, "follow_work_orders", actor=actor, obj=ticket)
    ticket.state = derived
    ticket.updated_at = at
    ticket.save(update_fields=["state", "updated_at"])
    if derived == TicketState.PENDING_REVISIT:
        start_stage_clock(ticket, None, Stage.REVISIT, at)
    write_timeline(
        ticket=ticket,
        machine=Machine.TICKET,
        action="follow_work_orders",
        from_state=from_state,
        to_state=derived,
        actor=actor,
        at=at,
    )
    emit_ticket_event(ticket, "ticket.changed", action="follow_work_orders", from_state=from_state, to_state=derived)


def _work_order_number(ticket: Ticket) -> str:
    sequence = WorkOrder.objects.filter(ticket=ticket).count() + 1
    return f"{ticket.number}-{sequence:02d}"


def create_work_order(
    ticket: Ticket, agency: Agency, responsibility: str, *, actor: User, at: dt.datetime, instructions: str
) -> WorkOrder:
    workflow.authorise(Machine.WORK_ORDER, workflow.START, "create", actor=actor, obj=ticket)
    work_order = WorkOrder.objects.create(
        ticket=ticket,
        number=_work_order_number(ticket),
        agency=agency,
        responsibility=responsibility,
        state=WorkOrderState.PENDING_SIGN,
        instructions=instructions,
        dispatched_by=actor,
        created_at=at,
        updated_at=at,
    )
    start_stage_clock(ticket, work_order, Stage.SIGN, at)
    write_timeline(
        ticket=ticket,
        work_order=work_order,
        machine=Machine.WORK_ORDER,
        action="create",
        from_state="",
        to_state=work_order.state,
        actor=actor,
        at=at,
        note=instructions,
        data={"agency": agency.code, "responsibility": responsibility},
    )
    emit_work_order_event(work_order, "work_order.created")
    return work_order
