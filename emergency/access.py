"""Who may see which incident. Every read path for incidents starts here: the centre sees all of
them (centre staff of one city: that city's, and those they reported themselves; staff named to no city: every
city's); an agency sees only incidents it is (or was) linked to - any other incident does not exist for it
(404); users with neither role see none."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from emergency.models import Incident, IncidentAgency, IncidentTimelineEntry
from organisation.models import User, in_city
from organisation.policy import city_scope, is_agency, is_centre


def visible_incidents(user: User) -> QuerySet[Incident]:
    if is_centre(user):
        # As with tickets (dispatch/access.py): an incident at a place in another city's service area belongs to
        # that city, and its reporter keeps reading it.
        city = city_scope(user)
        if city is None:
            return Incident.objects.all()
        return Incident.objects.filter(in_city(city) | Q(created_by=user))
    if is_agency(user):
        linked = IncidentAgency.objects.filter(agency_id=user.agency_id or 0).values("incident_id")
        return Incident.objects.filter(pk__in=linked)
    return Incident.objects.none()


def visible_agency_links(user: User, incident: Incident) -> QuerySet[IncidentAgency]:
    """Agencies see every agency working on an incident they are linked to (that is the point of
    linkage: who else is on site), but contact phones only of their own task (see the serializer)."""
    return IncidentAgency.objects.filter(incident=incident).select_related("agency")


def visible_incident_timeline(user: User, incident: Incident) -> QuerySet[IncidentTimelineEntry]:
    """Agencies read the incident's own steps and their own task's steps, not other agencies' tasks."""
    rows = IncidentTimelineEntry.objects.filter(incident=incident).select_related("agency_link__agency")
    if is_centre(user):
        return rows
    return rows.filter(agency_link__isnull=True) | rows.filter(agency_link__agency_id=user.agency_id or 0)


def sees_reporters(user: User) -> bool:
    """Who reported (tickets, calls, callers) is centre information."""
    return is_centre(user)
