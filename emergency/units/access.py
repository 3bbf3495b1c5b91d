"""Who may see which unit. Centre staff see every unit (centre staff of one city: the units of that city's
agencies, an agency naming no city being the default city's); an agency sees its own units and the units
assigned (open assignment) to incidents it is linked to; everyone else sees none. A unit outside a
user's scope does not exist for them (404)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from emergency.models import Assignment, IncidentAgency, Unit
from organisation.models import User, in_city
from organisation.policy import city_scope, is_agency, is_centre


def visible_units(user: User) -> QuerySet[Unit]:
    if is_centre(user):
        city = city_scope(user)
        return Unit.objects.filter(in_city(city, field="agency__city")) if city is not None else Unit.objects.all()
    if is_agency(user):
        agency_id = user.agency_id or 0
        linked_incidents = IncidentAgency.objects.filter(agency_id=agency_id).values("incident_id")
        on_linked = Assignment.objects.filter(cleared_at__isnull=True, incident_id__in=linked_incidents).values(
            "unit_id"
        )
        return Unit.objects.filter(Q(agency_id=agency_id) | Q(pk__in=on_linked))
    return Unit.objects.none()
