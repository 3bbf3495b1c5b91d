"""Point-in-polygon over the active jurisdiction layers: one Shapely STRtree per layer version.

Each process builds the trees once and keeps them until the set of active layer versions changes
(one cheap query tells), so activating a new version switches routing without a restart.

Boundary rule: a point on an edge shared by several polygons (or on a vertex) belongs to exactly one
of them, the one with the smallest code. Points strictly inside belong to the polygon containing them.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from gis.models import LEVELS, Jurisdiction, JurisdictionLayer

METRES_PER_DEGREE = 111_320.0
OUTSIDE = -1


@dataclass
class LayerIndex:
    layer_id: int
    level: str
    version: int
    codes: npt.NDArray[np.str_]
    names: npt.NDArray[np.str_]
    parent_codes: npt.NDArray[np.str_]
    geometries: npt.NDArray[np.object_]
    tree: shapely.STRtree

    @classmethod
    def build(cls, layer: JurisdictionLayer) -> LayerIndex:
        rows = list(
            Jurisdiction.objects.filter(layer=layer)
            .order_by("code")
            .values_list("code", "name", "parent_code", "geometry_wkb")
        )
        geometries = shapely.from_wkb([bytes(row[3]) for row in rows]) if rows else np.array([], dtype=object)
        # Sorted by code, so "smallest code wins" on shared edges is "smallest index wins".
        shapely.prepare(geometries)
        return cls(
            layer_id=layer.pk,
            level=layer.level,
            version=layer.version,
            codes=np.array([r[0] for r in rows], dtype=str),
            names=np.array([r[1] for r in rows], dtype=str),
            parent_codes=np.array([r[2] for r in rows], dtype=str),
            geometries=geometries,
            tree=shapely.STRtree(geometries),
        )

    def locate(self, longitudes: npt.ArrayLike, latitudes: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Index of the polygon holding each point, or OUTSIDE (-1). Arrays in, arrays out."""
        points = shapely.points(np.asarray(longitudes, dtype=float), np.asarray(latitudes, dtype=float))
        points = np.atleast_1d(points)
        result = np.full(len(points), OUTSIDE, dtype=np.intp)
        if len(self.geometries) == 0 or len(points) == 0:
            return result
        # Bounding-box candidates from the tree, then the exact test with the prepared polygon first,
        # which is what makes GEOS use its indexed point-in-polygon.
        point_index, polygon_index = self.tree.query(points)
        hit = shapely.intersects(self.geometries[polygon_index], points[point_index])
        point_index, polygon_index = point_index[hit], polygon_index[hit]
        if len(point_index) == 0:
            return result
        # Several hits only on shared edges: keep the smallest polygon index (= smallest code) per point.
        order = np.lexsort((polygon_index, point_index))
        point_index, polygon_index = point_index[order], polygon_index[order]
        first = np.ones(len(point_index), dtype=bool)
        first[1:] = point_index[1:] != point_index[:-1]
        result[point_index[first]] = polygon_index[first]
        return result

    def locate_one(self, longitude: float, latitude: float) -> int:
        point = shapely.Point(longitude, latitude)
        for candidate in sorted(self.tree.query(point).tolist()):
            if self.geometries[candidate].intersects(point):
                return int(candidate)
        return OUTSIDE

    def neighbours_within(self, longitude: float, latitude: float, metres: float, own: int) -> list[tuple[int, float]]:
        """Other polygons of this layer within ``metres`` of the point, with their distances."""
        lat_scale = METRES_PER_DEGREE
        lon_scale = METRES_PER_DEGREE * math.cos(math.radians(latitude))
        point = shapely.Point(longitude, latitude)
        window = shapely.box(
            longitude - metres / lon_scale,
            latitude - metres / lat_scale,
            longitude + metres / lon_scale,
            latitude + metres / lat_scale,
        )
        found = []
        for candidate in self.tree.query(window).tolist():
            if candidate == own:
                continue
            geometry = self.geometries[candidate]
            # A cheap lower bound first; the exact local-metres distance only for the close ones.
            if shapely.distance(point, geometry) * min(lat_scale, lon_scale) > metres:
                continue
            scaled = shapely.transform(geometry, lambda xy: (xy - [longitude, latitude]) * [lon_scale, lat_scale])
            distance = float(shapely.distance(shapely.Point(0, 0), scaled))
            if distance <= metres:
                found.append((candidate, round(distance, 1)))
        return sorted(found, key=lambda pair: pair[1])


@dataclass
class SpatialIndex:
    key: tuple[tuple[str, int], ...]
    layers: dict[str, LayerIndex]


_lock = threading.Lock()
_current: SpatialIndex | None = None


def active_layer_key() -> tuple[tuple[str, int], ...]:
    return tuple(sorted(JurisdictionLayer.objects.filter(active=True).values_list("level", "id")))


def current_index() -> SpatialIndex:
    """The index of the active layers, rebuilt when an activation changed them."""
    global _current
    key = active_layer_key()
    index = _current
    if index is not None and index.key == key:
        return index
    with _lock:
        if _current is None or _current.key != key:
            layers = {
                layer.level: LayerIndex.build(layer)
                for layer in JurisdictionLayer.objects.filter(pk__in=[pk for _level, pk in key])
            }
            _current = SpatialIndex(key=key, layers={lvl: layers[lvl] for lvl in LEVELS if lvl in layers})
        return _current
