"""Which agencies an incident usually needs (联动单位), found among the existing agencies by function.

A policy table, type -> agency functions with a default task each; for every function the agency
serving the incident's district (same administrative code) wins over a city-wide one. The commander
still decides: these are suggestions, linked only by ``actions.do_link_agency``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from emergency.models import Incident, IncidentType
from organisation.models import Agency, AgencyFunction

F = AgencyFunction

#: Type -> (function, default task). The district government is told of every incident in its area.
NEEDED: dict[str, tuple[tuple[str, object], ...]] = {
    IncidentType.FIRE: (
        (F.FIRE_RESCUE, _("Fight the fire and rescue trapped people")),
        (F.EMERGENCY_MEDICAL, _("Treat and transport the injured")),
        (F.PUBLIC_SECURITY, _("Cordon off the scene and keep order")),
    ),
    IncidentType.TRAFFIC_ACCIDENT: (
        (F.TRAFFIC_POLICE, _("Handle the accident and divert traffic")),
        (F.EMERGENCY_MEDICAL, _("Treat and transport the injured")),
        (F.FIRE_RESCUE, _("Free trapped people and clear spilled fuel")),
    ),
    IncidentType.FLOOD: (
        (F.FIRE_RESCUE, _("Rescue people trapped by water")),
        (F.WATER_SUPPLY, _("Pump out water and clear the drains")),
        (F.TRAFFIC_POLICE, _("Close flooded roads")),
    ),
    IncidentType.GAS_LEAK: (
        (F.GAS_SUPPLY, _("Shut off the gas and repair the leak")),
        (F.FIRE_RESCUE, _("Prevent ignition and evacuate")),
        (F.PUBLIC_SECURITY, _("Cordon off the area")),
    ),
    IncidentType.POWER_OUTAGE: ((F.POWER_SUPPLY, _("Restore the power supply")),),
    IncidentType.WATER_MAIN_BURST: (
        (F.WATER_SUPPLY, _("Close the valves and repair the main")),
        (F.TRAFFIC_POLICE, _("Divert traffic around the works")),
    ),
    IncidentType.BUILDING_COLLAPSE: (
        (F.FIRE_RESCUE, _("Search and rescue")),
        (F.EMERGENCY_MEDICAL, _("Treat and transport the injured")),
        (F.PUBLIC_SECURITY, _("Cordon off the scene and keep order")),
    ),
    IncidentType.HAZARDOUS_MATERIALS: (
        (F.FIRE_RESCUE, _("Contain the hazardous materials")),
        (F.ENVIRONMENT, _("Monitor and clean up the pollution")),
        (F.EMERGENCY_MEDICAL, _("Treat exposed people")),
    ),
    IncidentType.PUBLIC_HEALTH: (
        (F.EMERGENCY_MEDICAL, _("Treat and transport patients")),
        (F.HEALTH, _("Investigate and contain the outbreak")),
    ),
    IncidentType.PUBLIC_SECURITY: ((F.PUBLIC_SECURITY, _("Handle the case and keep order")),),
    IncidentType.OTHER: (),
}
DISTRICT_TASK = _("Coordinate on site and look after residents")


@dataclass(frozen=True)
class Suggestion:
    function: str
    agency: Agency
    task: str


def agency_for(function: str, district_code: str) -> Agency | None:
    """The active agency of this function serving the district, else a city-wide one."""
    candidates = Agency.objects.filter(function=function, active=True)
    if district_code:
        local = candidates.filter(adcode=district_code).order_by("sort_order", "code").first()
        if local is not None:
            return local
    city_wide = candidates.filter(Q(adcode="") | Q(adcode__endswith="00")).order_by("sort_order", "code").first()
    return city_wide or candidates.order_by("sort_order", "code").first()


def suggestions_for(incident: Incident) -> list[Suggestion]:
    wanted = [*NEEDED.get(incident.type, ()), (F.DISTRICT_GOVERNMENT, DISTRICT_TASK)]
    result: list[Suggestion] = []
    seen: set[int] = set()
    for function, task in wanted:
        if function == F.DISTRICT_GOVERNMENT and not incident.district_code:
            continue
        agency = agency_for(str(function), incident.district_code)
        if agency is None or agency.pk in seen:
            continue
        seen.add(agency.pk)
        result.append(Suggestion(str(function), agency, str(task)))
    return result
