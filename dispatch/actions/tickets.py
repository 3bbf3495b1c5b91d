"""The ticket's lifecycle after intake, in the shared workflow: resolving directly from the knowledge base,
merging duplicates, cancelling, the revisit (回访) and closing. Intake itself is callcenter/actions.py."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.models import KnowledgeArticle, Revisit, Satisfaction, Ticket, TicketCaller, TicketState
from core import clock
from core.errors import Conflict, InvalidInput
from core.parsing import MAX_TEXT, require_text
from dispatch import workflow
from dispatch.actions.machinery import emit_ticket_event, transition_ticket, transition_work_order, write_timeline
from dispatch.locks import lock_ticket, lock_tickets, lock_work_orders_of_ticket
from dispatch.models import WorkOrderState
from dispatch.workflow import Machine
from organisation.models import User


def do_resolve_ticket_directly(ticket_id: int, *, actor: User, answer: str, article_id: Any = None) -> Ticket:
    """直接办结: the operator answered from the knowledge base; no agency is involved."""
    require_text({"answer": answer}, required=["answer"])
    article = None
    if article_id is not None:
        article = (
            KnowledgeArticle.objects.filter(pk=article_id, active=True).first() if isinstance(article_id, int) else None
        )
        if article is None:
            raise InvalidInput(_("Unknown knowledge article."), fields={"article_id": [_("Unknown article.")]})
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket = lock_ticket(ticket_id)
        ticket.answered_by_article = article
        ticket.resolution_note = answer
        ticket.save(update_fields=["answered_by_article", "resolution_note"])
        transition_ticket(
            ticket,
            "resolve_directly",
            actor=actor,
            at=at,
            note=answer,
            data={"article": article.code if article else None},
        )
    return ticket


def do_merge_ticket(ticket_id: int, *, actor: User, master_id: Any, note: str = "") -> Ticket:
    """合并: the duplicate ends; its callers join the master's revisit list."""
    require_text({"note": note}, optional=["note"])
    if not isinstance(master_id, int) or master_id == ticket_id:
        raise InvalidInput(_("Choose another ticket to merge into."), fields={"master_id": [_("Invalid ticket.")]})
    with transaction.atomic(durable=True):
        at = clock.now()
        tickets = lock_tickets([ticket_id, master_id])
        duplicate, master = tickets[ticket_id], tickets[master_id]
        if master.state in {TicketState.CLOSED, TicketState.MERGED, TicketState.CANCELLED}:
            raise Conflict(_("The master ticket is already finished."), code="master_finished")
        duplicate.master = master
        duplicate.save(update_fields=["master"])
        transition_ticket(duplicate, "merge", actor=actor, at=at, note=note, data={"master": master.number})
        known = set(TicketCaller.objects.filter(ticket=master).values_list("caller_id", flat=True))
        moved = []
        for row in TicketCaller.objects.filter(ticket=duplicate).order_by("id"):
            if row.caller_id not in known:
                TicketCaller.objects.create(
                    ticket=master,
                    caller_id=row.caller_id,
                    caller_name=row.caller_name,
                    confidential=row.confidential,
                    via_ticket=duplicate,
                    added_at=at,
                )
                moved.append(row.caller_id)
        write_timeline(
            ticket=master,
            machine=Machine.TICKET,
            action="absorb_duplicate",
            from_state=master.state,
            to_state=master.state,
            actor=actor,
            at=at,
            note=note,
            data={"duplicate": duplicate.number, "callers_added": len(moved)},
        )
        emit_ticket_event(master, "ticket.merged", duplicate_id=duplicate.pk, duplicate_number=duplicate.number)
    return duplicate


def do_cancel_ticket(ticket_id: int, *, actor: User, reason: str) -> Ticket:
    require_text({"reason": reason}, required=["reason"])
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket = lock_ticket(ticket_id)
        work_orders = lock_work_orders_of_ticket(ticket)
        workflow.authorise(Machine.TICKET, ticket.state, "cancel", actor=actor, obj=ticket, context={"now": at})
        for work_order in work_orders:
            if work_order.is_active and work_order.state != WorkOrderState.CLOSED:
                transition_work_order(ticket, work_order, "cancel", actor=actor, at=at, note=reason, cascaded=True)
        transition_ticket(ticket, "cancel", actor=actor, at=at, note=reason)
    return ticket


def check_revisit_ticket(*, satisfaction: Any, resolved: Any, note: Any) -> None:
    errors: dict[str, list[str]] = {}
    if satisfaction not in Satisfaction.values:
        errors["satisfaction"] = [_("One of: %(v)s") % {"v": ", ".join(Satisfaction.values)}]
    if resolved is not None and not isinstance(resolved, bool):
        errors["resolved"] = [_("Must be true, false or null.")]
    if satisfaction != Satisfaction.UNREACHABLE and resolved is None:
        errors["resolved"] = [_("Say whether the problem was resolved.")]
    if note is not None and (not isinstance(note, str) or len(note) > MAX_TEXT):
        errors["note"] = [_("At most %(n)d characters of text.") % {"n": MAX_TEXT}]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)


def do_revisit_ticket(
    ticket_id: int, *, actor: User, satisfaction: str, resolved: bool | None, note: str = "", caller_id: Any = None
) -> Revisit:
    """回访: record what the caller said about the handling."""
    check_revisit_ticket(satisfaction=satisfaction, resolved=resolved, note=note)
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket = lock_ticket(ticket_id)
        callers = set(TicketCaller.objects.filter(ticket=ticket).values_list("caller_id", flat=True))
        if caller_id is not None and caller_id not in callers:
            raise InvalidInput(
                _("That caller is not on this ticket's revisit list."),
                fields={"caller_id": [_("Not a caller of this ticket.")]},
            )
        transition_ticket(
            ticket,
            "revisit",
            actor=actor,
            at=at,
            note=note or "",
            data={"satisfaction": satisfaction, "resolved": resolved},
        )
        return Revisit.objects.create(
            ticket=ticket,
            caller_id=caller_id or ticket.caller_id,
            satisfaction=satisfaction,
            resolved=resolved,
            note=note or "",
            created_by=actor,
            created_at=at,
        )


def do_close_ticket(ticket_id: int, *, actor: User, note: str = "") -> Ticket:
    """办结. Closing without a satisfied revisit needs a note saying why."""
    require_text({"note": note}, optional=["note"])
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket = lock_ticket(ticket_id)
        work_orders = lock_work_orders_of_ticket(ticket)
        latest = ticket.revisits.order_by("-id").first()
        content = latest is not None and latest.satisfaction in (
            Satisfaction.SATISFIED,
            Satisfaction.BASICALLY_SATISFIED,
        )
        if workflow.find(Machine.TICKET, ticket.state, "close") and not content and not (note or "").strip():
            raise InvalidInput(
                _("Say why the ticket is closed without a satisfied revisit."),
                fields={"note": [_("This field is required.")]},
            )
        workflow.authorise(Machine.TICKET, ticket.state, "close", actor=actor, obj=ticket, context={"now": at})
        for work_order in work_orders:
            if work_order.state == WorkOrderState.APPROVED:
                transition_work_order(ticket, work_order, "close", actor=actor, at=at, cascaded=True)
        transition_ticket(ticket, "close", actor=actor, at=at, note=note or "")
    return ticket
