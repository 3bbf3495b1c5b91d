"""Point-in-polygon over the active jurisdiction layers: one Shapely STRtree per layer version, grouped by city
(each city's active layers and its service area, CityIndex).

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
from organisation.models import City, default_city_id

METRES_PER_DEGREE = 111_320.0
OUTSIDE = -1
#: Cells per layer for bulk lookups: about 0.8 km cells for Liuzhou's districts, 180 m for its grid.
CELL_BUDGET = 2**16
Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]


@dataclass
class CellTable:
    """A grid of cells over the polygons' bounding boxes, classified once, for bulk lookups.

    A cell whose (slightly padded) box lies in the interior of exactly one polygon and touches no other
    answers every point in it without a geometric test; a cell touching no polygon answers OUTSIDE; only
    points in the remaining cells (on a boundary) get the exact ``intersects_xy`` test with the prepared
    polygons, candidates in index order so that the first hit is the smallest code. No Point objects are
    created. Cells are stored in 64 x 64 blocks, only where a polygon's box is, so far-apart polygons
    (Liuzhou and Pudong in one layer) cost no memory in between.
    """

    BLOCK = 64
    PAD = 1e-9  # degrees; covers the rounding between a point's computed cell and the cell's box

    x0: float
    y0: float
    size: float
    cells_x: int
    cells_y: int
    blocks_y: int
    block_slot: npt.NDArray[np.int64]
    answer: npt.NDArray[np.int64]  # polygon index, OUTSIDE, or -2 - k for boundary cell k
    starts: npt.NDArray[np.int64]
    candidates: Indices
    geometries: npt.NDArray[np.object_]

    @classmethod
    def build(cls, geometries: npt.NDArray[np.object_], tree: shapely.STRtree, target_cells: int) -> CellTable:
        bounds = shapely.bounds(geometries)
        area = float(((bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1])).sum())
        size = max(float(np.sqrt(area / target_cells)), 1e-7)
        x0, y0 = float(bounds[:, 0].min()), float(bounds[:, 1].min())
        first_x = np.floor((bounds[:, 0] - x0) / size).astype(np.int64)
        last_x = np.floor((bounds[:, 2] - x0) / size).astype(np.int64)
        first_y = np.floor((bounds[:, 1] - y0) / size).astype(np.int64)
        last_y = np.floor((bounds[:, 3] - y0) / size).astype(np.int64)
        cells_x, cells_y = int(last_x.max()) + 1, int(last_y.max()) + 1
        # Every cell that some polygon's box touches: only those can hold a point of a polygon.
        keys = np.unique(
            np.concatenate(
                [
                    (np.arange(ax, bx + 1)[:, None] * cells_y + np.arange(ay, by + 1)[None, :]).ravel()
                    for ax, bx, ay, by in zip(first_x, last_x, first_y, last_y, strict=True)
                ]
            )
        )
        ix, iy = keys // cells_y, keys % cells_y
        blocks_x, blocks_y = -(-cells_x // cls.BLOCK), -(-cells_y // cls.BLOCK)
        block_of_cell = (ix // cls.BLOCK) * blocks_y + iy // cls.BLOCK
        used = np.unique(block_of_cell)
        block_slot = np.full(blocks_x * blocks_y, -1, dtype=np.int64)
        block_slot[used] = np.arange(len(used))
        position = block_slot[block_of_cell] * cls.BLOCK**2 + (ix % cls.BLOCK) * cls.BLOCK + iy % cls.BLOCK
        answer = np.full(len(used) * cls.BLOCK**2, OUTSIDE, dtype=np.int64)

        boxes = shapely.box(
            x0 + ix * size - cls.PAD,
            y0 + iy * size - cls.PAD,
            x0 + (ix + 1) * size + cls.PAD,
            y0 + (iy + 1) * size + cls.PAD,
        )
        cell_index, polygon_index = tree.query(boxes, predicate="intersects")
        order = np.lexsort((polygon_index, cell_index))
        cell_index, polygon_index = cell_index[order], polygon_index[order]
        counts = np.bincount(cell_index, minlength=len(keys))
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        interior = np.zeros(len(keys), dtype=bool)
        single = np.flatnonzero(counts == 1)
        owner = polygon_index[offsets[single]]
        inside = shapely.contains_properly(geometries[owner], boxes[single])
        interior[single[inside]] = True
        answer[position[single[inside]]] = owner[inside]
        boundary = np.flatnonzero((counts > 0) & ~interior)
        answer[position[boundary]] = -2 - np.arange(len(boundary))
        starts = np.zeros(len(boundary) + 1, dtype=np.int64)
        np.cumsum(counts[boundary], out=starts[1:])
        candidates = polygon_index[_ranges(offsets[boundary], counts[boundary])]
        return cls(
            x0, y0, size, cells_x, cells_y, blocks_y, block_slot, answer, starts, candidates.astype(np.intp), geometries
        )

    @property
    def nbytes(self) -> int:
        return self.block_slot.nbytes + self.answer.nbytes + self.starts.nbytes + self.candidates.nbytes

    @property
    def interior_share(self) -> float:
        classified = self.answer[self.answer != OUTSIDE]
        return float((classified >= 0).mean()) if len(classified) else 0.0

    def locate(self, longitudes: Floats, latitudes: Floats) -> Indices:
        fx = (longitudes - self.x0) / self.size
        fy = (latitudes - self.y0) / self.size
        ok = (fx >= 0) & (fx < self.cells_x) & (fy >= 0) & (fy < self.cells_y)  # NaN fails too
        ix = np.where(ok, fx, 0).astype(np.int64)  # non-negative: truncation is floor
        iy = np.where(ok, fy, 0).astype(np.int64)
        slot = self.block_slot[(ix // self.BLOCK) * self.blocks_y + iy // self.BLOCK]
        ok &= slot >= 0
        position = slot * self.BLOCK**2 + (ix % self.BLOCK) * self.BLOCK + iy % self.BLOCK
        result = np.where(ok, self.answer[np.where(ok, position, 0)], OUTSIDE).astype(np.intp)
        pending = np.flatnonzero(result <= -2)
        if len(pending) == 0:
            return result
        boundary = -2 - result[pending]
        result[pending] = OUTSIDE
        counts = self.starts[boundary + 1] - self.starts[boundary]
        points = np.repeat(pending, counts)
        polygons = self.candidates[_ranges(self.starts[boundary], counts)]
        hit = shapely.intersects_xy(self.geometries[polygons], longitudes[points], latitudes[points])
        points, polygons = points[hit], polygons[hit]
        # Candidates are ascending within a cell, so the first hit of a point is its smallest code.
        first = np.ones(len(points), dtype=bool)
        first[1:] = points[1:] != points[:-1]
        result[points[first]] = polygons[first]
        return result


def _ranges(starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Concatenation of arange(start, start + count) for each pair, without a Python loop."""
    total = int(counts.sum())
    ends = np.cumsum(counts)
    return np.repeat(starts - (ends - counts), counts) + np.arange(total, dtype=np.int64)


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
    cells: CellTable | None = None

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
        """Index of the polygon holding each point, or OUTSIDE (-1). Arrays in, arrays out.

        Bulk lookups go through the cell table (built on first use): most points fall in a cell wholly
        inside one polygon and need no geometric test; the rest get an exact test against the few
        prepared polygons of their cell, with no Point objects created.
        """
        lons = np.atleast_1d(np.asarray(longitudes, dtype=float))
        lats = np.atleast_1d(np.asarray(latitudes, dtype=float))
        if len(self.geometries) == 0 or len(lons) == 0:
            return np.full(len(lons), OUTSIDE, dtype=np.intp)
        if self.cells is None:
            self.cells = CellTable.build(self.geometries, self.tree, CELL_BUDGET)
        return self.cells.locate(lons, lats)

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
class CityIndex:
    """One city's active layers (coarsest first) and its service area: an explicit boundary, else the union of its
    top active layer's polygons."""

    city_id: int | None
    code: str
    name: str
    name_en: str
    layers: dict[str, LayerIndex]
    boundary: shapely.Geometry | None = None

    @property
    def bounded(self) -> bool:
        return self.boundary is not None or bool(self.layers)

    def covers(self, longitude: float, latitude: float) -> bool:
        if self.boundary is not None:
            return bool(self.boundary.intersects(shapely.Point(longitude, latitude)))
        top = next(iter(self.layers.values()), None)
        return top is not None and top.locate_one(longitude, latitude) != OUTSIDE


