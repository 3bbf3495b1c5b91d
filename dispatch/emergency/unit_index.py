"""The moving-units spatial index: nearest available units of a type, kept current as units move.

Per process, one uniform grid per unit type holding only the units that may be recommended (active,
available, with a fix). Positions are projected once, on update, to local metres (equirectangular at a
fixed reference latitude; see ``planar_distance`` for how far that ranking can drift from great-circle
distance). Each unit has a mutable entry holding its position, fix time and the bounds of the cell it is
filed in; a move finds the entry by list position (the unit id) and checks it against bound floats shared
by every unit of the same column or row, so that what it reads besides the entry itself stays in the
processor's cache. Each unit is filed twice over: in its cell's bucket (a dict ``unit id -> entry``, for the ring
search) and in the four "corner blocks" of its cell (a dict of the same shape per grid corner, holding
the units of the 2 x 2 cells around that corner, for the k=1 query). The entries are shared, so a move
inside its cell is a bounds check and three attribute writes (no dict is written); a move into a side
neighbour leaves two blocks and joins two, a diagonal step three and three, a jump four and four (plus
the two bucket operations). The feed hands the changes over in batches (``update_many``: one call for
every row changed since the last query).

The cell size is chosen per type from the type's own units (``cell_size_for``): about
``UNITS_PER_CELL`` units per cell where the units are, so a k=1 query mostly ends in one block, whether
the type has forty units over the whole prefecture or thousands in one square. It is chosen again (the
type's grid rebuilt, O(units of the type)) when the type's count grows by half or shrinks by a third, or
its units spread over four times as many cells, so the cost is amortised over many moves; a fixed
``cell_metres`` turns this off.

A k=1 query reads the block of the grid corner nearest to it (one dict look-up) and stops if the best
unit there is nearer than the block's edge (the cell size minus the query's larger offset from that
corner: nothing outside can be nearer). Otherwise, and for any k, it searches the 3 x 3 cells around the
query's cell, then square rings further out, until the best distance found is shorter than the distance
from the query to the edge of the searched block; a type with few units is simply scanned.

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
from typing import Any

from dispatch.emergency.unit_states import UnitStatus

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE_LATITUDE = 111_132.0
#: Liuzhou; any reference within a few hundred kilometres of the units keeps the error small (see
#: ``MovingUnitIndex.planar_distance``).
DEFAULT_REFERENCE_LATITUDE = 24.33
#: Target units per cell where the units are, for the adaptive cell size: with about one and a half units
#: per cell the corner block nearest a query (four cells, ~6 units) holds the nearest unit in ~87% of
#: queries, and units cross into another cell about once in forty of the benchmark's moves (up to 45 m
#: per axis; one in twenty at 0.5 per cell). Measured with benchmarks/nearest_units.py at 5,000 units:
#: 1.5 beat 1.0 and 1.25, 2.0 within noise of it (docs/BENCHMARKS.md).
UNITS_PER_CELL = 1.5
DEFAULT_CELL_METRES = 1000.0
MIN_CELL_METRES = 5.0
MAX_CELL_METRES = 200_000.0
#: Up to this many units of a type, a scan of all of them beats walking rings of cells.
SCAN_BELOW = 24
#: Empty buckets kept per type before they are dropped (see _TypeGrid.prune).
PRUNE_CELLS_ABOVE = 1 << 12
#: Shared cell edges kept per type before the cache starts again (see _TypeGrid.edges_of).
EDGES_KEPT = 1 << 12
#: Unit ids from 0 up to this are found by list position, larger ones (and negative ones) in a dict; see
#: MovingUnitIndex._dense. Database keys count up from 1, so in practice every unit is in the list, which
#: costs 8 bytes per id up to the largest (at most 8 MiB).
DENSE_IDS = 1 << 20
SYNC_OVERLAP = dt.timedelta(seconds=5)
FULL_REBUILD_SECONDS = 60.0
#: Cell keys pack (ix, iy) into one int, ix * _ROW + iy (computed in floats, exact below 2**53, then made
#: an int: ints hash much faster than floats); collision-free while |iy| < 2**25, which holds for any cell
#: of MIN_CELL_METRES or more on Earth.
_ROW = 1 << 26


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle (haversine) distance in metres between two WGS84 points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def cell_size_for(points: list[tuple[float, float]], units_per_cell: float = UNITS_PER_CELL) -> float:
    """A cell size (metres) putting about ``units_per_cell`` units in a cell where the units are.

    Starts from the spread of the middle 90% of the points (a lone unit far away does not blow the cells
    up), then corrects by the occupancy actually obtained: from the mean count per occupied cell m, the
    local density lambda follows as if units were scattered at random (m = lambda / (1 - exp(-lambda))),
    which also handles clusters and lines of units.
    """
    count = len(points)
    if count < 2:
        return DEFAULT_CELL_METRES
    xs = sorted(p[0] for p in points)
    ys = sorted(p[1] for p in points)
    low, high = count // 20, count - 1 - count // 20
    width, height = xs[high] - xs[low], ys[high] - ys[low]
    size = max(math.sqrt(width * height * units_per_cell / count), max(width, height) * units_per_cell / count)
    size = min(MAX_CELL_METRES, max(MIN_CELL_METRES, size))
    for _attempt in range(6):
        occupied = len({(x // size) * _ROW + y // size for x, y in points})
        density = _poisson_rate(count / occupied)
        factor = 4.0 if density <= 0 else min(4.0, max(0.25, math.sqrt(units_per_cell / density)))
        if 0.9 <= factor <= 1.1:
            break
        resized = min(MAX_CELL_METRES, max(MIN_CELL_METRES, size * factor))
        if resized == size:
            break
        size = resized
    return size


def _poisson_rate(per_occupied_cell: float) -> float:
    """lambda such that lambda / (1 - exp(-lambda)) = the mean count per occupied cell (0 if every unit has
    a cell to itself)."""
    if per_occupied_cell <= 1.0:
        return 0.0
    low, high = 0.0, per_occupied_cell
    for _step in range(40):
        mid = (low + high) / 2
        if mid / -math.expm1(-mid) < per_occupied_cell:
            low = mid
        else:
            high = mid
    return (low + high) / 2


class _Entry:
    """One indexed unit: where it is (x metres east of the reference meridian at the reference latitude, y
    metres north of the equator, the fix time in Unix seconds) and where it is filed (its cell's bounds,
    key, bucket and grid; the cell's corner blocks follow from the key). Mutable and shared by the bucket
    and the four blocks, so that a move inside its cell is a bounds check and three attribute writes, like
    the update of a plain record: no bucket, block or other dict is written."""

    __slots__ = ("bucket", "fix_ts", "grid", "key", "unit_id", "unit_type", "x", "x0", "x1", "y", "y0", "y1")

    def __init__(self, unit_id: int, unit_type: str, grid: _TypeGrid) -> None:
        self.unit_id = unit_id
        self.unit_type = unit_type
        self.grid = grid
        self.x = self.y = self.fix_ts = 0.0
        self.x0 = self.x1 = self.y0 = self.y1 = 0.0
        self.key = 0
        self.bucket: Bucket = {}


#: What a cell (and a corner block) holds: unit id -> its entry.
Bucket = dict[int, _Entry]
#: What ``MovingUnitIndex.update_many`` takes per unit: (unit id, type, eligible, lon, lat, fix time in Unix
#: seconds). For a unit that is not eligible only the id is read: type and position may be None there (hence
#: Any: str and float when eligible).
UnitReport = tuple[int, Any, bool, Any, Any, float]


class _TypeGrid:
    """The grid of one unit type. Cell indices (ix, iy) are integral floats (x // size).

    ``cells``: cell key -> the bucket of the units in that cell. ``blocks``: corner key -> the units of the
    four cells around that corner; the corner (ix, iy) is the lower left one of cell (ix, iy) and has the
    same key, so a unit of cell key k is in the blocks of k, k + 1, k + _ROW and k + _ROW + 1.

    A bucket or block, once made, stays while it is empty (units come back to the cells they left, and a
    move then needs no new dict); the empty ones are dropped when they pile up (``prune``,
    ``prune_blocks``) and when the grid is rebuilt.
    """

    __slots__ = (
        "block_prune_at",
        "blocks",
        "cells",
        "count",
        "edges",
        "grow_at",
        "max_ix",
        "max_iy",
        "min_ix",
        "min_iy",
        "prune_at",
        "shrink_at",
        "size",
        "span_limit",
        "unit_type",
    )

    def __init__(self, unit_type: str, size: float, adaptive: bool) -> None:
        self.unit_type = unit_type
        self.size = size
        self.cells: dict[int, Bucket] = {}
        self.prune_at = PRUNE_CELLS_ABOVE
        self.blocks: dict[int, Bucket] = {}
        self.block_prune_at = PRUNE_CELLS_ABOVE
        self.edges: dict[float, tuple[float, float]] = {}
        self.count = 0
        self.min_ix = self.min_iy = math.inf
        self.max_ix = self.max_iy = -math.inf
        # When to choose the cell size again (never, for a fixed size).
        self.grow_at = math.inf if not adaptive else 8
        self.shrink_at = -1
        self.span_limit = math.inf

    def widen(self, ix: float, iy: float) -> None:
        """The occupied range only grows between rebuilds: a bound for the ring search and the trigger for
        choosing the cell size again, never a correctness input."""
        if ix < self.min_ix:
            self.min_ix = ix
        if ix > self.max_ix:
            self.max_ix = ix
        if iy < self.min_iy:
            self.min_iy = iy
        if iy > self.max_iy:
            self.max_iy = iy

    def span(self) -> float:
        """Cells in the occupied range (it only grows between rebuilds)."""
        if self.count == 0 or self.min_ix == math.inf:
            return 0.0
        return (self.max_ix - self.min_ix + 1) * (self.max_iy - self.min_iy + 1)

    def edges_of(self, index: float) -> tuple[float, float]:
        """(low, high) metres of the cells with this column (or row) index, the same two float objects for
        every unit there, so that the bounds a move is checked against are a few hundred objects that stay
        in the processor's cache rather than four of its own per unit, scattered over the heap (the check
        read them from memory on most moves: about a tenth of a query's time in the benchmark)."""
        pair = self.edges.get(index)
        if pair is None:
            if len(self.edges) >= EDGES_KEPT:
                self.edges = {}  # entries keep the pairs they hold; only sharing with later ones is lost
            low = index * self.size
            pair = self.edges[index] = (low, low + self.size)
        return pair

    def bucket_for(self, key: int) -> Bucket:
        bucket = self.cells.get(key)
        if bucket is None:
            if len(self.cells) >= self.prune_at:
                self.prune()
            bucket = self.cells[key] = {}
        return bucket

    def prune(self) -> None:
        """Drop the empty buckets (no entry refers to an empty bucket)."""
        self.cells = {key: bucket for key, bucket in self.cells.items() if bucket}
        self.prune_at = 2 * len(self.cells) + PRUNE_CELLS_ABOVE

    def block_for(self, key: int) -> Bucket:
        block = self.blocks.get(key)
        if block is None:
            if len(self.blocks) >= self.block_prune_at:
                self.prune_blocks()
            block = self.blocks[key] = {}
        return block

    def prune_blocks(self) -> None:
        """Drop the empty blocks (no unit is in an empty block). Replaces the dict: callers holding
        ``blocks`` read it again."""
        self.blocks = {key: block for key, block in self.blocks.items() if block}
        self.block_prune_at = 2 * len(self.blocks) + PRUNE_CELLS_ABOVE


def _ring_offsets(r: int) -> tuple[int, ...]:
    """Cell-key offsets of the ring at Chebyshev distance r around a cell."""
    if r == 0:
        return (0,)
    cells = [(dx, dy) for dx in range(-r, r + 1) for dy in (-r, r)]
    cells += [(dx, dy) for dx in (-r, r) for dy in range(-r + 1, r)]
    return tuple(dx * _ROW + dy for dx, dy in cells)


#: Rings up to this distance are looked up from precomputed offsets. The search starts with the 3 x 3
#: block (rings 0 and 1 at once): at about one unit per cell the nearest is rarely inside the query's own
#: cell by more than the distance to its side, so a separate first step for ring 0 would seldom end it.
PRECOMPUTED_RINGS = 12
#: _RINGS[r]: the offsets searched at step r (_RINGS[1] is the whole 3 x 3 block; _RINGS[0] is not used).
_RINGS = ((), (0, *_ring_offsets(1)), *(_ring_offsets(r) for r in range(2, PRECOMPUTED_RINGS + 1)))

#: Key offsets, from a cell, of the corners whose blocks hold its units.
_CORNERS = (0, 1, _ROW, _ROW + 1)


def _corner_steps() -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Per step into a neighbouring cell (key of the new cell minus key of the old): the corner offsets,
    from the old cell, of the blocks the unit leaves, and, from the new cell, of those it joins (the
    corners the two cells share keep it)."""
    corners = {(0, 0), (0, 1), (1, 0), (1, 1)}
    steps = {}
    for sx in (-1, 0, 1):
        for sy in (-1, 0, 1):
            if sx or sy:
                leave = [(cx, cy) for cx, cy in corners if (cx - sx, cy - sy) not in corners]
                join = [(cx, cy) for cx, cy in corners if (cx + sx, cy + sy) not in corners]
                steps[sx * _ROW + sy] = (
                    tuple(cx * _ROW + cy for cx, cy in sorted(leave)),
                    tuple(cx * _ROW + cy for cx, cy in sorted(join)),
                )
    return steps


_CORNER_STEPS = _corner_steps()
#: Any longer move: every block left, every block joined.
_CORNER_JUMP = (_CORNERS, _CORNERS)


class MovingUnitIndex:
    """Nearest eligible units per type on per-type uniform grids with incremental moves."""

    def __init__(
        self,
        *,
        cell_metres: float | None = None,
        reference_latitude: float = DEFAULT_REFERENCE_LATITUDE,
        units_per_cell: float = UNITS_PER_CELL,
    ):
        """``cell_metres`` fixes the cell size of every type; None (the default) chooses it per type."""
        self.cell_metres = None if cell_metres is None else float(cell_metres)
        self.units_per_cell = units_per_cell
        self.kx = METRES_PER_DEGREE_LATITUDE * math.cos(math.radians(reference_latitude))
        self.ky = METRES_PER_DEGREE_LATITUDE
        self.grids: dict[str, _TypeGrid] = {}
        #: unit id -> its entry (position, and where it is filed).
        self._entries: dict[int, _Entry] = {}
        #: The same entries by list position for ids 0 <= id < DENSE_IDS (None where there is none). A move
        #: finds its entry here: a dict look-up compares the report's id with the stored key object, another
        #: read from memory on most moves; the position in a list is the id itself.
        self._dense: list[_Entry | None] = []

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, unit_id: int) -> bool:
        return unit_id in self._entries

    def _entry_of(self, unit_id: int) -> _Entry | None:
        if 0 <= unit_id < len(self._dense):
            return self._dense[unit_id]
        return self._entries.get(unit_id)

    def _register(self, entry: _Entry) -> None:
        unit_id = entry.unit_id
        self._entries[unit_id] = entry
        if 0 <= unit_id < DENSE_IDS:
            dense = self._dense
            if unit_id >= len(dense):
                dense.extend([None] * (min(DENSE_IDS, max(unit_id + 1, 2 * len(dense))) - len(dense)))
            dense[unit_id] = entry

    def _unregister(self, unit_id: int) -> _Entry | None:
        entry = self._entries.pop(unit_id, None)
        if entry is not None and 0 <= unit_id < len(self._dense):
            self._dense[unit_id] = None
        return entry

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        return lon * self.kx, lat * self.ky

    def position(self, unit_id: int) -> tuple[float, float] | None:
        """(lon, lat) of an indexed unit."""
        entry = self._entry_of(unit_id)
        if entry is None:
            return None
        return entry.x / self.kx, entry.y / self.ky

    def cell_size(self, unit_type: str) -> float | None:
        """The cell size (metres) the type's grid uses now."""
        grid = self.grids.get(unit_type)
        return None if grid is None else grid.size

    def planar_distance(self, lon1: float, lat1: float, lon2: float, lat2: float) -> float:
        """The metric the index ranks by: equirectangular metres at the reference latitude.

        Against the great-circle distance it differs by a common scale (the same for every candidate, so
        no effect on the order) and by up to tan(latitude) x the latitude difference from the reference
        (radians) on the east-west part: 0.15% at 20 km north or south of it (the edge of Liuzhou city).
        Over the city, the k nearest by this metric are the k nearest by haversine up to ties within a
        metre (tests/emergency/test_unit_index.py).
        """
        return math.hypot((lon1 - lon2) * self.kx, (lat1 - lat2) * self.ky)

    def upsert(self, unit_id: int, unit_type: str, lon: float, lat: float, fix_ts: float) -> None:
        """Insert or move an eligible unit (also a change of type)."""
        x = lon * self.kx
        y = lat * self.ky
        entry = self._entry_of(unit_id)
        if entry is not None and entry.x0 <= x < entry.x1 and entry.y0 <= y < entry.y1 and entry.unit_type == unit_type:
            entry.x = x  # moved within its cell
            entry.y = y
            entry.fix_ts = fix_ts
            return
        self._place(unit_id, unit_type, x, y, fix_ts, entry)

    def update_many(self, rows: Iterable[UnitReport]) -> None:
        """Apply a batch of unit reports in order, each (unit id, type, eligible, lon, lat, fix time in Unix
        seconds). An eligible unit is inserted or moved as by ``upsert``; any other leaves the index as by
        ``remove`` (its type and position are not read, and may be None). The same as calling those one
        by one, without a call per report: ``synced_index()`` hands over every row changed since its last
        sync in one batch, and the commonest report, a move inside the unit's cell, is done inline."""
        dense = self._dense
        get = self._entries.get
        kx = self.kx
        ky = self.ky
        for unit_id, unit_type, eligible, lon, lat, fix_ts in rows:
            if eligible:
                x = lon * kx
                y = lat * ky
                if unit_id >= 0:
                    try:
                        entry = dense[unit_id]
                    except IndexError:  # a new unit beyond the list, or an id past DENSE_IDS
                        entry = get(unit_id)
                else:
                    entry = get(unit_id)
                if entry is None or entry.unit_type != unit_type:
                    self._place(unit_id, unit_type, x, y, fix_ts, entry)
                elif entry.x0 <= x < entry.x1 and entry.y0 <= y < entry.y1:
                    entry.x = x
                    entry.y = y
                    entry.fix_ts = fix_ts
                else:
                    # Into another cell of the same grid (one move in forty here), inline: a call would
                    # cost as much again.
                    grid = entry.grid
                    del entry.bucket[unit_id]  # the bucket stays, even empty (see _TypeGrid)
                    size = grid.size
                    ix = x // size
                    iy = y // size
                    key = int(ix * _ROW + iy)
                    bucket = grid.cells.get(key)
                    if bucket is None:
                        bucket = grid.bucket_for(key)
                    bucket[unit_id] = entry
                    entry.bucket = bucket
                    old_key = entry.key
                    leave, join = _CORNER_STEPS.get(key - old_key, _CORNER_JUMP)
                    blocks = grid.blocks
                    for offset in leave:
                        del blocks[old_key + offset][unit_id]  # the block stays, even empty
                    for offset in join:
                        block = blocks.get(key + offset)
                        if block is None:
                            block = grid.block_for(key + offset)
                            blocks = grid.blocks  # a new dict if the empty blocks were just dropped
                        block[unit_id] = entry
                    entry.key = key
                    entry.x = x
                    entry.y = y
                    entry.fix_ts = fix_ts
                    entry.x0, entry.x1 = grid.edges_of(ix)
                    entry.y0, entry.y1 = grid.edges_of(iy)
                    if not (grid.min_ix <= ix <= grid.max_ix and grid.min_iy <= iy <= grid.max_iy):
                        grid.widen(ix, iy)
                        if grid.span() > grid.span_limit:
                            self._rebuild(grid)
            else:
                self.remove(unit_id)  # rare next to moves: a call is cheap enough

    def remove(self, unit_id: int) -> None:
        """The unit may no longer be recommended (dispatched, out of service, inactive, no fix)."""
        entry = self._unregister(unit_id)
        if entry is not None:
            grid = entry.grid
            del entry.bucket[unit_id]
            blocks = grid.blocks
            key = entry.key
            for offset in _CORNERS:
                del blocks[key + offset][unit_id]
            grid.count -= 1
            if grid.count < grid.shrink_at:
                self._rebuild(grid)

    def _place(self, unit_id: int, unit_type: str, x: float, y: float, fix_ts: float, entry: _Entry | None) -> None:
        """Everything but a move inside the cell: a move into another cell, a new unit, a change of type."""
        if entry is not None and entry.unit_type == unit_type:
            moved_grid = entry.grid
            del entry.bucket[unit_id]  # the bucket and blocks stay, even empty (see _TypeGrid)
            blocks = moved_grid.blocks
            key = entry.key
            for offset in _CORNERS:
                del blocks[key + offset][unit_id]
            self._file(moved_grid, entry, x, y, fix_ts)
            if moved_grid.span() > moved_grid.span_limit:
                self._rebuild(moved_grid)
            return
        if entry is not None:
            self.remove(unit_id)
        grid = self.grids.get(unit_type)
        if grid is None:
            adaptive = self.cell_metres is None
            grid = self.grids[unit_type] = _TypeGrid(unit_type, self.cell_metres or DEFAULT_CELL_METRES, adaptive)
        entry = _Entry(unit_id, unit_type, grid)
        self._register(entry)
        grid.count += 1
        self._file(grid, entry, x, y, fix_ts)
        if grid.count > grid.grow_at or grid.span() > grid.span_limit:
            self._rebuild(grid)

    @staticmethod
    def _file(grid: _TypeGrid, entry: _Entry, x: float, y: float, fix_ts: float) -> None:
        """Into the cell of (x, y): its bucket and its four corner blocks (the entry is in none yet)."""
        size = grid.size
        ix = x // size
        iy = y // size
        key = int(ix * _ROW + iy)
        bucket = grid.bucket_for(key)
        unit_id = entry.unit_id
        bucket[unit_id] = entry
        for offset in _CORNERS:
            grid.block_for(key + offset)[unit_id] = entry
        entry.key = key
        entry.x = x
        entry.y = y
        entry.fix_ts = fix_ts
        entry.bucket = bucket
        entry.x0, entry.x1 = grid.edges_of(ix)
        entry.y0, entry.y1 = grid.edges_of(iy)
        if not (grid.min_ix <= ix <= grid.max_ix and grid.min_iy <= iy <= grid.max_iy):
            grid.widen(ix, iy)

    def _rebuild(self, grid: _TypeGrid) -> None:
        """Choose the type's cell size for its units now and re-file them (adaptive grids only)."""
        members = [entry for bucket in grid.cells.values() for entry in bucket.values()]
        count = len(members)
        grid.size = cell_size_for([(entry.x, entry.y) for entry in members], self.units_per_cell)
        grid.cells = {}
        grid.prune_at = PRUNE_CELLS_ABOVE
        grid.blocks = {}
        grid.block_prune_at = PRUNE_CELLS_ABOVE
        grid.edges = {}
        grid.min_ix = grid.min_iy = math.inf
        grid.max_ix = grid.max_iy = -math.inf
        for entry in members:
            self._file(grid, entry, entry.x, entry.y, entry.fix_ts)
        # Hysteresis: a type is not rebuilt on every arrival or departure, and small types rarely.
        grid.grow_at = max(count + count // 2, count + 16)
        grid.shrink_at = count * 2 // 3 if count > 48 else -1
        grid.span_limit = 4 * grid.span() + 64

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
        if grid is None or k != 1 or grid.count <= SCAN_BELOW:
            if grid is None or not grid.count or k <= 0:
                return []
            return self._search(grid, lon * self.kx, lat * self.ky, k, fresh_since, accept, [])
        # k = 1, the commonest question: the block of the grid corner nearest to the query first, inline.
        qx = lon * self.kx
        qy = lat * self.ky
        size = grid.size
        cx = qx // size
        cy = qy // size
        # (ex, ey): the query's offsets from that corner, at most half a cell each.
        ex = qx - cx * size
        if ex + ex > size:
            ex = size - ex
            cx += 1.0
        ey = qy - cy * size
        if ey + ey > size:
            ey = size - ey
            cy += 1.0
        best_d2 = math.inf
        best_id = 0
        # One look-up (a block is kept even while empty, and its four cells are walked as one dict): this
        # replaced nine look-ups of the 3 x 3 cells, the larger part of a query's time.
        block = grid.blocks.get(int(cx * _ROW + cy))
        if block:
            for entry in block.values():
                dx = entry.x - qx
                dy = entry.y - qy
                d2 = dx * dx + dy * dy
                if d2 > best_d2 or (d2 == best_d2 and entry.unit_id > best_id):
                    continue
                if entry.fix_ts < fresh_since or (accept is not None and not accept(entry.unit_id)):
                    continue
                best_d2 = d2
                best_id = entry.unit_id
        # The block spans one cell on each side of its corner: every unit outside it is at least the cell
        # size minus the query's larger offset from the corner away. Strictly nearer, so an equally
        # distant unit with a smaller id is not missed.
        edge = size - (ex if ex > ey else ey)  # comparisons: cheaper than a call to max()
        if best_d2 < edge * edge:
            return [(best_id, math.sqrt(best_d2))]
        # Rings from the 3 x 3 cells around the query's cell (it holds the block: what was found there is
        # found again and skipped as no better).
        found = [] if best_d2 == math.inf else [(best_d2, best_id)]
        return self._search(grid, qx, qy, 1, fresh_since, accept, found, 1)

    def _search(
        self,
        grid: _TypeGrid,
        qx: float,
        qy: float,
        k: int,
        fresh_since: float,
        accept: Callable[[int], bool] | None,
        best: list[tuple[float, int]],
        first_ring: int = 1,
    ) -> list[tuple[int, float]]:
        """The ring search for any k, keeping the k best (squared distance, unit id) in a sorted list;
        ``best`` may hold what the rings before ``first_ring`` found."""
        size = grid.size
        get = grid.cells.get
        cx = qx // size
        cy = qy // size
        base = int(cx * _ROW + cy)
        ex = qx - cx * size
        ey = qy - cy * size
        margin = min(ex, size - ex, ey, size - ey)
        reach = max(cx - grid.min_ix, grid.max_ix - cx, cy - grid.min_iy, grid.max_iy - cy, 1.0)
        scan_all = grid.count <= SCAN_BELOW
        worst = best[-1][0] if len(best) == k else math.inf
        r = first_ring
        while r <= reach:
            if scan_all:
                buckets: Iterable[Bucket | None] = list(grid.cells.values())
            elif r <= PRECOMPUTED_RINGS:
                buckets = map(get, [base + offset for offset in _RINGS[r]])
            else:
                buckets = self._clipped_ring(grid, cx, cy, r)
            for bucket in buckets:
                if not bucket:
                    continue
                for entry in bucket.values():
                    dx = entry.x - qx
                    dy = entry.y - qy
                    d2 = dx * dx + dy * dy
                    if d2 > worst or entry.fix_ts < fresh_since:
                        continue
                    unit_id = entry.unit_id
                    if accept is not None and not accept(unit_id):
                        continue
                    pair = (d2, unit_id)
                    if len(best) == k:
                        if pair >= best[-1]:
                            continue
                        best.pop()
                    insort(best, pair)
                    if len(best) == k:
                        worst = best[-1][0]
            if scan_all:
                break
            # Every unsearched unit lies outside the block of rings 0..r: at least this far away.
            edge = margin + r * size
            if len(best) == k and worst < edge * edge:
                break
            r += 1
        return [(unit_id, math.sqrt(d2)) for d2, unit_id in best]

    @staticmethod
    def _clipped_ring(grid: _TypeGrid, cx: float, cy: float, r: int) -> list[Bucket | None]:
        """The ring's cells, clipped to the occupied range (far queries stay cheap)."""
        get, found = grid.cells.get, []
        low_x, high_x = int(max(cx - r, grid.min_ix)), int(min(cx + r, grid.max_ix))
        for iy in (cy - r, cy + r):
            if grid.min_iy <= iy <= grid.max_iy:
                found += [get(int(ix * _ROW + iy)) for ix in range(low_x, high_x + 1)]
        low_y, high_y = int(max(cy - r + 1, grid.min_iy)), int(min(cy + r - 1, grid.max_iy))
        for ix in (cx - r, cx + r):
            if grid.min_ix <= ix <= grid.max_ix:
                found += [get(int(ix * _ROW + iy)) for iy in range(low_y, high_y + 1)]
        return found


# --- the per-process index, synced from the database ---------------------------------------------------


@dataclass
class _Synced:
    index: MovingUnitIndex
    watermark: dt.datetime | None
    built_at: float


#: Re-entrant: a query holds it around synced_index() and its own walks of the index.
index_lock = threading.RLock()
_lock = index_lock
_current: _Synced | None = None


#: A plain str: comparing a row's status with it is cheaper than with the enum member (the same value).
_AVAILABLE = str(UnitStatus.AVAILABLE.value)


def _apply(index: MovingUnitIndex, rows: Iterable[tuple]) -> dt.datetime | None:
    """The changed rows into the index as one batch of reports (``update_many``); the newest change seen.
    A unit may be recommended when active, available and with a fix (position and time)."""
    reports: list[UnitReport] = []
    append = reports.append
    newest = None
    for unit_id, unit_type, status, active, lon, lat, fix_at, changed_at in rows:
        if active and status == _AVAILABLE and lon is not None and lat is not None and fix_at is not None:
            append((unit_id, unit_type, True, lon, lat, fix_at.timestamp()))
        else:
            append((unit_id, unit_type, False, lon, lat, 0.0))
        if newest is None or changed_at > newest:
            newest = changed_at
    index.update_many(reports)
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
