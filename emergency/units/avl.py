"""Parsing of AVL position reports: our JSON format and the Traccar/OsmAnd query format (docs/AVL.md).

Parsing only: every fix comes out in WGS84 with an aware time, or the whole report is refused with
InvalidInput naming each bad field. Which units exist and who may report for them is decided by
unit_actions.check_record_positions; nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from core import clock
from core.errors import InvalidInput
from gis.coords import CoordinateSystem, convert_point

#: Most fixes one request may carry; a device that was offline for a while sends its backlog in pieces.
MAX_BATCH = 500
#: OsmAnd clients (Traccar Client and the like) report speed in knots.
METRES_PER_SECOND_PER_KNOT = 1852.0 / 3600.0
#: Speeds above this (about 720 km/h) are a broken receiver, not a vehicle.
MAX_SPEED_MPS = 200.0
#: Unix times above this are milliseconds (1e12 s is the year 33658).
MILLISECONDS_THRESHOLD = 1e12
ACCEPTED_SYSTEMS = (CoordinateSystem.WGS84.value, CoordinateSystem.GCJ02.value)


@dataclass(frozen=True)
class Fix:
    device_id: str
    longitude: float  # WGS84
    latitude: float  # WGS84
    fix_at: dt.datetime
    speed: float | None = None  # m/s
    heading: float | None = None  # degrees clockwise from north
    accuracy: float | None = None  # metres


def future_tolerance() -> dt.timedelta:
    return dt.timedelta(seconds=float(settings.HOTLINE.get("AVL_FUTURE_TOLERANCE_SECONDS", 60)))


class _Errors:
    """Collects field errors under a prefix ("positions.3.lat") so a batch names every bad field at once."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise InvalidInput(_("Some fields are not valid."), fields=self.fields)


def _number(value: Any, name: str, errors: _Errors, *, low: float, high: float, required: bool) -> float | None:
    if value is None or value == "":
        if required:
            errors.add(name, _("This field is required."))
        return None
    if isinstance(value, bool):
        errors.add(name, _("A number is required."))
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors.add(name, _("A number is required."))
        return None
    if not math.isfinite(number) or not low <= number <= high:
        errors.add(name, _("Must be between %(low)s and %(high)s.") % {"low": low, "high": high})
        return None
    return number


def _device_id(value: Any, name: str, errors: _Errors) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        errors.add(name, _("This field is required."))
        return ""
    text = str(value).strip()
    if len(text) > 64:
        errors.add(name, _("At most %(n)d characters.") % {"n": 64})
    return text


def _iso_time(value: str, name: str, errors: _Errors) -> dt.datetime | None:
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        errors.add(name, _("An ISO-8601 time with a UTC offset is required."))
        return None
    if parsed.tzinfo is None:
        errors.add(name, _("The time needs a UTC offset (e.g. +08:00 or Z)."))
        return None
    return parsed


def _unix_or_iso_time(value: Any, name: str, errors: _Errors) -> dt.datetime | None:
    if value is None or value == "":
        errors.add(name, _("This field is required."))
        return None
    if isinstance(value, str) and not value.strip().lstrip("-").replace(".", "", 1).isdigit():
        return _iso_time(value, name, errors)
    seconds = _number(value, name, errors, low=0, high=1e16, required=True)
    if seconds is None:
        return None
    if seconds >= MILLISECONDS_THRESHOLD:
        seconds /= 1000.0
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        errors.add(name, _("Not a valid time."))
        return None


def _not_in_future(moment: dt.datetime | None, name: str, errors: _Errors, now: dt.datetime) -> None:
    if moment is not None and moment > now + future_tolerance():
        errors.add(name, _("The time is in the future."))


def _to_wgs84(lon: float, lat: float, system: str) -> tuple[float, float]:
    if system == CoordinateSystem.WGS84.value:
        return lon, lat
    return convert_point(lon, lat, system, CoordinateSystem.WGS84.value)


def _system(value: Any, name: str, errors: _Errors) -> str:
    system = CoordinateSystem.WGS84.value if value in (None, "") else str(value).lower()
    if system not in ACCEPTED_SYSTEMS:
        errors.add(name, _("One of: %(systems)s.") % {"systems": ", ".join(ACCEPTED_SYSTEMS)})
    return system


