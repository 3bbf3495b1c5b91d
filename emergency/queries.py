"""Read paths of incidents for other modules (the live socket's snapshot)."""

from __future__ import annotations

from typing import Any

from emergency.actions import INCIDENT_SUMMARY_FIELDS
from emergency.models import Incident, IncidentAgency
from emergency.states import ACTIVE_INCIDENT_STATES
from organisation.models import in_city

SNAPSHOT_LIMIT = 500


def live_incidents_snapshot(*, centre: bool, agency_id: int | None, city_id: int | None = None) -> list[dict[str, Any]]:
    """The live incidents a screen shows, in the scope of a centre or an agency connection (the same
    fields as the events' ``incident``, so screens treat both alike). A centre connection of one city
    (``city_id``) gets that city's incidents, as its events (None: every city's)."""
    incidents = Incident.objects.filter(state__in=ACTIVE_INCIDENT_STATES)
    if centre and city_id is not None:
        incidents = incidents.filter(in_city(city_id))
    if not centre:
        incidents = incidents.filter(
            pk__in=IncidentAgency.objects.filter(agency_id=agency_id or 0).values("incident_id")
        )
    return [dict(row) for row in incidents.order_by("-id").values(*INCIDENT_SUMMARY_FIELDS)[:SNAPSHOT_LIMIT]]
