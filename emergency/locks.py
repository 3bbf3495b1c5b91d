"""Row locks of incidents, their agency links and units, in the one lock order that core/locks.py
writes down: tickets (dispatch/locks.py) before incidents, then their agency links, then units."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _

from core.errors import NotFound
from core.locks import lock_all, lock_many, lock_one
from emergency.models import Incident, IncidentAgency, Unit


def lock_incident(incident_id: int) -> Incident:
    return lock_one(Incident.objects.all(), incident_id, missing=_("No such incident."))


def lock_incidents(incident_ids: Iterable[int]) -> dict[int, Incident]:
    return lock_many(Incident.objects.all(), incident_ids, missing=_("No such incident."))


def lock_agency_links(incident: Incident) -> list[IncidentAgency]:
    # The agencies are read with the links, not locked: an Agency row lock would tie incidents together.
    return lock_all(IncidentAgency.objects.filter(incident=incident).select_related("agency"))


def lock_agency_link(link_id: int) -> tuple[Incident, IncidentAgency]:
    incident_id = IncidentAgency.objects.filter(pk=link_id).values_list("incident_id", flat=True).first()
    if incident_id is None:
        raise NotFound(_("No such agency task."))
    incident = lock_incident(incident_id)
    link = IncidentAgency.objects.select_for_update(of=("self",)).select_related("agency").get(pk=link_id)
    return incident, link


def lock_units(unit_ids: Iterable[int]) -> dict[int, Unit]:
    """Units in pk order, after any incident they are assigned to."""
    return lock_many(Unit.objects.all(), unit_ids, missing=_("No such unit."))
