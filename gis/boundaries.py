"""A city's explicit service-area boundary as GeoJSON (RFC 7946: a Polygon or MultiPolygon in WGS84 longitude,
latitude): read and checked with Shapely, written back for the management API. The check names every problem
it finds in the language of the request; nothing here writes (gis/actions.py does)."""

from __future__ import annotations

import json
import math
from typing import Any

import shapely
from django.utils.translation import gettext as _

#: At most this many positions in one boundary (a city's outline needs far fewer).
MAX_POSITIONS = 100_000

_POSITION = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3}
_RING = {"type": "array", "items": _POSITION, "minItems": 4}
_POLYGON = {"type": "array", "items": _RING, "minItems": 1}

#: The OpenAPI schema of the boundary field (null: no explicit boundary, the top layer is the service area).
BOUNDARY_SCHEMA: dict[str, Any] = {
    "description": (
        "The service area as a GeoJSON Polygon or MultiPolygon in WGS84 (longitude, latitude); null: none (the "
        "union of the city's top active layer is its service area). It must be a valid, non-empty area."
    ),
    "oneOf": [
        {
            "type": "object",
            "properties": {"type": {"type": "string", "enum": ["Polygon"]}, "coordinates": _POLYGON},
            "required": ["type", "coordinates"],
        },
        {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["MultiPolygon"]},
                "coordinates": {"type": "array", "items": _POLYGON, "minItems": 1},
            },
            "required": ["type", "coordinates"],
        },
    ],
}


class BoundaryProblem(ValueError):
    """The value is not an acceptable boundary; the message says why (translated)."""


def _position(value: Any, counter: list[int]) -> tuple[float, float]:
    counter[0] += 1
    if counter[0] > MAX_POSITIONS:
        raise BoundaryProblem(_("At most %(count)d positions.") % {"count": MAX_POSITIONS})
    if not isinstance(value, list) or not 2 <= len(value) <= 3:
        raise BoundaryProblem(_("A position is a list of longitude and latitude."))
    if any(isinstance(n, bool) or not isinstance(n, int | float) or not math.isfinite(n) for n in value):
        raise BoundaryProblem(_("A position holds numbers only."))
    lon, lat = float(value[0]), float(value[1])
    if not -180 <= lon <= 180 or not -90 <= lat <= 90:
        raise BoundaryProblem(_("Longitude must lie within -180 and 180, latitude within -90 and 90 (WGS84)."))
    return lon, lat


def _polygon(value: Any, counter: list[int]) -> shapely.Polygon:
    if not isinstance(value, list) or not value:
        raise BoundaryProblem(_("A polygon is a list of rings, the outer ring first."))
    rings = []
    for ring in value:
        if not isinstance(ring, list) or len(ring) < 4:
            raise BoundaryProblem(_("A ring has at least four positions."))
        points = [_position(p, counter) for p in ring]
        if points[0] != points[-1]:
            raise BoundaryProblem(_("A ring ends where it starts."))
        rings.append(points)
    return shapely.Polygon(rings[0], rings[1:])


def read_boundary(value: Any) -> shapely.Geometry:
    """The geometry of a GeoJSON Polygon or MultiPolygon (2D), valid and non-empty, or BoundaryProblem."""
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise BoundaryProblem(_("Give a GeoJSON Polygon or MultiPolygon."))
    coordinates = value.get("coordinates")
    counter = [0]
    if value["type"] == "Polygon":
        geometry: shapely.Geometry = _polygon(coordinates, counter)
    else:
        if not isinstance(coordinates, list) or not coordinates:
            raise BoundaryProblem(_("A MultiPolygon is a list of polygons."))
        geometry = shapely.MultiPolygon([_polygon(p, counter) for p in coordinates])
    if not geometry.is_empty and not shapely.is_valid(geometry):
        raise BoundaryProblem(
            _("The boundary is not a valid area: %(reason)s") % {"reason": shapely.is_valid_reason(geometry)}
        )
    if geometry.is_empty or geometry.area <= 0:
        raise BoundaryProblem(_("The boundary encloses no area."))
    return geometry


def boundary_as_geojson(wkb: bytes | memoryview | None) -> dict[str, Any] | None:
    """The stored boundary (WKB) as a GeoJSON geometry, or None."""
    if not wkb:
        return None
    return dict(json.loads(shapely.to_geojson(shapely.from_wkb(bytes(wkb)))))
