"""Which units to send: the nearest available, fresh, in-service units of each needed type.

Types come from the incident's type (NEEDED_TYPES) unless the request names them. Repair crews are
matched to the utility the incident needs (a gas leak wants the gas company's crew, not the power
company's). One query reads the candidates of every needed type (active, available, with a position and
a fix no older than HOTLINE["UNIT_STALE_SECONDS"]), NumPy computes their great-circle distances to the
incident in one step, and each type keeps its ``per_type`` nearest, ties by unit id. A city has a few
thousand units at most: reading them all keeps the search this simple, with no index or cache that could
fall behind the table in some process (benchmarks/nearest_units.py times it at 5,000 units).

With ``district_first`` the units inside the incident's district come first, and units elsewhere fill
the remaining places (the list widens rather than coming back short). The rough ETA is the straight-line
distance times a detour factor over a typical urban speed per type (unit_measures.py); it is a hint for
the commander, not a routing result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from core import clock
from core.errors import InvalidInput
from emergency.models import Unit
from emergency.states import UnitStatus, UnitType
from emergency.units.measures import distance_m, distances_m, rough_eta_seconds, stale_after
from gis.index import OUTSIDE, current_index
from organisation.models import AgencyFunction

MAX_PER_TYPE = 10
#: One candidate as NumPy holds it (unit types are at most 20 characters, as in the model).
CANDIDATE_ROW = np.dtype([("id", np.int64), ("unit_type", "U20"), ("lon", np.float64), ("lat", np.float64)])

#: Unit types an incident type needs, most important first (the request may override them).
NEEDED_TYPES: dict[str, tuple[str, ...]] = {
    "fire": (UnitType.FIRE_ENGINE, UnitType.AMBULANCE, UnitType.POLICE_CAR),
    "traffic_accident": (UnitType.POLICE_CAR, UnitType.AMBULANCE, UnitType.FIRE_ENGINE),
    "flood": (UnitType.RESCUE_TEAM, UnitType.REPAIR_CREW, UnitType.POLICE_CAR),
    "gas_leak": (UnitType.REPAIR_CREW, UnitType.FIRE_ENGINE, UnitType.POLICE_CAR),
    "power_outage": (UnitType.REPAIR_CREW,),
    "water_main_burst": (UnitType.REPAIR_CREW, UnitType.POLICE_CAR),
    "building_collapse": (UnitType.RESCUE_TEAM, UnitType.FIRE_ENGINE, UnitType.AMBULANCE, UnitType.POLICE_CAR),
    "hazardous_materials": (UnitType.FIRE_ENGINE, UnitType.RESCUE_TEAM, UnitType.AMBULANCE, UnitType.POLICE_CAR),
    "public_health": (UnitType.AMBULANCE,),
    "public_security": (UnitType.POLICE_CAR,),
    "other": (UnitType.POLICE_CAR,),
}
#: For repair crews: which utility's crews an incident type needs (other types take any repair crew).
REPAIR_FUNCTION: dict[str, str] = {
    "gas_leak": AgencyFunction.GAS_SUPPLY,
    "power_outage": AgencyFunction.POWER_SUPPLY,
    "water_main_burst": AgencyFunction.WATER_SUPPLY,
    "flood": AgencyFunction.WATER_SUPPLY,
}


def parse_types(raw: str | None, incident_type: str) -> list[str]:
    if not raw:
        return list(NEEDED_TYPES.get(incident_type, (UnitType.POLICE_CAR,)))
    types = [part.strip() for part in raw.split(",") if part.strip()]
    bad = [t for t in types if t not in UnitType.values]
    if bad or not types:
        raise InvalidInput(
            _("Some fields are not valid."),
            fields={
                "types": [_("Comma-separated, each one of: %(choices)s.") % {"choices": ", ".join(UnitType.values)}]
            },
        )
    return list(dict.fromkeys(types))


def recommendable(now: dt.datetime) -> QuerySet[Unit]:
    """Units that may be recommended at ``now``: active, available, with a position and a fix that is not
    stale (the same boundary as ``unit_actions.is_stale``)."""
    return Unit.objects.filter(
        active=True,
        status=UnitStatus.AVAILABLE,
        longitude__isnull=False,
        latitude__isnull=False,
        fix_at__gte=now - stale_after(),
    )


def candidate_units(types: Sequence[str], incident_type: str, now: dt.datetime) -> QuerySet[Unit]:
    """The recommendable units of the requested types; repair crews only of the utility the incident type
    needs, if it names one."""
    function = REPAIR_FUNCTION.get(incident_type)
    if function is None or UnitType.REPAIR_CREW not in types:
        wanted = Q(unit_type__in=types)
    else:
        others = [unit_type for unit_type in types if unit_type != UnitType.REPAIR_CREW]
        wanted = Q(unit_type__in=others) | Q(unit_type=UnitType.REPAIR_CREW, agency__function=function)
    return recommendable(now).filter(wanted)


def _in_district(
    incident: Any, lon: float, lat: float, lons: npt.NDArray[np.float64], lats: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Per candidate: inside the incident's district (its stored code, else where its point falls) on the
    active district layer of the incident's city (the default city's outside every service area). All False when
    there is no layer or the incident is outside every district."""
    inside = np.zeros(len(lons), dtype=bool)
    index = current_index()
    # The districts of the city whose service area holds the incident; outside every service area (a stored
    # district code can still name one), the default city's.
    city = index.city_at(lon, lat)
    layer = (city.layers if city is not None else index.layers_of(None)).get("district")
    if layer is None:
        return inside
    district = getattr(incident, "district_code", "") or ""
    if not district:
        found = layer.locate_one(lon, lat)
        district = "" if found == OUTSIDE else str(layer.codes[found])
    if district:
        # The bulk lookup gives the same polygon as locate_one for every point, boundaries included.
        located = layer.locate(lons, lats)
        hit = located != OUTSIDE
        inside[hit] = layer.codes[located[hit]] == district
    return inside


