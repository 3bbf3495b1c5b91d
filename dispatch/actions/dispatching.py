"""Dispatching tickets to agencies: dispatch, re-dispatch and redo."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.models import Ticket
from core import clock
from core.errors import InvalidInput
from core.parsing import MAX_TEXT, require_text
from dispatch import workflow
from dispatch.actions.machinery import create_work_order, sync_ticket_state, transition_ticket, transition_work_order
from dispatch.locks import lock_ticket, lock_work_orders_of_ticket
from dispatch.models import Responsibility, WorkOrderState
from dispatch.workflow import Machine
from gis.routing import proposal_for
from organisation.models import Agency, User

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
                    % {"agency": decision.lead.display_name},
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
