"""The moving-units spatial index: nearest available units of a type, kept current as units move.

Per process, one uniform grid per unit type holding only the units that may be recommended (active,
available, with a fix). Positions are projected once, on update, to local metres (equirectangular at a
fixed reference latitude: within 50 km of it, distances are off by less than 0.2%); a move is a dict
update, and a move into another cell two dict operations, so maintenance costs microseconds. A query
searches rings of cells outwards from the query's cell and stops as soon as the k-th best distance is
no further than the nearest unsearched cell could be; a type with few units is simply scanned.

Staleness changes with time alone, without a write, so it is a query-time filter on the stored fix time.

Processes learn about each other's writes from the database, never from a message: before each query
``synced_index()`` reads the units changed since its watermark (``Unit.changed_at``, wall clock, with
an overlap that covers transactions committing late and small clock skew between machines), and the
whole index is rebuilt from the table every FULL_REBUILD_SECONDS anyway, so a row missed for any
reason is repaired within that time.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from bisect import insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dispatch.emergency.unit_states import UnitStatus

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE_LATITUDE = 111_132.0
#: Liuzhou; any reference within a few hundred kilometres of the units keeps the error negligible.
DEFAULT_REFERENCE_LATITUDE = 24.33
DEFAULT_CELL_METRES = 1000.0
#: Up to this many units of a type, a scan of all of them beats walking rings of cells.
SCAN_BELOW = 48
SYNC_OVERLAP = dt.timedelta(seconds=5)
FULL_REBUILD_SECONDS = 60.0
#: Cell keys pack (ix, iy) into one int; |iy| stays far below this for any cell size over 1 m.
_ROW = 1 << 26


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle (haversine) distance in metres between two WGS84 points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


#: Where a unit is in the index: (unit type, x, y, fix time, cell key). x is metres east of the reference
#: meridian at the reference latitude, y metres north of the equator, the fix time Unix seconds.
Entry = tuple[str, float, float, float, int]
#: What a cell holds per unit: (x, y, fix time). Plain tuples: a move must cost well under a microsecond.
Point = tuple[float, float, float]


class _TypeGrid:
    __slots__ = ("cells", "count", "max_ix", "max_iy", "min_ix", "min_iy")

    def __init__(self) -> None:
        self.cells: dict[int, dict[int, Point]] = {}
        self.count = 0
        self.min_ix = self.min_iy = 1 << 40
        self.max_ix = self.max_iy = -(1 << 40)

    def add(self, unit_id: int, point: Point, cell: int, ix: int, iy: int) -> None:
        bucket = self.cells.get(cell)
        if bucket is None:
            bucket = self.cells[cell] = {}
        bucket[unit_id] = point
        self.count += 1
        # The occupied range only grows: a bound for the ring search, never a correctness input.
        if ix < self.min_ix:
            self.min_ix = ix
        if ix > self.max_ix:
            self.max_ix = ix
        if iy < self.min_iy:
            self.min_iy = iy
        if iy > self.max_iy:
            self.max_iy = iy

    def discard(self, unit_id: int, cell: int) -> None:
        bucket = self.cells.get(cell)
        if bucket is not None and bucket.pop(unit_id, None) is not None:
            self.count -= 1
            if not bucket:
                del self.cells[cell]


def _ring_offsets(r: int) -> tuple[int, ...]:
    """Cell-key offsets of the ring at Chebyshev distance r around a cell."""
    if r == 0:
        return (0,)
    cells = [(dx, dy) for dx in range(-r, r + 1) for dy in (-r, r)]
    cells += [(dx, dy) for dx in (-r, r) for dy in range(-r + 1, r)]
    return tuple(dx * _ROW + dy for dx, dy in cells)


#: Rings up to this distance are looked up from precomputed offsets (one C-level map over the keys).
PRECOMPUTED_RINGS = 12
_RINGS = tuple(_ring_offsets(r) for r in range(PRECOMPUTED_RINGS + 1))


class MovingUnitIndex:
    """Nearest eligible units per type on a uniform grid with incremental moves."""

    def __init__(
        self, *, cell_metres: float = DEFAULT_CELL_METRES, reference_latitude: float = DEFAULT_REFERENCE_LATITUDE
    ):
        self.cell = float(cell_metres)
        self.kx = METRES_PER_DEGREE_LATITUDE * math.cos(math.radians(reference_latitude))
        self.ky = METRES_PER_DEGREE_LATITUDE
        self.grids: dict[str, _TypeGrid] = {}
        self.entries: dict[int, Entry] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        return lon * self.kx, lat * self.ky

    def position(self, unit_id: int) -> tuple[float, float] | None:
        """(lon, lat) of an indexed unit."""
        entry = self.entries.get(unit_id)
        return None if entry is None else (entry[1] / self.kx, entry[2] / self.ky)

    def planar_distance(self, lon1: float, lat1: float, lon2: float, lat2: float) -> float:
        """The metric the index ranks by (tests compare brute force against the same one)."""
        return math.hypot((lon1 - lon2) * self.kx, (lat1 - lat2) * self.ky)

    def upsert(self, unit_id: int, unit_type: str, lon: float, lat: float, fix_ts: float) -> None:
        """Insert or move an eligible unit (also a change of type)."""
        x = lon * self.kx
        y = lat * self.ky
        ix = math.floor(x / self.cell)
        iy = math.floor(y / self.cell)
        cell = ix * _ROW + iy
        point = (x, y, fix_ts)
        old = self.entries.get(unit_id)
        self.entries[unit_id] = (unit_type, x, y, fix_ts, cell)
        if old is not None and old[4] == cell and old[0] == unit_type:
            self.grids[unit_type].cells[cell][unit_id] = point  # moved within its cell: one dict write
            return
        if old is not None:
            self.grids[old[0]].discard(unit_id, old[4])
        grid = self.grids.get(unit_type)
        if grid is None:
            grid = self.grids[unit_type] = _TypeGrid()
        grid.add(unit_id, point, cell, ix, iy)

    def remove(self, unit_id: int) -> None:
        """The unit may no longer be recommended (dispatched, out of service, inactive, no fix)."""
        old = self.entries.pop(unit_id, None)
        if old is not None:
            self.grids[old[0]].discard(unit_id, old[4])

    def nearest(
        self,
        unit_type: str,
        lon: float,
        lat: float,
        k: int = 1,
        *,
        fresh_since: float = -math.inf,
        accept: Callable[[int], bool] | None = None,
    ) -> list[tuple[int, float]]:
        """Up to k (unit id, planar metres) of the type, nearest first (ties by unit id), skipping fixes
        older than ``fresh_since`` (Unix seconds) and units ``accept`` refuses."""
        grid = self.grids.get(unit_type)
        if grid is None or not grid.count or k <= 0:
            return []
        qx, qy = lon * self.kx, lat * self.ky
        best: list[tuple[float, int]] = []  # (squared distance, unit id), sorted, at most k
        cells = grid.cells
        cell = self.cell
        cx, cy = math.floor(qx / cell), math.floor(qy / cell)
        base = cx * _ROW + cy
        min_ix, max_ix, min_iy, max_iy = grid.min_ix, grid.max_ix, grid.min_iy, grid.max_iy
        reach = max(cx - min_ix, max_ix - cx, cy - min_iy, max_iy - cy, 0)
        scan_all = grid.count <= SCAN_BELOW
        worst = math.inf
        r = 0
        while True:
            if scan_all:
                buckets: Iterable[dict[int, Point]] = list(cells.values())
            elif r <= PRECOMPUTED_RINGS:
                buckets = [bucket for bucket in map(cells.get, [base + o for o in _RINGS[r]]) if bucket]
            else:
                buckets = self._clipped_ring(grid, cx, cy, r)
            for bucket in buckets:
                for unit_id, (x, y, fix_ts) in bucket.items():
                    dx = x - qx
                    dy = y - qy
                    d2 = dx * dx + dy * dy
                    if d2 > worst or fix_ts < fresh_since or (accept is not None and not accept(unit_id)):
                        continue
                    pair = (d2, unit_id)
                    if len(best) == k:
                        if pair >= best[-1]:
                            continue
                        best.pop()
                    insort(best, pair)
                    if len(best) == k:
                        worst = best[-1][0]
            if scan_all or r >= reach:
                break
            if len(best) == k:
                # Every unsearched unit lies outside the (2r+1)^2 block around the query's cell.
                edge = min(qx - (cx - r) * cell, (cx + r + 1) * cell - qx, qy - (cy - r) * cell,
                           (cy + r + 1) * cell - qy)  # fmt: skip
                if worst <= edge * edge:
                    break
            r += 1
        return [(unit_id, math.sqrt(d2)) for d2, unit_id in best]

    def _clipped_ring(self, grid: _TypeGrid, cx: int, cy: int, r: int) -> list[dict[int, Point]]:
        """The ring's occupied cells, clipped to the occupied range (far queries stay cheap)."""
        cells, found = grid.cells, []
        low_x, high_x = max(cx - r, grid.min_ix), min(cx + r, grid.max_ix)
        for iy in (cy - r, cy + r):
            if grid.min_iy <= iy <= grid.max_iy:
                found += [b for b in (cells.get(ix * _ROW + iy) for ix in range(low_x, high_x + 1)) if b]
        low_y, high_y = max(cy - r + 1, grid.min_iy), min(cy + r - 1, grid.max_iy)
        for ix in (cx - r, cx + r):
            if grid.min_ix <= ix <= grid.max_ix:
                found += [b for b in (cells.get(ix * _ROW + iy) for iy in range(low_y, high_y + 1)) if b]
        return found


