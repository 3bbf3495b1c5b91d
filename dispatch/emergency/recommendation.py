"""Which units to send: the nearest available, fresh, in-service units of each needed type.

Straight-line distance through the moving-units index (unit_index.py). Types come from the incident's
type (NEEDED_TYPES) unless the request names them. Repair crews are matched to the utility the incident
needs (a gas leak wants the gas company's crew, not the power company's). With ``district_first`` the
units inside the incident's district come first, and units elsewhere fill the remaining places (the
list widens rather than coming back short). The rough ETA is the straight-line distance times a detour
factor over a typical urban speed per type; it is a hint for the commander, not a routing result.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from django.utils.translation import gettext as _

from dispatch import clock
from dispatch.emergency.unit_index import MovingUnitIndex, distance_m, index_lock, synced_index
from dispatch.emergency.unit_states import UnitStatus, UnitType
from dispatch.errors import InvalidInput
from dispatch.models import AgencyFunction

#: Typical urban speeds with lights and sirens (km/h): conservative, so ETAs are not promises.
TYPICAL_SPEED_KMH: dict[str, float] = {
    UnitType.POLICE_CAR: 40.0,
    UnitType.AMBULANCE: 40.0,
    UnitType.FIRE_ENGINE: 35.0,
    UnitType.RESCUE_TEAM: 30.0,
    UnitType.REPAIR_CREW: 30.0,
}
#: Roads are longer than the straight line: about 1.3 times in a city grid.
DETOUR_FACTOR = 1.3
MAX_PER_TYPE = 10

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


def rough_eta_seconds(unit_type: str, metres: float) -> int:
    speed_mps = TYPICAL_SPEED_KMH.get(unit_type, 30.0) / 3.6
    return round(metres * DETOUR_FACTOR / speed_mps)


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


def _district_locator() -> Callable[[float, float], str]:
    """Point -> district code ('' outside) on the active district layer, read once per recommendation."""
    from gis.index import OUTSIDE, current_index

    layer = current_index().layers.get("district")

    def district_of(lon: float, lat: float) -> str:
        if layer is None:
            return ""
        found = layer.locate_one(lon, lat)
        return "" if found == OUTSIDE else str(layer.codes[found])

    return district_of


def recommend(
    incident: Any,
    *,
    types: Sequence[str],
    per_type: int = 3,
    district_first: bool = False,
    index: MovingUnitIndex | None = None,
    now: dt.datetime | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Per type, up to ``per_type`` candidates nearest first: unit id, distance_m, eta_seconds, in_district."""
    from dispatch.emergency.models import Unit
    from dispatch.emergency.unit_actions import stale_after

    # Another request's sync may move units in the shared index: queries on it hold its lock.
    with index_lock if index is None else contextlib.nullcontext():
        index = index or synced_index()
        now = now or clock.now()
        fresh_since = (now - stale_after()).timestamp()
        lon, lat = float(incident.longitude), float(incident.latitude)
        district = (getattr(incident, "district_code", "") or "") if district_first else ""
        district_of = _district_locator() if district_first else None
        if district_of is not None and not district:
            district = district_of(lon, lat)
        district_cache: dict[int, bool] = {}

        def in_district(unit_id: int) -> bool:
            if unit_id not in district_cache:
                position = index.position(unit_id)
                if position is None or district_of is None:
                    return False
                district_cache[unit_id] = district_of(*position) == district
            return district_cache[unit_id]

        repair_units: set[int] | None = None
        function = REPAIR_FUNCTION.get(getattr(incident, "type", ""))
        if function and UnitType.REPAIR_CREW in types:
            repair_units = set(
                Unit.objects.filter(unit_type=UnitType.REPAIR_CREW, agency__function=function).values_list(
                    "pk", flat=True
                )
            )

        picked: dict[str, list[tuple[int, bool]]] = {}
        for unit_type in types:
            base: Callable[[int], bool] | None = None
            if unit_type == UnitType.REPAIR_CREW and repair_units is not None:
                allowed = repair_units
                base = allowed.__contains__
            chosen: list[tuple[int, bool]] = []
            if district:

                def in_district_of_type(uid: int, base: Callable[[int], bool] | None = base) -> bool:
                    return in_district(uid) and (base is None or base(uid))

                first = index.nearest(
                    unit_type, lon, lat, per_type, fresh_since=fresh_since, accept=in_district_of_type
                )
                chosen = [(uid, True) for uid, _d in first]
            if len(chosen) < per_type:
                taken = {uid for uid, _flag in chosen}

                def not_taken(uid: int, base: Callable[[int], bool] | None = base, taken: set[int] = taken) -> bool:
                    return uid not in taken and (base is None or base(uid))

                rest = index.nearest(
                    unit_type, lon, lat, per_type - len(chosen), fresh_since=fresh_since, accept=not_taken
                )
                chosen += [(uid, bool(district) and in_district(uid)) for uid, _d in rest]
            picked[unit_type] = chosen

    ids = {uid for chosen in picked.values() for uid, _flag in chosen}
    units = Unit.objects.select_related("agency").in_bulk(ids)
    result: dict[str, list[dict[str, Any]]] = {}
    for unit_type, chosen in picked.items():
        rows = []
        for uid, flag in chosen:
            unit = units.get(uid)
            # The index is synced before the query; a row that changed since is left out, not shown wrong.
            if (
                unit is None
                or unit.status != UnitStatus.AVAILABLE
                or not unit.active
                or unit.fix_at is None
                or unit.longitude is None
                or unit.latitude is None
                or now - unit.fix_at > stale_after()
            ):
                continue
            metres = distance_m(unit.longitude, unit.latitude, lon, lat)
            rows.append(
                {
                    "unit": unit,
                    "distance_m": round(metres, 1),
                    "eta_seconds": rough_eta_seconds(unit.unit_type, metres),
                    "in_district": flag,
                }
            )
        result[unit_type] = rows
    return result
