"""The work-order lifecycle: sign, return (requested, then approved or rejected by the centre), note, reply, review,
urge, cancel, extensions and supervision."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core import clock
from core.errors import InvalidInput
from core.parsing import require_text
from dispatch import workflow
from dispatch.actions.machinery import start_stage_clock, stop_stage_clocks, sync_ticket_state, transition_work_order
from dispatch.locks import lock_work_order
from dispatch.models import (
    ExtensionRequest,
    ExtensionState,
    ReplyOutcome,
    Stage,
    StageClock,
    SupervisionCase,
    SupervisionState,
    WorkOrder,
)
from dispatch.workflow import Machine
from organisation.models import User

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
    """退单申请: the agency asks to return the work order. It waits for the centre's decision in
    ``return_requested``; its clocks keep running and the ticket keeps its state meanwhile."""
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


def do_approve_return(work_order_id: int, *, actor: User, reason: str = "") -> WorkOrder:
    """退单审核通过: the work order is returned (its clocks stop); the ticket follows, awaiting re-dispatch
    when no active lead remains."""
    require_text({"reason": reason}, optional=["reason"])
    return _work_order_action(
        work_order_id, "approve_return", actor=actor, note=reason or "", data={"reason": reason or ""}
    )


def do_reject_return(work_order_id: int, *, actor: User, reason: str) -> WorkOrder:
    """退单驳回: the work order goes back to the state it was in (awaiting sign-off or handling) with its
    running clock unchanged; the reason tells the agency why (timeline)."""
    require_text({"reason": reason}, required=["reason"])
    # The request's reason and legal basis described a return that did not happen; the timeline keeps them.
    return _work_order_action(
        work_order_id,
        "reject_return",
        actor=actor,
        note=reason,
        data={"reason": reason},
        changes={"return_reason": "", "return_legal_basis": ""},
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
        request = ExtensionRequest.objects.select_for_update(of=("self",)).get(
            work_order=work_order, state=ExtensionState.PENDING
        )
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
        case = SupervisionCase.objects.select_for_update(of=("self",)).get(
            work_order=work_order, state=SupervisionState.OPEN
        )
        case.state, case.answer, case.answered_by, case.answered_at = SupervisionState.ANSWERED, answer, actor, at
        case.save()
        return case
