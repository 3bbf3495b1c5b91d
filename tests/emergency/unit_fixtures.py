"""Shared helpers of the units tests: units at known places, fixes at known times, incidents."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core import clock
from emergency.actions import do_report_incident
from emergency.models import Incident, Unit
from emergency.units.actions import do_record_positions, do_upsert_unit
from emergency.units.avl import Fix
from organisation.models import Agency
from tests.conftest import World

#: A fixed "now" for tests that pin the clock (Asia/Shanghai 10:00).
NOW = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)
#: 柳州 城中区 (WGS84).
CENTRE_LON, CENTRE_LAT = 109.4112, 24.3126
#: About one metre of latitude / longitude at Liuzhou, in degrees.
M_LAT = 1 / 111_132
M_LON = 1 / (111_132 * 0.9112)


def make_unit(
    call_sign: str,
    unit_type: str,
    agency: Agency,
    *,
    device_id: str | None = None,
    device_key: str | None = None,
    station: tuple[float, float] = (CENTRE_LON, CENTRE_LAT),
) -> Unit:
    spec: dict[str, Any] = {
        "call_sign": call_sign,
        "unit_type": unit_type,
        "agency": agency.code,
        "station": {"name": f"{call_sign} 驻地", "lon": station[0], "lat": station[1]},
        "device_id": device_id or f"dev-{call_sign}",
    }
    if device_key:
        spec["device_key"] = device_key
    unit, _created = do_upsert_unit(spec)
    return unit


def place_unit(world: World, unit: Unit, lon: float, lat: float, at: dt.datetime | None = None) -> None:
    """One fix through the real ingest action (sent by the administrator's gateway account)."""
    moment = at or clock.now()
    assert unit.device_id
    do_record_positions([Fix(unit.device_id, lon, lat, moment)], actor=world.users["admin"])


def report_incident(world: World, lon: float, lat: float, incident_type: str = "fire") -> Incident:
    return do_report_incident(
        {"type": incident_type, "title": "测试事件", "latitude": lat, "longitude": lon},
        actor=world.users["commander"],
    )


def east_of(metres: float, lon: float = CENTRE_LON) -> float:
    return lon + metres * M_LON


def unit_scenario(world: World) -> None:
    """Unit events touching both agencies (for the socket scope test in tests/realtime/)."""
    from emergency.units.actions import do_change_unit_status

    suffix = str(Unit.objects.count())
    a_unit = make_unit(f"A-{suffix}", "fire_engine", world.agency_a)
    b_unit = make_unit(f"B-{suffix}", "ambulance", world.agency_b)
    place_unit(world, a_unit, CENTRE_LON, CENTRE_LAT)
    do_change_unit_status(b_unit.pk, "out_of_service", actor=world.users["handler_b"])
