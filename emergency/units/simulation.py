"""The demo's vehicles: units that drive, patrol and report their positions like real AVL devices.

Every tick builds one AVL report in our JSON format (repair crews report in GCJ-02, like the phone
apps utilities use) and sends it through the same parsing and ingest action as the HTTP endpoint, as
the gateway account. Assigned units drive to their incident at a typical speed; with ``auto_status``
the simulated crews also press their buttons (en route, on scene, clear, available), as the
administrator, so a newcomer sees a dispatched unit go all the way to the scene and back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any

from core import clock
from core.errors import DomainError
from emergency.models import Assignment, Unit
from emergency.states import UnitStatus, UnitType
from emergency.units.actions import do_change_unit_status, do_record_positions
from emergency.units.avl import parse_json_report
from emergency.units.measures import distance_m
from gis.coords import wgs84_to_gcj02
from organisation.models import User

METRES_PER_DEGREE = 111_132.0
#: Simulated driving speeds (m/s): to an incident with lights on, back home, patrolling.
RESPONSE_SPEED = 14.0
RETURN_SPEED = 10.0
PATROL_SPEED = 7.0
PATROL_RADIUS_M = 2000.0
ARRIVED_M = 40.0
#: A simulated crew stays this long on scene before clearing.
ON_SCENE_SECONDS = 180.0
#: ... and reports en route this long after being dispatched.
TURNOUT_SECONDS = 8.0


def step_towards(lon: float, lat: float, to_lon: float, to_lat: float, metres: float) -> tuple[float, float, float]:
    """(lon, lat, heading) after driving ``metres`` straight towards the target (stopping on it)."""
    kx = METRES_PER_DEGREE * math.cos(math.radians(lat))
    dx, dy = (to_lon - lon) * kx, (to_lat - lat) * METRES_PER_DEGREE
    remaining = math.hypot(dx, dy)
    heading = (math.degrees(math.atan2(dx, dy)) + 360.0) % 360.0
    if remaining <= metres or remaining == 0:
        return to_lon, to_lat, heading
    share = metres / remaining
    return lon + dx * share / kx, lat + dy * share / METRES_PER_DEGREE, heading


@dataclass
class Simulator:
    actor: User
    rng: random.Random
    interval: float = 2.0
    auto_status: bool = True
    waypoints: dict[int, tuple[float, float]] = field(default_factory=dict)

    def _patrol_target(self, unit: Unit, lon: float, lat: float) -> tuple[float, float]:
        target = self.waypoints.get(unit.pk)
        if target is None or distance_m(lon, lat, *target) < ARRIVED_M:
            angle = self.rng.uniform(0, 2 * math.pi)
            reach = self.rng.uniform(0.2, 1.0) * PATROL_RADIUS_M
            kx = METRES_PER_DEGREE * math.cos(math.radians(unit.station_latitude))
            target = (
                unit.station_longitude + reach * math.sin(angle) / kx,
                unit.station_latitude + reach * math.cos(angle) / METRES_PER_DEGREE,
            )
            self.waypoints[unit.pk] = target
        return target

    def _press(self, unit: Unit, action: str) -> None:
        if not self.auto_status:
            return
        # Someone may have moved the unit meanwhile; a real crew would then see the new status.
        with contextlib.suppress(DomainError):
            do_change_unit_status(unit.pk, action, actor=self.actor, note="simulate_units")

    def _next_fix(self, unit: Unit, incident: tuple[float, float] | None, now: dt.datetime) -> tuple[float, ...]:
        lon = unit.longitude if unit.longitude is not None else unit.station_longitude
        lat = unit.latitude if unit.latitude is not None else unit.station_latitude
        home = (unit.station_longitude, unit.station_latitude)
        since = (now - unit.status_changed_at).total_seconds()
        speed, target = 0.0, None
        if unit.status in (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE) and incident is not None:
            if unit.status == UnitStatus.DISPATCHED and since >= TURNOUT_SECONDS:
                self._press(unit, "en_route")
            speed, target = RESPONSE_SPEED, incident
            if distance_m(lon, lat, *incident) <= ARRIVED_M:
                self._press(unit, "arrive")
        elif unit.status == UnitStatus.ON_SCENE:
            if since >= ON_SCENE_SECONDS:
                self._press(unit, "clear")
        elif unit.status == UnitStatus.RETURNING:
            speed, target = RETURN_SPEED, home
            if distance_m(lon, lat, *home) <= ARRIVED_M:
                self._press(unit, "make_available")
        elif unit.status == UnitStatus.AVAILABLE and unit.unit_type == UnitType.POLICE_CAR:
            speed, target = PATROL_SPEED, self._patrol_target(unit, lon, lat)
        elif unit.status == UnitStatus.AVAILABLE and distance_m(lon, lat, *home) > ARRIVED_M:
            speed, target = RETURN_SPEED, home
        heading = unit.heading or 0.0
        if target is not None and speed > 0:
            lon, lat, heading = step_towards(lon, lat, target[0], target[1], speed * self.interval)
        else:
            speed = 0.0
            # A parked receiver still wanders by a few metres.
            lon += self.rng.uniform(-3, 3) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
            lat += self.rng.uniform(-3, 3) / METRES_PER_DEGREE
        return lon, lat, heading, speed

    def tick(self) -> int:
        """Move every active unit with a device one interval; returns how many fixes were accepted."""
        now = clock.now()
        units = list(Unit.objects.filter(active=True, device_id__isnull=False).order_by("pk"))
        targets = {
            row["unit_id"]: (row["incident__longitude"], row["incident__latitude"])
            for row in Assignment.objects.filter(cleared_at__isnull=True).values(
                "unit_id", "incident__longitude", "incident__latitude"
            )
        }
        positions: list[dict[str, Any]] = []
        for unit in units:
            lon, lat, heading, speed = self._next_fix(unit, targets.get(unit.pk), now)
            crs = "wgs84"
            if unit.unit_type == UnitType.REPAIR_CREW:
                lon, lat = (float(v) for v in wgs84_to_gcj02(lon, lat))
                crs = "gcj02"
            positions.append(
                {
                    "device_id": unit.device_id,
                    "lon": round(lon, 7),
                    "lat": round(lat, 7),
                    "crs": crs,
                    "time": now.isoformat(),
                    "speed": round(speed, 1),
                    "heading": round(heading, 1),
                    "accuracy": 5,
                }
            )
        if not positions:
            return 0
        fixes = parse_json_report({"positions": positions})
        return do_record_positions(fixes, actor=self.actor).accepted
