"""All writes of the dispatch side: dispatching tickets, the work-order lifecycle, agencies and users.

Every public ``do_*`` function is an outermost action: it owns a durable transaction, locks the rows
it changes (tickets before work orders), asks the workflow table, writes the change, its timeline row
and its event rows together. ``check_*`` functions validate input and raise InvalidInput naming fields.
The helpers ``transition_ticket``/``transition_work_order`` are the shared machinery that
callcenter/actions.py uses too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.models import Ticket, TicketState
from dispatch import clock, workflow
from dispatch.deadlines import Deadline, deadline_for, warning_for_extension
from dispatch.errors import InvalidInput, NotFound
from dispatch.locks import lock_ticket, lock_work_order, lock_work_orders_of_ticket
from dispatch.models import (
    Agency,
    ExtensionRequest,
    ExtensionState,
    ReplyOutcome,
    Responsibility,
    Role,
    Stage,
    StageClock,
    SupervisionCase,
    SupervisionState,
    TimelineEntry,
    User,
    WorkOrder,
    WorkOrderState,
)
from dispatch.prepared import PreparedInsert, PreparedUpdate
from dispatch.timers import arm_clock, cancel_clocks, fired_levels
from dispatch.workflow import Machine, Transition
from gis.routing import proposal_for
from realtime.events import append_event

MAX_TEXT = 5000

# --- shared machinery ------------------------------------------------------------------------------


def require_text(fields: dict[str, Any], *, required: Sequence[str] = (), optional: Sequence[str] = ()) -> None:
    errors: dict[str, list[str]] = {}
    for name in (*required, *optional):
        value = fields.get(name)
        if value is None and name in optional:
            continue
        if not isinstance(value, str):
            errors[name] = [_("This field must be text.")]
        elif name in required and not value.strip():
            errors[name] = [_("This field is required.")]
        elif len(value) > MAX_TEXT:
            errors[name] = [_("At most %(n)d characters.") % {"n": MAX_TEXT}]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)


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
    entry = TimelineEntry(
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
    # Every transition writes one: its INSERT is compiled once per connection (dispatch/prepared.py).
    return _TIMELINE_INSERT.insert(entry)


# Timeline rows and work orders have no signal receivers; timeline rows are only ever inserted.
_TIMELINE_INSERT = PreparedInsert(TimelineEntry)
_WORK_ORDER_UPDATE = PreparedUpdate(WorkOrder)


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
    )


def emit_work_order_event(work_order: WorkOrder, event_type: str, **details: Any) -> None:
    append_event(
        event_type,
        {"work_order": work_order_summary(work_order), **details},
        ticket_id=work_order.ticket_id,
        agency_ids=[work_order.agency_id],
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
    """Start a stage clock with its deadline frozen now (dispatch/deadlines.py) and arm its escalation timers.

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
        )
        skip = fired_levels(previous.pk) if previous else set()
    else:
        deadline = deadline_for(ticket, stage, at)
        if due_at is not None:
            warn_at = warning_for_extension(ticket, deadline, at, due_at)
            deadline = Deadline(deadline.limit, due_at, warn_at, deadline.policy_id)
    started = StageClock.objects.create(
        ticket=ticket,
        work_order=work_order,
        stage=stage,
        started_at=at,
        due_at=deadline.due_at,
        due_error=deadline.error,
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
    from_state, to_state = ticket.state, row.next_state(ticket.state)
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
    from_state, to_state = work_order.state, row.next_state(work_order.state)
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
    # Only what changed: the row is locked, and building a full UPDATE costs more than running it.
    _WORK_ORDER_UPDATE.update(work_order, sorted(set(changed)))
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


# --- dispatch --------------------------------------------------------------------------------------


def check_dispatch_ticket(*, lead_agency_id: Any, co_agency_ids: Any, instructions: Any) -> tuple[Agency, list[Agency]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(co_agency_ids, list) or not all(isinstance(i, int) for i in co_agency_ids):
        errors["co_agency_ids"] = [_("A list of agency ids.")]
        co_agency_ids = []
    if not isinstance(lead_agency_id, int):
        errors["lead_agency_id"] = [_("This field is required.")]
    elif lead_agency_id in co_agency_ids:
        errors["co_agency_ids"] = [_("The lead agency cannot also be a co-handler.")]
    if len(set(co_agency_ids)) != len(co_agency_ids):
        errors["co_agency_ids"] = [_("An agency is listed twice.")]
    if instructions is not None and (not isinstance(instructions, str) or len(instructions) > MAX_TEXT):
        errors["instructions"] = [_("At most %(n)d characters of text.") % {"n": MAX_TEXT}]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    wanted = [lead_agency_id, *co_agency_ids]
    agencies = Agency.objects.in_bulk(wanted)
    bad = [i for i in wanted if i not in agencies or not agencies[i].active]
    if bad:
        field = "lead_agency_id" if lead_agency_id in bad else "co_agency_ids"
        raise InvalidInput(_("Unknown or inactive agency."), fields={field: [_("Unknown or inactive agency.")]})
    return agencies[lead_agency_id], [agencies[i] for i in co_agency_ids]


def _dispatch(
    ticket_id: int,
    action: str,
    *,
    actor: User,
    lead_agency_id: Any,
    co_agency_ids: Any,
    instructions: Any,
    override_reason: str = "",
) -> Ticket:
    lead, co_handlers = check_dispatch_ticket(
        lead_agency_id=lead_agency_id, co_agency_ids=co_agency_ids or [], instructions=instructions
    )
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket = lock_ticket(ticket_id)
        workflow.authorise(Machine.TICKET, ticket.state, action, actor=actor, obj=ticket, context={"now": at})
        existing = lock_work_orders_of_ticket(ticket)
        returned = frozenset(wo.agency_id for wo in existing if wo.state == WorkOrderState.RETURNED)
        # Agencies that returned the ticket are left out, so a re-dispatch proposes the next candidate.
        decision = proposal_for(ticket, exclude_agency_ids=returned)
        proposal: dict[str, Any] = {}
        if decision is not None and decision.lead is not None:
            proposal = {
                "lead": decision.lead.code,
                "rule_id": decision.rule_id,
                "near_boundary": bool(decision.placement and decision.placement.near_boundary),
            }
            if decision.lead.pk != lead.pk and not (override_reason or "").strip():
                raise InvalidInput(
                    _("Routing proposes %(agency)s; say why this ticket goes elsewhere.")
                    % {"agency": decision.lead.name},
                    fields={"override_reason": [_("Required when overriding the routing proposal.")]},
                )
        busy = {wo.agency_id for wo in existing if wo.is_active}
        if busy & {lead.pk, *(a.pk for a in co_handlers)}:
            raise InvalidInput(
                _("An agency already holds an active work order on this ticket."),
                fields={"lead_agency_id": [_("Already working on this ticket.")]},
            )
        create_work_order(ticket, lead, Responsibility.LEAD, actor=actor, at=at, instructions=instructions or "")
        for agency in co_handlers:
            create_work_order(
                ticket, agency, Responsibility.CO_HANDLER, actor=actor, at=at, instructions=instructions or ""
            )
        data: dict[str, Any] = {"lead": lead.code, "co_handlers": [a.code for a in co_handlers]}
        if proposal:
            data["proposal"] = proposal
        if override_reason and (not proposal or proposal["lead"] != lead.code):
            data["override_reason"] = override_reason
        transition_ticket(ticket, action, actor=actor, at=at, note=instructions or "", data=data)
        sync_ticket_state(ticket, actor=actor, at=at)
    return ticket


def do_dispatch_ticket(
    ticket_id: int,
    *,
    actor: User,
    lead_agency_id: Any,
    co_agency_ids: Any = None,
    instructions: Any = "",
    override_reason: str = "",
) -> Ticket:
    return _dispatch(
        ticket_id,
        "dispatch",
        actor=actor,
        lead_agency_id=lead_agency_id,
        co_agency_ids=co_agency_ids,
        instructions=instructions,
        override_reason=override_reason,
    )


def do_redispatch_ticket(
    ticket_id: int,
    *,
    actor: User,
    lead_agency_id: Any,
    co_agency_ids: Any = None,
    instructions: Any = "",
    override_reason: str = "",
) -> Ticket:
    return _dispatch(
        ticket_id,
        "redispatch",
        actor=actor,
        lead_agency_id=lead_agency_id,
        co_agency_ids=co_agency_ids,
        instructions=instructions,
        override_reason=override_reason,
    )


def do_redo_ticket(ticket_id: int, *, actor: User, note: str, work_order_ids: Any = None) -> Ticket:
    require_text({"note": note}, required=["note"])
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket = lock_ticket(ticket_id)
        workflow.authorise(Machine.TICKET, ticket.state, "redo", actor=actor, obj=ticket, context={"now": at})
        approved = [wo for wo in lock_work_orders_of_ticket(ticket) if wo.state == WorkOrderState.APPROVED]
        if work_order_ids is None:
            chosen = [wo for wo in approved if wo.responsibility == Responsibility.LEAD] or approved
        else:
            if not isinstance(work_order_ids, list) or not all(isinstance(i, int) for i in work_order_ids):
                raise InvalidInput(_("A list of work order ids."), fields={"work_order_ids": [_("A list of ids.")]})
            chosen = [wo for wo in approved if wo.pk in set(work_order_ids)]
            if not chosen or len(chosen) != len(set(work_order_ids)):
                raise InvalidInput(
                    _("Only approved work orders of this ticket can be redone."),
                    fields={"work_order_ids": [_("Not an approved work order of this ticket.")]},
                )
        transition_ticket(ticket, "redo", actor=actor, at=at, note=note, data={"work_orders_redone": len(chosen)})
        ticket.redo_count += 1
        ticket.save(update_fields=["redo_count"])
        for wo in chosen:
            transition_work_order(
                ticket,
                wo,
                "redo",
                actor=actor,
                at=at,
                note=note,
                cascaded=True,
                changes={"redo_count": wo.redo_count + 1, "replied_at": None, "approved_at": None},
            )
        sync_ticket_state(ticket, actor=actor, at=at)
    return ticket


# --- the work-order lifecycle ----------------------------------------------------------------------


def _work_order_action(
    work_order_id: int,
    action: str,
    *,
    actor: User,
    note: str = "",
    data: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    visible_to: User | None = None,
) -> WorkOrder:
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket, work_order = lock_work_order(work_order_id, visible_to=visible_to)
        state_before = work_order.state
        transition_work_order(ticket, work_order, action, actor=actor, at=at, note=note, data=data, changes=changes)
        # The ticket's state follows its work orders' states: when this one kept its state, so does the ticket.
        if work_order.state != state_before:
            sync_ticket_state(ticket, actor=actor, at=at)
    return work_order


def do_sign_work_order(work_order_id: int, *, actor: User, note: str = "", visible_to: User | None = None) -> WorkOrder:
    """``visible_to`` (here and in the other actions a socket command runs): NotFound unless that user sees it."""
    require_text({"note": note}, optional=["note"])
    return _work_order_action(work_order_id, "sign", actor=actor, note=note, visible_to=visible_to)


def check_return_work_order(*, reason: Any, legal_basis: Any) -> None:
    require_text({"reason": reason, "legal_basis": legal_basis}, required=["reason", "legal_basis"])


def do_return_work_order(
    work_order_id: int, *, actor: User, reason: str, legal_basis: str, visible_to: User | None = None
) -> WorkOrder:
    check_return_work_order(reason=reason, legal_basis=legal_basis)
    return _work_order_action(
        work_order_id,
        "return",
        actor=actor,
        note=reason,
        data={"legal_basis": legal_basis},
        changes={"return_reason": reason, "return_legal_basis": legal_basis},
        visible_to=visible_to,
    )


def do_note_work_order(work_order_id: int, *, actor: User, note: str, visible_to: User | None = None) -> WorkOrder:
    require_text({"note": note}, required=["note"])
    return _work_order_action(work_order_id, "note", actor=actor, note=note, visible_to=visible_to)


def check_reply_work_order(*, reply: Any, outcome: Any) -> None:
    require_text({"reply": reply}, required=["reply"])
    if outcome not in ReplyOutcome.values:
        raise InvalidInput(
            _("Some fields are not valid."),
            fields={"outcome": [_("One of: %(v)s") % {"v": ", ".join(ReplyOutcome.values)}]},
        )


def do_reply_work_order(
    work_order_id: int, *, actor: User, reply: str, outcome: str, visible_to: User | None = None
) -> WorkOrder:
    check_reply_work_order(reply=reply, outcome=outcome)
    return _work_order_action(
        work_order_id,
        "reply",
        actor=actor,
        note=reply,
        data={"outcome": outcome},
        changes={"reply_text": reply, "reply_outcome": outcome},
        visible_to=visible_to,
    )


def do_approve_work_order(work_order_id: int, *, actor: User, note: str = "") -> WorkOrder:
    require_text({"note": note}, optional=["note"])
    return _work_order_action(work_order_id, "approve", actor=actor, note=note)


def do_send_back_work_order(work_order_id: int, *, actor: User, note: str) -> WorkOrder:
    require_text({"note": note}, required=["note"])
    return _work_order_action(work_order_id, "send_back", actor=actor, note=note)


def do_urge_work_order(work_order_id: int, *, actor: User, note: str) -> WorkOrder:
    require_text({"note": note}, required=["note"])
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket, work_order = lock_work_order(work_order_id)
        transition_work_order(
            ticket, work_order, "urge", actor=actor, at=at, note=note, changes={"urge_count": work_order.urge_count + 1}
        )
    return work_order


def do_cancel_work_order(work_order_id: int, *, actor: User, reason: str) -> WorkOrder:
    require_text({"reason": reason}, required=["reason"])
    return _work_order_action(work_order_id, "cancel", actor=actor, note=reason)


def _running_handle_clock(work_order: WorkOrder) -> StageClock | None:
    return StageClock.objects.filter(work_order=work_order, stage=Stage.HANDLE, stopped_at__isnull=True).first()


def check_request_extension(*, reason: Any, requested_due_at: Any, now: dt.datetime) -> None:
    require_text({"reason": reason}, required=["reason"])
    if not isinstance(requested_due_at, dt.datetime) or requested_due_at.tzinfo is None:
        raise InvalidInput(
            _("Some fields are not valid."), fields={"requested_due_at": [_("A date and time with a time zone.")]}
        )
    if requested_due_at <= now:
        raise InvalidInput(
            _("Some fields are not valid."), fields={"requested_due_at": [_("The new deadline must be in the future.")]}
        )


def do_request_extension(
    work_order_id: int, *, actor: User, reason: str, requested_due_at: dt.datetime, visible_to: User | None = None
) -> ExtensionRequest:
    check_request_extension(reason=reason, requested_due_at=requested_due_at, now=clock.now())
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket, work_order = lock_work_order(work_order_id, visible_to=visible_to)
        running = _running_handle_clock(work_order)
        if running is not None and running.due_at is not None and requested_due_at <= running.due_at:
            raise InvalidInput(
                _("Some fields are not valid."),
                fields={"requested_due_at": [_("Must be later than the current deadline.")]},
            )
        transition_work_order(
            ticket,
            work_order,
            "request_extension",
            actor=actor,
            at=at,
            note=reason,
            data={"requested_due_at": requested_due_at.isoformat()},
        )
        return ExtensionRequest.objects.create(
            work_order=work_order,
            reason=reason,
            requested_due_at=requested_due_at,
            previous_due_at=running.due_at if running else None,
            requested_by=actor,
            requested_at=at,
        )


def do_decide_extension(
    work_order_id: int, *, actor: User, approve: bool, note: str = "", new_due_at: dt.datetime | None = None
) -> ExtensionRequest:
    require_text({"note": note}, required=[] if approve else ["note"], optional=["note"] if approve else [])
    if new_due_at is not None and (not isinstance(new_due_at, dt.datetime) or new_due_at.tzinfo is None):
        raise InvalidInput(
            _("Some fields are not valid."), fields={"new_due_at": [_("A date and time with a time zone.")]}
        )
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket, work_order = lock_work_order(work_order_id)
        action = "approve_extension" if approve else "reject_extension"
        workflow.authorise(
            Machine.WORK_ORDER,
            work_order.state,
            action,
            actor=actor,
            obj=work_order,
            agency_id=work_order.agency_id,
            context={"now": at},
        )
        request = ExtensionRequest.objects.select_for_update().get(work_order=work_order, state=ExtensionState.PENDING)
        granted = new_due_at or request.requested_due_at
        if approve and granted <= at:
            raise InvalidInput(_("Some fields are not valid."), fields={"new_due_at": [_("Must be in the future.")]})
        transition_work_order(
            ticket,
            work_order,
            action,
            actor=actor,
            at=at,
            note=note,
            data={"granted_due_at": granted.isoformat()} if approve else {},
        )
        request.state = ExtensionState.APPROVED if approve else ExtensionState.REJECTED
        request.decided_by, request.decided_at, request.decision_note = actor, at, note
        request.save()
        if approve:
            # A new deadline is a new handle clock: its own warning, yellow and red cards (the old clock's
            # timers not yet due are cancelled; ones already due were true and still fire).
            stop_stage_clocks(ticket, work_order, [Stage.HANDLE], at, action)
            start_stage_clock(ticket, work_order, Stage.HANDLE, at, due_at=granted)
        return request


def do_supervise_work_order(
    work_order_id: int, *, actor: User, instruction: str, answer_due_at: dt.datetime | None = None
) -> SupervisionCase:
    require_text({"instruction": instruction}, required=["instruction"])
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket, work_order = lock_work_order(work_order_id)
        transition_work_order(ticket, work_order, "supervise", actor=actor, at=at, note=instruction)
        return SupervisionCase.objects.create(
            work_order=work_order, instruction=instruction, answer_due_at=answer_due_at, opened_by=actor, opened_at=at
        )


def do_answer_supervision(
    work_order_id: int, *, actor: User, answer: str, visible_to: User | None = None
) -> SupervisionCase:
    require_text({"answer": answer}, required=["answer"])
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket, work_order = lock_work_order(work_order_id, visible_to=visible_to)
        transition_work_order(ticket, work_order, "answer_supervision", actor=actor, at=at, note=answer)
        case = SupervisionCase.objects.select_for_update().get(work_order=work_order, state=SupervisionState.OPEN)
        case.state, case.answer, case.answered_by, case.answered_at = SupervisionState.ANSWERED, answer, actor, at
        case.save()
        return case


# --- organisation (reference data; used by loaders and the admin) ----------------------------------


def do_upsert_agency(
    *,
    code: str,
    name: str,
    kind: str,
    function: str,
    name_en: str = "",
    parent_code: str | None = None,
    adcode: str = "",
    active: bool = True,
    sort_order: int = 0,
) -> Agency:
    with transaction.atomic():
        parent = None
        if parent_code:
            parent = Agency.objects.filter(code=parent_code).first()
            if parent is None:
                raise NotFound(f"Unknown parent agency {parent_code}")
        agency, _created = Agency.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "kind": kind,
                "function": function,
                "parent": parent,
                "adcode": adcode,
                "active": active,
                "sort_order": sort_order,
            },
        )
        return agency


