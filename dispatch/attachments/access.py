"""Who sees which attachments, and who may add them.

Seeing follows dispatch/access.py, as the timeline does: centre staff see every file; agency staff see the files
of a ticket they can see that belong to the ticket itself (intake photos), and the files of their own agency's
work orders - never another agency's work-order files on a shared ticket. Anything else does not exist for them
(404).

Adding:
- to a ticket (kind intake or other): the centre's intake desk (organisation.policy.INTAKE), while the ticket is
  not closed, merged or cancelled;
- to a work order: its own agency's staff whenever the workflow table lets them write a progress note on it
  (the ``note`` row: today while it is being handled), kinds note, reply (their proof of work) or other; the
  centre's dispatch desk (organisation.policy.DISPATCHERS) while the work order is open (not returned,
  cancelled or closed), kinds note or other - a reply's proof is the agency's.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from callcenter.models import TERMINAL_TICKET_STATES, Ticket
from core.errors import Conflict, DomainError, NotAllowed
from dispatch import workflow
from dispatch.access import visible_tickets, work_orders_of_agency
from dispatch.attachments.models import Attachment, AttachmentKind
from dispatch.models import INACTIVE_WORK_ORDER_STATES, WorkOrder, WorkOrderState
from dispatch.workflow import Machine
from organisation.models import User
from organisation.policy import DISPATCHERS, INTAKE, city_scope, is_agency, is_centre

TICKET_KINDS = (AttachmentKind.INTAKE, AttachmentKind.OTHER)
WORK_ORDER_KINDS = (AttachmentKind.NOTE, AttachmentKind.REPLY, AttachmentKind.OTHER)
CENTRE_WORK_ORDER_KINDS = (AttachmentKind.NOTE, AttachmentKind.OTHER)
#: Work orders the centre may still add files to.
CLOSED_WORK_ORDER_STATES = INACTIVE_WORK_ORDER_STATES | {WorkOrderState.CLOSED}


def visible_attachments(user: User) -> QuerySet[Attachment]:
    if is_centre(user):
        # A city's centre: the files of the tickets it sees (its city's, dispatch/access.py); a foreign one is 404.
        return (
            Attachment.objects.all()
            if city_scope(user) is None
            else Attachment.objects.filter(ticket__in=visible_tickets(user))
        )
    if is_agency(user):
        own = work_orders_of_agency(user.agency_id or 0)
        return Attachment.objects.filter(
            Q(work_order__isnull=True, ticket_id__in=own.values("ticket_id")) | Q(work_order__in=own.values("pk"))
        )
    return Attachment.objects.none()


def authorise_ticket_attachment(actor: User, ticket: Ticket) -> None:
    """NotAllowed (403) or Conflict (409); the caller has already checked that the actor sees the ticket."""
    if not (is_centre(actor) and actor.has_role(*INTAKE)):
        raise NotAllowed(_("Only the centre's intake desk may add files to a ticket."))
    if ticket.state in TERMINAL_TICKET_STATES:
        raise Conflict(
            _("Files cannot be added to a ticket that is closed, merged or cancelled."), code="ticket_finished"
        )


def _centre_desk(actor: User) -> bool:
    return is_centre(actor) and actor.has_role(*DISPATCHERS)


def work_order_kinds(actor: User) -> tuple[str, ...]:
    """The kinds of file this actor may add to a work order (a reply's proof is the agency's own)."""
    return CENTRE_WORK_ORDER_KINDS if _centre_desk(actor) else WORK_ORDER_KINDS


def authorise_work_order_attachment(actor: User, work_order: WorkOrder) -> None:
    """NotAllowed (403) or Conflict (409); the caller has already checked that the actor sees the work order."""
    if _centre_desk(actor):
        if work_order.state in CLOSED_WORK_ORDER_STATES:
            raise Conflict(
                _("Files cannot be added to a work order that is returned, cancelled or closed."),
                code="transition_not_allowed",
            )
        return
    # Agencies: whoever may write a progress note on this work order now may add a file to it.
    try:
        workflow.authorise(
            Machine.WORK_ORDER,
            work_order.state,
            "note",
            actor=actor,
            obj=work_order,
            agency_id=work_order.agency_id,
        )
    except DomainError as refusal:
        message = (
            _("Files can be added to a work order only while a progress note may be written on it (state: %(state)s).")
            % {"state": workflow.state_label(Machine.WORK_ORDER, work_order.state)}
            if refusal.status == 409
            else _("You may not add files to this work order.")
        )
        raise type(refusal)(message, code=refusal.code) from None
