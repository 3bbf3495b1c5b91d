"""Small measures shared by recommendations, unit actions and the simulation: how far a unit is, roughly
how long it needs to get there, and how old its fix may be before it counts as stale.

This module sits below recommendation.py and unit_actions.py (it imports neither), so that both can use
the same distance, ETA and staleness rules without importing each other.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import numpy.typing as npt
from django.conf import settings

from emergency.states import UnitType

#: Mean Earth radius (IUGG), the sphere the haversine distance is computed on.
EARTH_RADIUS_M = 6_371_008.8

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


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle (haversine) distance in metres between two WGS84 points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distances_m(
    lons: npt.NDArray[np.float64], lats: npt.NDArray[np.float64], lon: float, lat: float
) -> npt.NDArray[np.float64]:
    """``distance_m`` from each of many points to one point, in one vectorised step (same formula)."""
    phi1, phi2 = np.radians(lats), math.radians(lat)
    dphi = phi2 - phi1
    dlambda = np.radians(lon - lons)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * math.cos(phi2) * np.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def rough_eta_seconds(unit_type: str, metres: float) -> int:
    """Straight-line metres times the detour factor over the type's typical speed: a hint, not routing."""
    speed_mps = TYPICAL_SPEED_KMH.get(unit_type, 30.0) / 3.6
    return round(metres * DETOUR_FACTOR / speed_mps)


def hotline_setting(name: str, default: float) -> float:
    return float(settings.HOTLINE.get(name, default))


def stale_after() -> dt.timedelta:
    """A fix older than this (HOTLINE["UNIT_STALE_SECONDS"]) is stale: the unit is not recommended."""
    return dt.timedelta(seconds=hotline_setting("UNIT_STALE_SECONDS", 120))