AGENCIES_FILE = Path(__file__).resolve().parent / "data" / "agencies.json"


def do_load_agencies(path: Path = AGENCIES_FILE) -> int:
    """Upsert the agency tree from a JSON list (parents before children), keeping the file's order."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    with transaction.atomic():
        for order, row in enumerate(rows):
            do_upsert_agency(
                code=row["code"],
                name=row["name"],
                name_en=row.get("name_en", ""),
                kind=row["kind"],
                function=row["function"],
                parent_code=row.get("parent"),
                adcode=row.get("adcode", ""),
                sort_order=order,
            )
    return len(rows)


def do_upsert_user(
    *,
    username: str,
    password: str | None,
    roles: Sequence[str],
    agency_code: str | None,
    first_name: str = "",
    extension: str = "",
    is_staff: bool = False,
) -> User:
    bad = [r for r in roles if r not in Role.values]
    if bad:
        raise InvalidInput(_("Unknown role."), fields={"roles": bad})
    with transaction.atomic():
        agency = Agency.objects.get(code=agency_code) if agency_code else None
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username)
        user.roles, user.agency, user.first_name, user.extension = list(roles), agency, first_name, extension
        user.is_staff = is_staff or Role.ADMIN in roles
        user.is_superuser = Role.ADMIN in roles
        if password and not user.check_password(password):
            user.set_password(password)
        elif not password and user.pk is None:
            user.set_unusable_password()
        user.save()
        return user