@dataclass
class SpatialIndex:
    key: tuple[tuple[str, int, str, str], ...]
    cities: list[CityIndex]
    default_city_id: int | None = None

    @property
    def layers(self) -> dict[str, LayerIndex]:
        """The default city's layers (the single city of a one-city installation)."""
        return next((c.layers for c in self.cities if c.city_id == self.default_city_id), {})

    def layers_of(self, city_id: int | None) -> dict[str, LayerIndex]:
        """One city's layers (None: the default city's)."""
        wanted = self.default_city_id if city_id is None else city_id
        return next((c.layers for c in self.cities if c.city_id == wanted), {})

    def city_at(self, longitude: float, latitude: float) -> CityIndex | None:
        """The city whose service area holds the point (the first in the cities' order where areas overlap), or
        None outside every one. While no city has a service area at all (no layer imported, no boundary), the
        default city takes every point, as a single-city installation without a map always did."""
        for city in self.cities:
            if city.covers(longitude, latitude):
                return city
        if not any(city.bounded for city in self.cities):
            return next((c for c in self.cities if c.city_id == self.default_city_id), None)
        return None


_lock = threading.Lock()
_current: SpatialIndex | None = None


def active_layer_key() -> tuple[tuple[str, int, str, str], ...]:
    # The activation time is part of the key: a reused id (SQLite after a rollback) is not the same layer. So are
    # the cities (their boundaries and whether they are active), under the level "".
    rows = JurisdictionLayer.objects.filter(active=True).values_list("level", "id", "activated_at", "city_id")
    cities = City.objects.values_list("id", "updated_at", "active")
    return tuple(
        sorted(
            [(level, pk, str(activated), str(city)) for level, pk, activated, city in rows]
            + [("", pk, str(updated), str(active)) for pk, updated, active in cities]
        )
    )