# --- the per-process index, synced from the database ---------------------------------------------------


@dataclass
class _Synced:
    index: MovingUnitIndex
    watermark: dt.datetime | None
    built_at: float


_lock = threading.Lock()
_current: _Synced | None = None


def _eligible(status: str, active: bool, lon: float | None, lat: float | None) -> bool:
    return active and status == UnitStatus.AVAILABLE and lon is not None and lat is not None


def _apply(index: MovingUnitIndex, rows: Iterable[tuple]) -> dt.datetime | None:
    newest = None
    for unit_id, unit_type, status, active, lon, lat, fix_at, changed_at in rows:
        if _eligible(status, active, lon, lat) and fix_at is not None:
            index.upsert(unit_id, unit_type, lon, lat, fix_at.timestamp())
        else:
            index.remove(unit_id)
        if newest is None or changed_at > newest:
            newest = changed_at
    return newest


_COLUMNS = ("id", "unit_type", "status", "active", "longitude", "latitude", "fix_at", "changed_at")


def synced_index() -> MovingUnitIndex:
    """This process's index, brought up to date with the units table (see the module docstring)."""
    from dispatch.emergency.models import Unit

    global _current
    with _lock:
        state = _current
        if state is None or time.monotonic() - state.built_at > FULL_REBUILD_SECONDS:
            index = MovingUnitIndex()
            watermark = _apply(index, Unit.objects.values_list(*_COLUMNS).iterator(chunk_size=2000))
            _current = state = _Synced(index, watermark, time.monotonic())
            return index
        rows = Unit.objects.values_list(*_COLUMNS)
        if state.watermark is not None:
            rows = rows.filter(changed_at__gte=state.watermark - SYNC_OVERLAP)
        newest = _apply(state.index, rows)
        if newest is not None and (state.watermark is None or newest > state.watermark):
            state.watermark = newest
        return state.index


def forget_index() -> None:
    """Drop this process's index (tests: the database was rolled back under it)."""
    global _current
    with _lock:
        _current = None
