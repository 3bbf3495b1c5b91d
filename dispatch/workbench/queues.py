"""The workbench's queues (待办): one definition per queue, each a queryset builder scoped by the viewer.

Every builder starts from dispatch/access.py (``visible_tickets``, ``visible_work_orders``), so an agency's
queues hold only its own agency's work, and returns the plain filtered queryset (its ``count()`` is the
queue's number). ``ordered_rows`` then sorts a queue by the deadline that matters: the running stage clock's
``due_at`` (earliest first, rows without a deadline last), then by age, and annotates ``row_clock_id``, the
clock each row shows (rows.py reads those clocks for a page in one query).

Kinds of rows: ``ticket`` (a Ticket), ``work_order`` (a WorkOrder), ``clock`` (a running StageClock).
Reads only: the one write of the workbench (bulk urge) lives in actions.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, F, OuterRef, QuerySet, Subquery
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from callcenter.models import TicketState
from core import clock
from dispatch.access import visible_tickets, visible_work_orders
from dispatch.models import (
    Escalation,
    EscalationLevel,
    ExtensionRequest,
    ExtensionState,
    Stage,
    StageClock,
    SupervisionCase,
    SupervisionState,
    TimelineEntry,
    WorkOrderState,
)
from organisation.models import Role, User
from organisation.policy import city_scope, is_agency, is_centre

TICKET, WORK_ORDER, CLOCK = "ticket", "work_order", "clock"

#: The stages an agency answers for; review and revisit are the centre's own stages.
AGENCY_STAGES = (Stage.SIGN, Stage.HANDLE)

#: The centre's desk (intake, dispatch, review, revisit) and its supervision desk.
CENTRE_DESK = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.COMMANDER, Role.ADMIN})
SUPERVISION_DESK = frozenset({Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN})
EVERY_CENTRE_ROLE = CENTRE_DESK | SUPERVISION_DESK
AGENCY_STAFF = frozenset({Role.AGENCY_HANDLER, Role.AGENCY_ADMIN})


# --- the running clocks a viewer answers for -------------------------------------------------------


def running_clocks(user: User) -> QuerySet[StageClock]:
    """Running stage clocks in the viewer's scope: the centre's, those of the tickets it sees (a city's centre:
    its city's, dispatch/access.py); an agency's sign and handle clocks of its own work orders (never another
    agency's, never the centre's review or revisit)."""
    clocks = StageClock.objects.filter(stopped_at__isnull=True)
    if is_centre(user):
        return clocks if city_scope(user) is None else clocks.filter(ticket__in=visible_tickets(user))
    if is_agency(user):
        return clocks.filter(work_order__in=visible_work_orders(user), stage__in=AGENCY_STAGES)
    return clocks.none()


def _by_deadline(rows: QuerySet[Any], due: Any, *then: str) -> QuerySet[Any]:
    return rows.annotate(row_due_at=due).order_by(F("row_due_at").asc(nulls_last=True), *then)


def ordered_rows(user: User, kind: str, rows: QuerySet[Any]) -> QuerySet[Any]:
    """A queue's rows annotated with the clock each row shows (``row_clock_id``) and sorted by its deadline.

    A ticket shows its running clock due first (in the viewer's scope); a work order its running clock (at most
    one runs at a time); a clock itself."""
    if kind == TICKET:
        first = running_clocks(user).filter(ticket=OuterRef("pk")).order_by(F("due_at").asc(nulls_last=True), "id")
        rows = rows.annotate(row_clock_id=Subquery(first.values("id")[:1]))
        return _by_deadline(rows, Subquery(first.values("due_at")[:1]), "created_at", "id")
    if kind == WORK_ORDER:
        running = StageClock.objects.filter(work_order=OuterRef("pk"), stopped_at__isnull=True).order_by("-id")
        rows = rows.annotate(row_clock_id=Subquery(running.values("id")[:1]))
        return _by_deadline(rows, Subquery(running.values("due_at")[:1]), "created_at", "id")
    return _by_deadline(rows.annotate(row_clock_id=F("id")), F("due_at"), "started_at", "id")


def _fired(level: str) -> Exists:
    return Exists(Escalation.objects.filter(clock_id=OuterRef("pk"), level=level))


# --- the queues --------------------------------------------------------------------------------------


def to_dispatch(user: User) -> QuerySet[Any]:
    return visible_tickets(user).filter(state=TicketState.ACCEPTED)


def returned(user: User) -> QuerySet[Any]:
    return visible_tickets(user).filter(state=TicketState.RETURNED)


def awaiting_revisit(user: User) -> QuerySet[Any]:
    return visible_tickets(user).filter(state=TicketState.PENDING_REVISIT)


def awaiting_review(user: User) -> QuerySet[Any]:
    return visible_work_orders(user).filter(state=WorkOrderState.REPLIED)


def to_sign(user: User) -> QuerySet[Any]:
    return visible_work_orders(user).filter(state=WorkOrderState.PENDING_SIGN)


def handling(user: User) -> QuerySet[Any]:
    return visible_work_orders(user).filter(state=WorkOrderState.HANDLING)


def sent_back(user: User) -> QuerySet[Any]:
    """Handling again after the centre sent the reply back (审核退回) or the ticket was redone (重办): the
    latest move into handling was one of those, not the agency's own sign-off."""
    into_handling = (
        TimelineEntry.objects.filter(
            work_order=OuterRef("pk"), to_state=WorkOrderState.HANDLING, action__in=("sign", "send_back", "redo")
        )
        .order_by("-id")
        .values("action")[:1]
    )
    return (
        visible_work_orders(user)
        .filter(state=WorkOrderState.HANDLING)
        .alias(entered_by=Subquery(into_handling))
        .filter(entered_by__in=("send_back", "redo"))
    )


def return_requests(user: User) -> QuerySet[Any]:
    """Work orders whose agency asked to return them (退单申请), awaiting the centre's decision."""
    return visible_work_orders(user).filter(state=WorkOrderState.RETURN_REQUESTED)


def extension_requests(user: User) -> QuerySet[Any]:
    """Work orders with a pending extension request (at most one per work order: a unique constraint)."""
    pending = ExtensionRequest.objects.filter(work_order=OuterRef("pk"), state=ExtensionState.PENDING)
    return visible_work_orders(user).filter(Exists(pending))


def supervision_cases(user: User) -> QuerySet[Any]:
    """Work orders with an open supervision case (督办; at most one open per work order)."""
    open_cases = SupervisionCase.objects.filter(work_order=OuterRef("pk"), state=SupervisionState.OPEN)
    return visible_work_orders(user).filter(Exists(open_cases))


def overdue(user: User) -> QuerySet[Any]:
    """Running clocks past their deadline now, whether or not the timer worker has fired the yellow card yet."""
    return running_clocks(user).filter(due_at__lt=clock.now())


def yellow_cards(user: User) -> QuerySet[Any]:
    """Running clocks whose highest escalation is the yellow card (overdue), not yet red."""
    return running_clocks(user).filter(_fired(EscalationLevel.OVERDUE)).exclude(_fired(EscalationLevel.SERIOUS))


def red_cards(user: User) -> QuerySet[Any]:
    """Running clocks with a red card (seriously overdue)."""
    return running_clocks(user).filter(_fired(EscalationLevel.SERIOUS))


@dataclass(frozen=True)
class Queue:
    name: str
    label: Promise
    kind: str
    roles: frozenset[str]
    build: Callable[[User], QuerySet[Any]]
    #: Rows carry the return request, the pending extension request or the open supervision case.
    detail: str = ""


QUEUES: tuple[Queue, ...] = (
    Queue("to_dispatch", _("To dispatch"), TICKET, CENTRE_DESK, to_dispatch),
    Queue("returned", _("Returned, to re-dispatch"), TICKET, CENTRE_DESK, returned),
    Queue("to_sign", _("To sign"), WORK_ORDER, AGENCY_STAFF, to_sign),
    Queue("handling", _("Handling"), WORK_ORDER, AGENCY_STAFF, handling),
    Queue("sent_back", _("Sent back"), WORK_ORDER, AGENCY_STAFF, sent_back),
    Queue(
        "return_requests",
        _("Return requests"),
        WORK_ORDER,
        CENTRE_DESK | AGENCY_STAFF,
        return_requests,
        detail="return_request",
    ),
    Queue("to_review", _("To review"), WORK_ORDER, CENTRE_DESK, awaiting_review),
    Queue(
        "extensions",
        _("Extension requests"),
        WORK_ORDER,
        CENTRE_DESK | SUPERVISION_DESK | AGENCY_STAFF,
        extension_requests,
        detail="extension",
    ),
    Queue("to_revisit", _("To revisit"), TICKET, CENTRE_DESK, awaiting_revisit),
    Queue(
        "supervision",
        _("Supervision cases"),
        WORK_ORDER,
        SUPERVISION_DESK | AGENCY_STAFF,
        supervision_cases,
        detail="supervision",
    ),
    Queue("overdue", _("Overdue"), CLOCK, EVERY_CENTRE_ROLE | AGENCY_STAFF, overdue),
    Queue("yellow", _("Yellow cards"), CLOCK, EVERY_CENTRE_ROLE | AGENCY_STAFF, yellow_cards),
    Queue("red", _("Red cards"), CLOCK, EVERY_CENTRE_ROLE | AGENCY_STAFF, red_cards),
)
QUEUES_BY_NAME = {queue.name: queue for queue in QUEUES}


def _is_centre_role(role: str) -> bool:
    return role in EVERY_CENTRE_ROLE


def queues_for(user: User) -> list[Queue]:
    """The queues the viewer works from, in the table's order. Agency staff see the agency queues only (scoped
    to their agency); centre staff their desk's queues; a user with neither role sees none."""
    if is_centre(user):
        return [q for q in QUEUES if user.has_role(*(r for r in q.roles if _is_centre_role(r)))]
    if is_agency(user):
        return [q for q in QUEUES if user.has_role(*(q.roles & AGENCY_STAFF))]
    return []


def queue_for(user: User, name: str) -> Queue | None:
    """The named queue if the viewer has it, else None (the API answers 404)."""
    return next((q for q in queues_for(user) if q.name == name), None)


def counts(user: User) -> list[dict[str, Any]]:
    """Each of the viewer's queues with its number of rows: one COUNT per queue, straight from the database."""
    return [
        {"name": q.name, "label": str(q.label), "kind": q.kind, "count": q.build(user).count()}
        for q in queues_for(user)
    ]
