"""Which city an incident belongs to (一套程序，多套应用): the city whose service area holds its point; outside
every service area, the city of the ticket it was escalated from; else the reporting user's home city; else none
(the default city). Every path that creates or moves an incident sets ``Incident.city`` through ``city_for``
(report, escalation and transfer of a ticket, EIDO import, an update that moves the point), and its events name
the city whose centre sees them (``organisation.models.city_or_default``)."""

from __future__ import annotations

from callcenter.models import Ticket
from emergency.models import Incident, IncidentTimelineEntry
from gis.index import current_index
from organisation.models import User


def city_at_point(longitude: float | None, latitude: float | None) -> int | None:
    """The city whose service area holds the point, or None (no point, or outside every service area)."""
    if longitude is None or latitude is None:
        return None
    found = current_index().city_at(longitude, latitude)
    return found.city_id if found is not None else None


def city_for(
    *,
    longitude: float | None,
    latitude: float | None,
    ticket: Ticket | None = None,
    reporter: User | None = None,
) -> int | None:
    """The city id of an incident at this point (None: the default city)."""
    city_id = city_at_point(longitude, latitude)
    if city_id is not None:
        return city_id
    if ticket is not None:
        return ticket.city_id  # None: the ticket is the default city's, and so is the incident
    return reporter.home_city_id if reporter is not None else None


def city_of_moved(incident: Incident, longitude: float, latitude: float) -> int | None:
    """The city of an incident moved to a new point: as when it was created, from the ticket it was first
    escalated from and the user who reported it when the point is outside every service area."""
    city_id = city_at_point(longitude, latitude)
    if city_id is not None:
        return city_id
    # The escalation's own step on the command timeline names the ticket (attached or merged tickets do not count).
    escalated = (
        IncidentTimelineEntry.objects.filter(incident=incident, action="escalate")
        .order_by("id")
        .values_list("data", flat=True)
        .first()
    )
    ticket_id = escalated.get("ticket_id") if isinstance(escalated, dict) else None
    ticket = Ticket.objects.filter(pk=ticket_id).first() if isinstance(ticket_id, int) else None
    reporter = User.objects.filter(pk=incident.created_by_id).first() if incident.created_by_id else None
    return city_for(longitude=None, latitude=None, ticket=ticket, reporter=reporter)
