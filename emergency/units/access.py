"""Who may see which unit. Centre staff see every unit; an agency sees its own units and the units
assigned (open assignment) to incidents it is linked to; everyone else sees none. A unit outside a
user's scope does not exist for them (404)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from emergency.models import Assignment, IncidentAgency, Unit
from organisation.models import User
from organisation.policy import is_agency, is_centre


def visible_units(user: User) -> QuerySet[Unit]:
    if is_centre(user):
        return Unit.objects.all()
    if is_agency(user):
        agency_id = user.agency_id or 0
        linked_incidents = IncidentAgency.objects.filter(agency_id=agency_id).values("incident_id")
        on_linked = Assignment.objects.filter(cleared_at__isnull=True, incident_id__in=linked_incidents).values(
            "unit_id"
        )
        return Unit.objects.filter(Q(agency_id=agency_id) | Q(pk__in=on_linked))
    return Unit.objects.none()