def _build(key: tuple[tuple[str, int, str, str], ...]) -> SpatialIndex:
    layer_ids = [pk for level, pk, _at, _city in key if level]
    default_id = default_city_id()
    by_city: dict[int | None, dict[str, LayerIndex]] = {}
    for layer in JurisdictionLayer.objects.filter(pk__in=layer_ids):
        by_city.setdefault(layer.city_id or default_id, {})[layer.level] = LayerIndex.build(layer)
    cities: list[CityIndex] = []
    rows = list(City.objects.filter(active=True).order_by("sort_order", "pk"))
    candidates: list[City | None] = [*rows] or [None]  # before any city exists: the one unnamed city
    for city in candidates:
        city_id = city.pk if city is not None else None
        layers = by_city.get(city_id, {})
        boundary = None
        if city is not None and city.boundary_wkb:
            boundary = shapely.from_wkb(bytes(city.boundary_wkb))
            shapely.prepare(boundary)
        cities.append(
            CityIndex(
                city_id=city_id,
                code=city.code if city else "",
                name=city.name if city else "",
                name_en=city.name_en if city else "",
                layers={lvl: layers[lvl] for lvl in LEVELS if lvl in layers},
                boundary=boundary,
            )
        )
    return SpatialIndex(key=key, cities=cities, default_city_id=default_id)


def current_index() -> SpatialIndex:
    """The index of the active layers of every active city, rebuilt when an activation changed them."""
    global _current
    key = active_layer_key()
    index = _current
    if index is not None and index.key == key:
        return index
    with _lock:
        if _current is None or _current.key != key:
            _current = _build(key)
        return _current