def recommend(
    incident: Any,
    *,
    types: Sequence[str],
    per_type: int = 3,
    district_first: bool = False,
    now: dt.datetime | None = None,
    among: QuerySet[Unit] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Per type, up to ``per_type`` candidates nearest first: unit, distance_m, eta_seconds, in_district.
    ``among``: only these units (the ones the asking command desk commands: its city's), default every unit."""
    now = now or clock.now()
    lon, lat = float(incident.longitude), float(incident.latitude)
    rows = candidate_units(types, getattr(incident, "type", ""), now).order_by()
    if among is not None:
        rows = rows.filter(pk__in=among.values("pk"))
    table = np.array(list(rows.values_list("id", "unit_type", "longitude", "latitude")), dtype=CANDIDATE_ROW)
    ids, unit_types, lons, lats = table["id"], table["unit_type"], table["lon"], table["lat"]
    metres = distances_m(lons, lats, lon, lat)
    inside = _in_district(incident, lon, lat, lons, lats) if district_first else np.zeros(len(table), dtype=bool)

    picked: dict[str, list[tuple[int, bool]]] = {}
    for unit_type in types:
        of_type = np.flatnonzero(unit_types == unit_type)
        # lexsort orders by its last key first: the district's own units (when asked), then the nearest,
        # then the smallest id, so equal distances always come out in the same order.
        order = np.lexsort((ids[of_type], metres[of_type], ~inside[of_type]))[: max(per_type, 0)]
        picked[unit_type] = [(int(ids[i]), bool(inside[i])) for i in of_type[order]]

    # Read again under the same rules for the serializer: a unit dispatched or fallen silent since the
    # first read is left out rather than shown wrong.
    units = (
        recommendable(now)
        .select_related("agency")
        .in_bulk([uid for chosen in picked.values() for uid, _flag in chosen])
    )
    result: dict[str, list[dict[str, Any]]] = {}
    for unit_type, chosen in picked.items():
        result[unit_type] = []
        for uid, flag in chosen:
            unit = units.get(uid)
            if unit is None or unit.longitude is None or unit.latitude is None:
                continue
            metres_now = distance_m(unit.longitude, unit.latitude, lon, lat)
            result[unit_type].append(
                {
                    "unit": unit,
                    "distance_m": round(metres_now, 1),
                    "eta_seconds": rough_eta_seconds(unit.unit_type, metres_now),
                    "in_district": flag,
                }
            )
    return result
