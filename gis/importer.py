"""Read a jurisdiction layer from GeoJSON, GeoPackage or a zipped Shapefile, and check it.

Everything is reprojected to WGS84 (EPSG:4326). A layer declared as GCJ-02 is converted to WGS84.
Invalid polygons are repaired only when the repair is safe (the result is still polygonal and its area
changes by less than MAX_REPAIR_AREA_CHANGE); otherwise the import is refused naming every bad feature.
Overlaps and gaps between polygons of the level are reported, not refused: real boundary data has
slivers, and a supervisor should see them rather than lose the layer.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas
import numpy as np
import shapely
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext_lazy
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from core.errors import InvalidInput

WGS84 = CRS.from_epsg(4326)
MAX_REPAIR_AREA_CHANGE = 0.01
#: Overlaps and gaps below this many square metres are numeric noise, not findings.
MIN_REPORTED_AREA_M2 = 1.0
METRES_PER_DEGREE = 111_320.0

#: Geometry types as a refusal names them ("a Point, not a polygon"); a type not listed is shown as GEOS names it.
GEOMETRY_TYPES = {
    "Point": pgettext_lazy("geometry type", "Point"),
    "MultiPoint": pgettext_lazy("geometry type", "MultiPoint"),
    "LineString": pgettext_lazy("geometry type", "LineString"),
    "MultiLineString": pgettext_lazy("geometry type", "MultiLineString"),
    "LinearRing": pgettext_lazy("geometry type", "LinearRing"),
    "GeometryCollection": pgettext_lazy("geometry type", "GeometryCollection"),
}


class LayerRefused(InvalidInput):
    code = "layer_refused"


@dataclass
class Feature:
    code: str
    name: str
    geometry: BaseGeometry
    parent_code: str = ""
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreparedLayer:
    features: list[Feature]
    source_crs: str
    report: dict[str, Any]


def approximate_area_m2(geometry: BaseGeometry) -> float:
    """Area in square metres of a small WGS84 geometry, scaled at its own latitude."""
    if geometry.is_empty:
        return 0.0
    latitude = geometry.centroid.y
    return float(geometry.area * METRES_PER_DEGREE**2 * math.cos(math.radians(latitude)))


def _zip_target(path: Path, layer: str | None) -> str:
    """The GDAL address of the Shapefile inside a zip, also when it sits in a folder of the archive."""
    with zipfile.ZipFile(path) as archive:
        shapefiles = [name for name in archive.namelist() if name.lower().endswith(".shp")]
    if len(shapefiles) == 1:
        return f"zip://{path}!{shapefiles[0]}"
    if layer and any(Path(name).stem == layer for name in shapefiles):
        return f"zip://{path}!{next(name for name in shapefiles if Path(name).stem == layer)}"
    if len(shapefiles) > 1:
        message = _("%(file)s holds several Shapefiles; name one: %(names)s") % {
            "file": path.name,
            "names": ", ".join(shapefiles),
        }
        raise LayerRefused(message, fields={"layer": shapefiles})
    return f"zip://{path}"


def _open(path: Path, layer: str | None, encoding: str | None) -> geopandas.GeoDataFrame:
    try:
        target = _zip_target(path, layer) if path.suffix.lower() == ".zip" else str(path)
        options: dict[str, Any] = {"encoding": encoding} if encoding else {}
        layer_name = None if path.suffix.lower() == ".zip" else layer
        return geopandas.read_file(target, layer=layer_name, engine="pyogrio", **options)
    except LayerRefused:
        raise
    except zipfile.BadZipFile as exc:
        message = _("%(file)s is not a zip archive.") % {"file": path.name}
        raise LayerRefused(message, fields={"file": [str(exc)]}) from exc
    except Exception as exc:  # pyogrio raises several error types for unreadable input
        message = _("Cannot read %(file)s: %(error)s") % {"file": path.name, "error": exc}
        raise LayerRefused(message, fields={"file": [str(exc)]}) from exc


def _plain(value: Any) -> Any:
    """Attribute values as JSON-safe Python: empty cells (NaN, None) are None, whole floats are ints.

    pandas reads an empty cell as NaN even in a text column, and a numeric code column as floats.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def _polygonal_part(geometry: BaseGeometry) -> BaseGeometry:
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def read_layer(
    path: str | Path,
    *,
    code_field: str,
    name_field: str,
    parent_field: str | None = None,
    declared_system: str = "wgs84",
    assume_crs: str | None = None,
    layer: str | None = None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    code_of: Callable[[Any], str] = str,
    encoding: str | None = None,
) -> PreparedLayer:
    path = Path(path)
    frame = _open(path, layer, encoding)
    if frame.crs is None:
        if assume_crs is None:
            message = _("%(file)s does not say its coordinate system; name it (e.g. EPSG:4326).") % {"file": path.name}
            raise LayerRefused(message, fields={"crs": ["unknown"]})
        try:
            frame = frame.set_crs(CRS.from_user_input(assume_crs))
        except CRSError as exc:
            message = _("Unknown coordinate system %(crs)s.") % {"crs": repr(assume_crs)}
            raise LayerRefused(message, fields={"crs": [str(exc)]}) from exc
    source_crs = frame.crs.to_string()
    for needed in filter(None, (code_field, name_field, parent_field)):
        if needed not in frame.columns:
            message = _("%(file)s has no attribute %(name)s.") % {"file": path.name, "name": repr(needed)}
            raise LayerRefused(message, fields={"fields": [needed]})
    if keep is not None:
        frame = frame[[keep(dict(row)) for _, row in frame.drop(columns="geometry").iterrows()]]
    if not CRS(frame.crs).equals(WGS84):
        frame = frame.to_crs(WGS84)
    geometries = np.asarray(frame.geometry.values, dtype=object)
    if declared_system != "wgs84":
        from gis.coords import transform_geometry

        geometries = np.array([transform_geometry(g, declared_system, "wgs84") for g in geometries], dtype=object)

    problems: list[str] = []
    repaired: list[dict[str, Any]] = []
    features: list[Feature] = []
    seen: set[str] = set()
    attributes = [
        {key: _plain(value) for key, value in row.items()} for row in frame.drop(columns="geometry").to_dict("records")
    ]
    for number, (row, geometry) in enumerate(zip(attributes, geometries, strict=True), start=1):
        raw_code, name = row.get(code_field), row.get(name_field)
        code = code_of(raw_code) if raw_code is not None else ""
        label = _("feature %(number)d (%(code)s %(name)s)") % {
            "number": number,
            "code": code or "?",
            "name": name or "?",
        }
        if not code:
            problems.append(_("%(feature)s: no code") % {"feature": label})
            continue
        if code in seen:
            problems.append(_("%(feature)s: code used twice") % {"feature": label})
            continue
        seen.add(code)
        if geometry is None or geometry.is_empty:
            problems.append(_("%(feature)s: no geometry") % {"feature": label})
            continue
        if geometry.geom_type not in ("Polygon", "MultiPolygon"):
            kind = GEOMETRY_TYPES.get(geometry.geom_type, geometry.geom_type)
            problems.append(_("%(feature)s: a %(kind)s, not a polygon") % {"feature": label, "kind": kind})
            continue
        if not geometry.is_valid:
            reason = shapely.is_valid_reason(geometry)
            fixed = _polygonal_part(shapely.make_valid(geometry))
            before, after = approximate_area_m2(geometry.buffer(0)), approximate_area_m2(fixed)
            change = abs(after - before) / before if before else 1.0
            if fixed.is_empty or not fixed.is_valid or change > MAX_REPAIR_AREA_CHANGE:
                problems.append(
                    _("%(feature)s: invalid (%(reason)s) and cannot be repaired safely")
                    % {"feature": label, "reason": reason}
                )
                continue
            repaired.append({"feature": number, "code": code, "reason": reason, "area_change": round(change, 6)})
            geometry = fixed
        parent = str(row.get(parent_field) or "") if parent_field else ""
        properties = {k: v for k, v in row.items() if isinstance(v, str | int | float | bool) and k != code_field}
        features.append(
            Feature(code=code, name=str(name or code), geometry=geometry, parent_code=parent, properties=properties)
        )
    if problems:
        message = ngettext(
            "%(file)s: %(count)d feature refused: %(problems)s",
            "%(file)s: %(count)d features refused: %(problems)s",
            len(problems),
        ) % {"file": path.name, "count": len(problems), "problems": "; ".join(problems)}
        raise LayerRefused(message, fields={"features": problems})
    if not features:
        message = _("%(file)s has no features to import.") % {"file": path.name}
        raise LayerRefused(message, fields={"features": ["empty"]})
    report = {"repaired": repaired, **overlaps_and_gaps(features)}
    return PreparedLayer(features=features, source_crs=source_crs, report=report)


def overlaps_and_gaps(features: list[Feature]) -> dict[str, Any]:
    geometries = np.array([f.geometry for f in features], dtype=object)
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    overlaps = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        area = approximate_area_m2(shapely.intersection(geometries[i], geometries[j]))
        if area >= MIN_REPORTED_AREA_M2:
            overlaps.append({"a": features[i].code, "b": features[j].code, "area_m2": round(area, 1)})
    union = shapely.union_all(geometries)
    holes = [shapely.Polygon(ring) for poly in getattr(union, "geoms", [union]) for ring in poly.interiors]
    gap_areas = [a for a in (approximate_area_m2(h) for h in holes) if a >= MIN_REPORTED_AREA_M2]
    return {
        "overlaps": overlaps,
        "gaps": {"count": len(gap_areas), "area_m2": round(sum(gap_areas), 1)},
    }
