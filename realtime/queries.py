"""Read paths of the real-time side: replay from the log, snapshots for clients too far behind."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, Max, OuterRef, Q, QuerySet, Subquery, Value, When

from callcenter.models import TERMINAL_TICKET_STATES, Ticket
from dispatch.emergency.queries import live_incidents_snapshot
from dispatch.models import INACTIVE_WORK_ORDER_STATES, Escalation, WorkOrder, WorkOrderState
from realtime.audience import CENTRE_ONLY_TYPES, Audience
from realtime.models import Event, PruneMark

SNAPSHOT_LIMIT = 2000


def events_for(audience: Audience) -> QuerySet[Event]:
    if audience.centre:
        return Event.objects.all()
    return Event.objects.exclude(type__in=CENTRE_ONLY_TYPES).filter(audiences__agency_id=audience.agency_id or 0)


def latest_event_id() -> int:
    """The newest event id ever written that we know of (the log may have been pruned empty)."""
    return max(int(Event.objects.aggregate(m=Max("id"))["m"] or 0), pruned_through())


def pruned_through() -> int:
    mark = PruneMark.objects.filter(pk=1).values_list("pruned_through_id", flat=True).first()
    return int(mark or 0)


def needs_snapshot(last_event_id: int) -> bool:
    """Replay is impossible when the log was pruned past the client's position, or it is ahead of us."""
    return last_event_id < pruned_through() or last_event_id > latest_event_id()


def _escalation_level() -> Subquery:
    """The highest escalation (serious > overdue > warning) of a work order's running stage clocks, or null."""
    rank = Case(When(level="serious", then=Value(3)), When(level="overdue", then=Value(2)), default=Value(1))
    running = Escalation.objects.filter(work_order=OuterRef("pk"), clock__stopped_at__isnull=True)
    return Subquery(running.annotate(rank=rank).order_by("-rank").values("level")[:1])


def snapshot(audience: Audience) -> dict[str, Any]:
    """The open work a screen shows, stamped with the event id it is consistent with."""
    as_of = latest_event_id()
    tickets = Ticket.objects.exclude(state__in=TERMINAL_TICKET_STATES)
    work_orders = WorkOrder.objects.exclude(state__in=[*INACTIVE_WORK_ORDER_STATES, WorkOrderState.CLOSED])
    if not audience.centre:
        work_orders = work_orders.filter(agency_id=audience.agency_id or 0)
        tickets = tickets.filter(Q(pk__in=work_orders.values("ticket_id")))
    return {
        "as_of": as_of,
        "tickets": list(
            tickets.order_by("-id").values(
                "id", "number", "state", "urgency", "subject_id", "latitude", "longitude", "created_at"
            )[:SNAPSHOT_LIMIT]
        ),
        "incidents": live_incidents_snapshot(centre=audience.centre, agency_id=audience.agency_id),
        "work_orders": list(
            work_orders.annotate(escalation_level=_escalation_level())
            .order_by("-id")
            .values("id", "number", "ticket_id", "agency_id", "responsibility", "state", "escalation_level")[
                :SNAPSHOT_LIMIT
            ]
        ),
    }
