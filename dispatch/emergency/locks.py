"""Row locks of the emergency write path.

Order, always: tickets (dispatch/locks.py) before incidents, incidents in pk order, then their agency
links in pk order, then units (the units helper's locks). Two actions then never wait on each other in
opposite orders.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _

from core.errors import NotFound
from dispatch.emergency.models import Incident, IncidentAgency


def lock_incident(incident_id: int) -> Incident:
    incident = Incident.objects.select_for_update(of=("self",)).filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(_("No such incident."))
    return incident


def lock_incidents(incident_ids: Iterable[int]) -> dict[int, Incident]:
    ids = sorted(set(incident_ids))
    incidents = {i.pk: i for i in Incident.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")}
    if len(incidents) != len(ids):
        raise NotFound(_("No such incident."))
    return incidents


def lock_agency_links(incident: Incident) -> list[IncidentAgency]:
    # The agencies are read with the links, not locked (of=("self",)): an Agency row lock would tie incidents.
    return list(
        IncidentAgency.objects.select_for_update(of=("self",))
        .filter(incident=incident)
        .select_related("agency")
        .order_by("pk")
    )


def lock_agency_link(link_id: int) -> tuple[Incident, IncidentAgency]:
    incident_id = IncidentAgency.objects.filter(pk=link_id).values_list("incident_id", flat=True).first()
    if incident_id is None:
        raise NotFound(_("No such agency task."))
    incident = lock_incident(incident_id)
    link = IncidentAgency.objects.select_for_update(of=("self",)).select_related("agency").get(pk=link_id)
    return incident, link