def _one_json_fix(item: Any, prefix: str, errors: _Errors, now: dt.datetime) -> Fix | None:
    if not isinstance(item, Mapping):
        errors.add(prefix.rstrip(".") or "body", _("Expected an object."))
        return None
    before = len(errors.fields)
    unknown = sorted(set(item) - {"device_id", "lon", "lat", "crs", "time", "speed", "heading", "accuracy"})
    for key in unknown:
        errors.add(f"{prefix}{key}", _("Unknown field."))
    device = _device_id(item.get("device_id"), f"{prefix}device_id", errors)
    lon = _number(item.get("lon"), f"{prefix}lon", errors, low=-180, high=180, required=True)
    lat = _number(item.get("lat"), f"{prefix}lat", errors, low=-90, high=90, required=True)
    system = _system(item.get("crs"), f"{prefix}crs", errors)
    raw_time = item.get("time")
    if not isinstance(raw_time, str):
        errors.add(f"{prefix}time", _("An ISO-8601 time with a UTC offset is required."))
        fix_at = None
    else:
        fix_at = _iso_time(raw_time, f"{prefix}time", errors)
    _not_in_future(fix_at, f"{prefix}time", errors, now)
    speed = _number(item.get("speed"), f"{prefix}speed", errors, low=0, high=MAX_SPEED_MPS, required=False)
    heading = _number(item.get("heading"), f"{prefix}heading", errors, low=0, high=360, required=False)
    accuracy = _number(item.get("accuracy"), f"{prefix}accuracy", errors, low=0, high=100_000, required=False)
    if len(errors.fields) != before or lon is None or lat is None or fix_at is None:
        return None
    wgs_lon, wgs_lat = _to_wgs84(lon, lat, system)
    return Fix(device, wgs_lon, wgs_lat, fix_at, speed, heading, accuracy)


def parse_json_report(body: Any) -> list[Fix]:
    """One fix object, or {"positions": [fix, ...]} (at most MAX_BATCH)."""
    errors = _Errors()
    now = clock.now()
    if isinstance(body, Mapping) and "positions" in body:
        items = body["positions"]
        if set(body) != {"positions"}:
            errors.add("body", _("A batch carries only 'positions'."))
        if not isinstance(items, list) or not items:
            errors.add("positions", _("A non-empty list of positions is required."))
            errors.raise_if_any()
        if len(items) > MAX_BATCH:
            errors.add("positions", _("At most %(n)d positions per request.") % {"n": MAX_BATCH})
            errors.raise_if_any()
        fixes = [_one_json_fix(item, f"positions.{i}.", errors, now) for i, item in enumerate(items)]
    elif isinstance(body, Mapping):
        fixes = [_one_json_fix(body, "", errors, now)]
    else:
        errors.add("body", _("Expected an object."))
        fixes = []
    errors.raise_if_any()
    return [fix for fix in fixes if fix is not None]


def parse_osmand(params: Mapping[str, Any]) -> Fix:
    """The OsmAnd protocol as Traccar documents it: ``id`` (or ``deviceid``), ``lat``, ``lon`` (or
    ``location=lat,lon``), ``timestamp`` (Unix seconds, milliseconds, or ISO-8601 with an offset),
    ``speed`` in knots, ``bearing`` (or ``heading``) in degrees, ``accuracy`` in metres (``hdop`` is
    taken as metres when no accuracy is given), plus our extension ``crs=wgs84|gcj02``. Other
    parameters the clients send (altitude, batt, charge, valid...) are accepted and ignored, except
    ``valid=false``, which is refused: it is no fix."""
    errors = _Errors()
    now = clock.now()
    device = _device_id(params.get("id") or params.get("deviceid"), "id", errors)
    raw_lat, raw_lon = params.get("lat"), params.get("lon")
    location = params.get("location")
    if (raw_lat in (None, "") or raw_lon in (None, "")) and isinstance(location, str) and "," in location:
        raw_lat, raw_lon = (part.strip() for part in location.split(",", 1))
    lat = _number(raw_lat, "lat", errors, low=-90, high=90, required=True)
    lon = _number(raw_lon, "lon", errors, low=-180, high=180, required=True)
    system = _system(params.get("crs"), "crs", errors)
    fix_at = _unix_or_iso_time(params.get("timestamp"), "timestamp", errors)
    _not_in_future(fix_at, "timestamp", errors, now)
    knots = _number(
        params.get("speed"), "speed", errors, low=0, high=MAX_SPEED_MPS / METRES_PER_SECOND_PER_KNOT, required=False
    )
    bearing = params.get("bearing") if params.get("bearing") not in (None, "") else params.get("heading")
    heading = _number(bearing, "bearing", errors, low=0, high=360, required=False)
    raw_accuracy = params.get("accuracy") if params.get("accuracy") not in (None, "") else params.get("hdop")
    accuracy = _number(raw_accuracy, "accuracy", errors, low=0, high=100_000, required=False)
    if str(params.get("valid", "true")).lower() in ("false", "0"):
        errors.add("valid", _("The device marked this position as not valid."))
    errors.raise_if_any()
    assert lon is not None and lat is not None and fix_at is not None
    wgs_lon, wgs_lat = _to_wgs84(lon, lat, system)
    speed = None if knots is None else knots * METRES_PER_SECOND_PER_KNOT
    return Fix(device, wgs_lon, wgs_lat, fix_at, speed, heading, accuracy)
