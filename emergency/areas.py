"""Where an incident is and what it affects: input checks and conversions (coordinates stored in WGS84).

The affected area is a point (the location itself), a circle (the location and a radius in metres) or
one polygon given as GeoJSON. Polygons arrive in WGS84, GCJ-02 or BD-09 like every coordinate, are
converted to WGS84 at this edge and must be valid (Shapely), simple and small enough to publish in a
CAP alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from django.utils.translation import gettext as _
from shapely.geometry import Polygon, mapping, shape

from emergency.models import AffectedAreaKind
from gis.coords import CoordinateSystem, convert_point, transform_geometry

MAX_RADIUS_METRES = 100_000.0
MAX_POLYGON_VERTICES = 500


@dataclass(frozen=True)
class Location:
    longitude: float  # WGS84
    latitude: float  # WGS84


@dataclass(frozen=True)
class AffectedArea:
    kind: str
    radius_m: float | None
    geojson: dict[str, Any] | None


def coordinate_system(data: dict[str, Any], errors: dict[str, list[str]]) -> str:
    system = data.get("coordinate_system") or CoordinateSystem.WGS84
    if system not in CoordinateSystem.__members__.values():
        errors["coordinate_system"] = [_("One of: %(v)s") % {"v": ", ".join(s.value for s in CoordinateSystem)}]
        return CoordinateSystem.WGS84.value
    return str(system)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_location(data: dict[str, Any], system: str, errors: dict[str, list[str]]) -> Location | None:
    """Both latitude and longitude, in range; converted to WGS84. None (and an error) when missing."""
    latitude, longitude = data.get("latitude"), data.get("longitude")
    bad = False
    for name, value, limit in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if value is None:
            errors[name] = [_("This field is required.")]
            bad = True
        elif not _number(value) or not -limit <= value <= limit:
            errors[name] = [_("A number between -%(n)d and %(n)d (degrees).") % {"n": limit}]
            bad = True
    if bad:
        return None
    assert isinstance(longitude, int | float) and isinstance(latitude, int | float)
    lon, lat = convert_point(float(longitude), float(latitude), system, CoordinateSystem.WGS84)
    return Location(longitude=round(lon, 7), latitude=round(lat, 7))


def check_area(data: dict[str, Any], system: str, errors: dict[str, list[str]]) -> AffectedArea:
    kind = data.get("area_kind") or AffectedAreaKind.POINT
    if kind not in AffectedAreaKind.values:
        errors["area_kind"] = [_("One of: %(v)s") % {"v": ", ".join(AffectedAreaKind.values)}]
        return AffectedArea(AffectedAreaKind.POINT, None, None)
    if kind == AffectedAreaKind.CIRCLE:
        radius = data.get("area_radius_m")
        if not isinstance(radius, int | float) or isinstance(radius, bool) or not 1 <= radius <= MAX_RADIUS_METRES:
            errors["area_radius_m"] = [_("A radius in metres between 1 and %(n)d.") % {"n": int(MAX_RADIUS_METRES)}]
            return AffectedArea(kind, None, None)
        return AffectedArea(kind, float(radius), None)
    if kind == AffectedAreaKind.POLYGON:
        polygon = check_polygon(data.get("area_geojson"), system, errors)
        return AffectedArea(kind, None, polygon)
    return AffectedArea(AffectedAreaKind.POINT, None, None)


def check_polygon(value: Any, system: str, errors: dict[str, list[str]]) -> dict[str, Any] | None:
    """A GeoJSON Polygon (a geometry, or a Feature holding one) without holes; returned in WGS84."""
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") != "Polygon":
        errors["area_geojson"] = [_("A GeoJSON Polygon.")]
        return None
    rings = value.get("coordinates")
    if not isinstance(rings, list) or len(rings) != 1 or not isinstance(rings[0], list):
        errors["area_geojson"] = [_("One outer ring and no holes.")]
        return None
    ring = rings[0]
    if not 4 <= len(ring) <= MAX_POLYGON_VERTICES or not all(
        isinstance(p, list | tuple) and len(p) in (2, 3) and all(_number(c) for c in p) for p in ring
    ):
        errors["area_geojson"] = [
            _("A ring of 4 to %(n)d [longitude, latitude] positions.") % {"n": MAX_POLYGON_VERTICES}
        ]
        return None
    if any(not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90) for p in ring):
        errors["area_geojson"] = [_("Positions must be [longitude, latitude] in degrees.")]
        return None
    try:
        geometry = shape({"type": "Polygon", "coordinates": [[[float(p[0]), float(p[1])] for p in ring]]})
    except (ValueError, TypeError, shapely.errors.GEOSException):
        errors["area_geojson"] = [_("Not a readable polygon.")]
        return None
    if not isinstance(geometry, Polygon) or geometry.is_empty or not geometry.is_valid or geometry.area <= 0:
        errors["area_geojson"] = [_("The polygon must be valid: closed, not self-intersecting, with an area.")]
        return None
    wgs84 = transform_geometry(geometry, system, CoordinateSystem.WGS84)
    # Counter-clockwise outer ring (GeoJSON RFC 7946), rounded to about a centimetre.
    wgs84 = shapely.set_precision(shapely.geometry.polygon.orient(wgs84, sign=1.0), 1e-7)
    if not isinstance(wgs84, Polygon) or not wgs84.is_valid or wgs84.is_empty:
        errors["area_geojson"] = [_("The polygon must be valid: closed, not self-intersecting, with an area.")]
        return None
    return dict(mapping(wgs84), coordinates=[[list(p) for p in wgs84.exterior.coords]])
