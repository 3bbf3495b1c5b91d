"""The moving-units index on its own: cell sizes chosen per type from very sparse to very dense fleets,
answers equal to brute force through growth, shrinking and spreading, and the ranking metric against the
great-circle distance the API reports."""

from __future__ import annotations

import math
import random

import pytest

from dispatch.emergency import unit_index
from dispatch.emergency.unit_index import MovingUnitIndex, UnitReport, cell_size_for, distance_m
from tests.emergency.unit_fixtures import CENTRE_LAT, CENTRE_LON

Fleet = dict[int, tuple[str, float, float]]


def _brute(index: MovingUnitIndex, fleet: Fleet, unit_type: str, lon: float, lat: float, k: int) -> list[int]:
    rows = sorted(
        (index.planar_distance(ulon, ulat, lon, lat) ** 2, uid)
        for uid, (utype, ulon, ulat) in fleet.items()
        if utype == unit_type
    )
    return [uid for _d, uid in rows[:k]]


def _check_queries(index: MovingUnitIndex, fleet: Fleet, rng: random.Random, spread: float, count: int = 60) -> None:
    for _ in range(count):
        unit_type = rng.choice(("sparse", "dense", "clustered"))
        # Inside the fleet, at the edge of the prefecture, and far away (another province).
        reach = rng.choice((0.003, spread, 5.0))
        lon, lat = CENTRE_LON + rng.uniform(-reach, reach), CENTRE_LAT + rng.uniform(-reach, reach)
        k = rng.choice((1, 1, 3, 10))
        got = index.nearest(unit_type, lon, lat, k)
        assert [uid for uid, _d in got] == _brute(index, fleet, unit_type, lon, lat, k)


def _place(index: MovingUnitIndex, fleet: Fleet, uid: int, unit_type: str, lon: float, lat: float) -> None:
    fleet[uid] = (unit_type, lon, lat)
    index.upsert(uid, unit_type, lon, lat, 0.0)


def test_cells_follow_each_types_density_and_answers_stay_exact() -> None:
    rng = random.Random(7)
    index = MovingUnitIndex()
    fleet: Fleet = {}
    # Very sparse: 40 rescue boats over a 300 km square. Very dense: 3,000 units in a 600 m square (a
    # stadium event). Clustered: two towns 80 km apart, 300 units each within 2 km.
    for uid in range(40):
        _place(index, fleet, uid, "sparse", CENTRE_LON + rng.uniform(-1.5, 1.5), CENTRE_LAT + rng.uniform(-1.5, 1.5))
    for uid in range(1000, 4000):
        _place(index, fleet, uid, "dense", CENTRE_LON + rng.uniform(0, 0.006), CENTRE_LAT + rng.uniform(0, 0.0055))
    for uid in range(5000, 5600):
        town = 0.0 if uid % 2 else 0.8
        _place(
            index, fleet, uid, "clustered", CENTRE_LON + town + rng.uniform(0, 0.02), CENTRE_LAT + rng.uniform(0, 0.018)
        )
    sparse, dense, clustered = (index.cell_size(t) for t in ("sparse", "dense", "clustered"))
    assert sparse is not None and dense is not None and clustered is not None
    # About one and a half units per cell where the units are: sqrt(area x 1.5 / units) for uniform spreads
    # (58 km, 13 m and 140 m here; the forty boats are too few for the occupancy to say much more).
    assert 35_000 < sparse < 110_000
    assert 8 <= dense < 30
    assert 90 < clustered < 250  # by the towns' density, not by the 80 km between them
    _check_queries(index, fleet, rng, spread=1.5)

    # The dense crowd disperses over the city and most units leave service: the cells grow with it.
    for uid in range(1000, 4000):
        if uid % 10:
            index.remove(uid)
            del fleet[uid]
        else:
            _place(index, fleet, uid, "dense", CENTRE_LON + rng.uniform(-0.2, 0.2), CENTRE_LAT + rng.uniform(-0.2, 0.2))
    grown = index.cell_size("dense")
    assert grown is not None and grown > 20 * dense
    _check_queries(index, fleet, rng, spread=0.2)
    assert len(index) == len(fleet)


def test_a_type_growing_from_one_unit_keeps_exact_answers_through_every_rebuild() -> None:
    rng = random.Random(3)
    index = MovingUnitIndex()
    fleet: Fleet = {}
    sizes = set()
    for uid in range(1500):
        _place(index, fleet, uid, "dense", CENTRE_LON + rng.uniform(-0.1, 0.1), CENTRE_LAT + rng.uniform(-0.1, 0.1))
        sizes.add(index.cell_size("dense"))
        if uid % 50 == 0:
            lon, lat = CENTRE_LON + rng.uniform(-0.15, 0.15), CENTRE_LAT + rng.uniform(-0.15, 0.15)
            assert [u for u, _d in index.nearest("dense", lon, lat, 3)] == _brute(index, fleet, "dense", lon, lat, 3)
            assert [u for u, _d in index.nearest("dense", lon, lat)] == _brute(index, fleet, "dense", lon, lat, 1)
    assert len(sizes) >= 4  # chosen again as the type grew
    final = index.cell_size("dense")
    assert final is not None and 450 < final < 1000  # 22 km square, 1,500 units: ~700 m


@pytest.mark.parametrize(
    ("points", "low", "high"),
    [
        ([(0.0, 0.0)], 1000.0, 1000.0),  # one unit: the default
        ([(float(i), 0.0) for i in range(0, 100_000, 100)], 100.0, 400.0),  # a line: 1,000 units 100 m apart
        ([(1000.0, 1000.0)] * 50, 5.0, 5.0),  # all at one place: the smallest cell
    ],
)
def test_cell_size_for_degenerate_spreads(points: list[tuple[float, float]], low: float, high: float) -> None:
    assert low <= cell_size_for(points) <= high


def test_the_ranking_agrees_with_great_circle_distance_to_a_metre_in_the_city() -> None:
    """The index ranks by equirectangular metres at a fixed latitude; the API reports haversine metres.
    Over a 40 km city the k nearest by one are the k nearest by the other up to ties within 1 m."""
    rng = random.Random(11)
    index = MovingUnitIndex()
    fleet: dict[int, tuple[float, float]] = {}
    for uid in range(1500):
        fleet[uid] = (CENTRE_LON + rng.uniform(-0.18, 0.18), CENTRE_LAT + rng.uniform(-0.18, 0.18))
        index.upsert(uid, "police_car", *fleet[uid], 0.0)
    differing = 0
    for _ in range(400):
        lon, lat = CENTRE_LON + rng.uniform(-0.18, 0.18), CENTRE_LAT + rng.uniform(-0.18, 0.18)
        got = [uid for uid, _d in index.nearest("police_car", lon, lat, 5)]
        truth = sorted((distance_m(ulon, ulat, lon, lat), uid) for uid, (ulon, ulat) in fleet.items())[:5]
        ranked = [distance_m(*fleet[uid], lon, lat) for uid in got]
        # Rank by rank, the great-circle distance of the index's answer is the true one within 1 m: where
        # the units differ, they were tied to within a metre.
        assert all(abs(mine - true) < 1.0 for mine, (true, _uid) in zip(ranked, truth, strict=True))
        differing += got != [uid for _d, uid in truth]
    assert differing <= 4  # near-ties are rare


def test_the_planar_metric_is_haversine_times_a_common_scale_within_a_sixth_of_a_percent_in_the_city() -> None:
    index = MovingUnitIndex()
    scales = []
    for dlat in (-0.18, 0.0, 0.18):
        for bearing in range(0, 360, 30):
            lat = CENTRE_LAT + dlat
            dx, dy = math.sin(math.radians(bearing)) * 0.02, math.cos(math.radians(bearing)) * 0.02
            scales.append(index.planar_distance(CENTRE_LON, lat, CENTRE_LON + dx, lat + dy) /
                          distance_m(CENTRE_LON, lat, CENTRE_LON + dx, lat + dy))  # fmt: skip
    # A common scale (no effect on order) times a direction- and latitude-dependent part: at most
    # tan(24.3 deg) x 0.197 deg = 0.156% here, 22 km from the reference latitude.
    common = 111_132 / (6_371_008.8 * math.pi / 180)
    assert all(abs(scale / common - 1) < 0.0016 for scale in scales)


def test_units_spreading_out_without_arrivals_make_the_cells_grow() -> None:
    """Same count, wider spread: only the occupied range can tell the grid to choose its size again."""
    rng = random.Random(5)
    index = MovingUnitIndex()
    fleet: Fleet = {}
    for uid in range(200):
        _place(index, fleet, uid, "dense", CENTRE_LON + rng.uniform(0, 0.01), CENTRE_LAT + rng.uniform(0, 0.009))
    packed = index.cell_size("dense")
    for step in range(30):  # the whole team drives out, a little further at each fix
        for uid in range(200):
            _type, lon, lat = fleet[uid]
            _place(index, fleet, uid, "dense", lon + rng.uniform(-0.01, 0.01), lat + rng.uniform(-0.01, 0.01))
        if step % 10 == 9:
            lon, lat = CENTRE_LON + rng.uniform(-0.1, 0.1), CENTRE_LAT + rng.uniform(-0.1, 0.1)
            assert [u for u, _d in index.nearest("dense", lon, lat, 3)] == _brute(index, fleet, "dense", lon, lat, 3)
    spread = index.cell_size("dense")
    assert packed is not None and spread is not None and spread > 3 * packed
    assert len(index) == 200


def _filled_cells(index: MovingUnitIndex, unit_type: str) -> int:
    return sum(1 for bucket in index.grids[unit_type].cells.values() if bucket)


def test_a_move_within_its_cell_rewrites_only_the_units_position() -> None:
    index = MovingUnitIndex(cell_metres=1000)
    # The middle of a cell, so that moves of a few metres stay inside it.
    x, y = index.project(CENTRE_LON, CENTRE_LAT)
    lon, lat = ((x // 1000 + 0.5) * 1000) / index.kx, ((y // 1000 + 0.5) * 1000) / index.ky
    index.upsert(1, "ambulance", lon, lat, 0.0)
    index.upsert(2, "ambulance", lon + 0.0001, lat, 0.0)
    grid = index.grids["ambulance"]
    buckets = dict(grid.cells)
    entry = index._entries[1]
    bucket = entry.bucket
    index.update_many([(1, "ambulance", True, lon + 0.00003, lat - 0.00002, 9.0)])
    assert index._entries[1] is entry and entry.bucket is bucket  # where it is filed did not change
    assert grid.cells == buckets and all(grid.cells[key] is b for key, b in buckets.items())
    assert index.position(1) == pytest.approx((lon + 0.00003, lat - 0.00002))
    assert index.nearest("ambulance", lon + 0.00003, lat - 0.00002, fresh_since=5.0) == [(1, 0.0)]
    # Out of its cell: filed anew; the old cell keeps no unit.
    index.update_many([(1, "ambulance", True, lon + 0.02, lat, 10.0)])
    assert entry.bucket is not bucket and 1 not in bucket and _filled_cells(index, "ambulance") == 2
    index.remove(2)
    assert _filled_cells(index, "ambulance") == 1 and len(index) == 1


def _assert_filed_where_they_are(index: MovingUnitIndex) -> None:
    """Every unit sits in the bucket of the cell its position falls in, and its remembered bounds are that
    cell's (the query's exit test relies on both)."""
    for uid, entry in index._entries.items():
        grid = index.grids[entry.unit_type]
        size = grid.size
        ix, iy = entry.x // size, entry.y // size
        assert grid.cells[int(ix * unit_index._ROW + iy)] is entry.bucket and entry.bucket[uid] is entry
        assert (entry.x0, entry.x1, entry.y0, entry.y1) == (ix * size, ix * size + size, iy * size, iy * size + size)


def test_update_many_is_the_same_as_one_call_per_report() -> None:
    """Batches with moves inside and across cells, arrivals, departures, changes of type, a unit reported twice
    (the later report wins) and departures of units that were never indexed (nothing happens)."""
    rng = random.Random(13)
    batched = MovingUnitIndex()
    one_by_one = MovingUnitIndex()
    fleet: Fleet = {}
    types = ("police_car", "ambulance")
    for step in range(300):
        reports: list[UnitReport] = []
        for _ in range(rng.randrange(1, 25)):
            uid = rng.randrange(600)
            roll = rng.random()
            if roll < 0.15:
                reports.append((uid, None, False, None, None, 0.0))  # out of service: no type, no fix read
                fleet.pop(uid, None)
                continue
            utype = rng.choice(types) if roll < 0.2 or uid not in fleet else fleet[uid][0]
            if uid in fleet and roll < 0.9:  # a step of up to ~400 m: out of its ~2 km cell one time in five
                lon, lat = fleet[uid][1] + rng.uniform(-0.004, 0.004), fleet[uid][2] + rng.uniform(-0.004, 0.004)
            else:
                lon, lat = CENTRE_LON + rng.uniform(-0.1, 0.1), CENTRE_LAT + rng.uniform(-0.1, 0.1)
            fleet[uid] = (utype, lon, lat)
            reports.append((uid, utype, True, lon, lat, float(step)))
        batched.update_many(reports)
        for report in reports:
            if report[2]:
                one_by_one.upsert(report[0], report[1], report[3], report[4], report[5])
            else:
                one_by_one.remove(report[0])
        assert len(batched) == len(one_by_one) == len(fleet)
        if step % 10 == 0:
            for uid, (_utype, lon, lat) in fleet.items():
                assert batched.position(uid) == pytest.approx((lon, lat), abs=1e-9)
            _assert_filed_where_they_are(batched)
            _assert_blocks_hold_their_cells(batched)
            for _ in range(20):
                utype, k = rng.choice(types), rng.choice((1, 1, 4))
                lon, lat = CENTRE_LON + rng.uniform(-0.12, 0.12), CENTRE_LAT + rng.uniform(-0.12, 0.12)
                got = batched.nearest(utype, lon, lat, k)
                assert got == one_by_one.nearest(utype, lon, lat, k)
                assert [uid for uid, _d in got] == _brute(batched, fleet, utype, lon, lat, k)
    assert {uid for uid in range(600) if uid in batched} == set(fleet)
    assert batched.cell_size("police_car") == one_by_one.cell_size("police_car")


def test_answers_stay_exact_while_empty_cells_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty buckets stay in the grid until the cells pile up; with a tiny limit they are dropped again and
    again while units move through the cells, and no unit may be lost with them."""
    monkeypatch.setattr(unit_index, "PRUNE_CELLS_ABOVE", 16)
    rng = random.Random(17)
    index = MovingUnitIndex(cell_metres=200)
    fleet: Fleet = {}
    for uid in range(300):
        _place(index, fleet, uid, "dense", CENTRE_LON + rng.uniform(-0.03, 0.03), CENTRE_LAT + rng.uniform(-0.03, 0.03))
    grid = index.grids["dense"]
    prunes = 0
    for _step in range(3000):
        uid = rng.randrange(300)
        cells_before = len(grid.cells)
        if uid in fleet and rng.random() < 0.05:
            index.update_many([(uid, "dense", False, None, None, 0.0)])
            del fleet[uid]
        else:
            base = fleet.get(uid, ("dense", CENTRE_LON, CENTRE_LAT))
            lon, lat = base[1] + rng.uniform(-0.003, 0.003), base[2] + rng.uniform(-0.003, 0.003)
            fleet[uid] = ("dense", lon, lat)
            index.update_many([(uid, "dense", True, lon, lat, 0.0)])
        prunes += len(grid.cells) < cells_before
        lon, lat = CENTRE_LON + rng.uniform(-0.035, 0.035), CENTRE_LAT + rng.uniform(-0.035, 0.035)
        assert [u for u, _d in index.nearest("dense", lon, lat)] == _brute(index, fleet, "dense", lon, lat, 1)
    _assert_filed_where_they_are(index)
    _assert_blocks_hold_their_cells(index)
    assert prunes >= 3  # the limit was really hit
    assert len(index) == len(fleet)


def _assert_blocks_hold_their_cells(index: MovingUnitIndex) -> None:
    """Each corner's block holds exactly the units of the four cells around that corner (a k=1 query reads
    only the block): a block left stale by a move, a removal, a change of type or a rebuild would hide a
    unit from the query or show one where it no longer is."""
    for grid in index.grids.values():
        expected: dict[int, dict[int, object]] = {}
        for key, bucket in grid.cells.items():
            for uid, entry in bucket.items():
                assert entry.key == key
                for corner in unit_index._CORNERS:
                    expected.setdefault(key + corner, {})[uid] = entry
        filled = {key: block for key, block in grid.blocks.items() if block}
        assert filled.keys() == expected.keys()
        for key, block in filled.items():
            assert block.keys() == expected[key].keys()
            assert all(block[uid] is expected[key][uid] for uid in block)


def test_a_unit_stepping_into_every_neighbouring_cell_and_jumping_is_found_from_every_side() -> None:
    """Side steps and diagonal steps change only some of the unit's blocks, a jump all of them: after each,
    queries around the unit's old and new cells (nearer one corner or another) agree with brute force."""
    rng = random.Random(19)
    index = MovingUnitIndex(cell_metres=1000)
    fleet: Fleet = {}
    x, y = index.project(CENTRE_LON, CENTRE_LAT)
    ix, iy = x // 1000, y // 1000

    def centre_of(cx: float, cy: float) -> tuple[float, float]:
        return ((cx + 0.5) * 1000) / index.kx, ((cy + 0.5) * 1000) / index.ky

    # A few others, far enough that the moving unit is often the nearest and sometimes not.
    for uid in range(2, 8):
        _place(index, fleet, uid, "ambulance", *centre_of(ix + rng.uniform(-6, 6), iy + rng.uniform(-6, 6)))
    steps = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy] + [(9, -4), (-9, 4), (0, 0)]
    for dx, dy in steps:
        _place(index, fleet, 1, "ambulance", *centre_of(ix, iy))  # back in the middle cell
        _place(index, fleet, 1, "ambulance", *centre_of(ix + dx, iy + dy))
        _assert_blocks_hold_their_cells(index)
        for _ in range(40):
            lon, lat = centre_of(ix + rng.uniform(-2.5, 2.5), iy + rng.uniform(-2.5, 2.5))
            got = [u for u, _d in index.nearest("ambulance", lon, lat)]
            assert got == _brute(index, fleet, "ambulance", lon, lat, 1)
    # Out of service, back, and over to another type: gone from every block of the old grid.
    index.remove(1)
    del fleet[1]
    _assert_blocks_hold_their_cells(index)
    _place(index, fleet, 1, "police_car", *centre_of(ix, iy))
    _assert_blocks_hold_their_cells(index)
    lon, lat = centre_of(ix, iy)
    assert index.nearest("police_car", lon, lat) == [(1, 0.0)]
    assert 1 not in [u for u, _d in index.nearest("ambulance", lon, lat, 10)]


def _count_block_prunes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-item list counting the times empty blocks are dropped from now on."""
    count = [0]
    prune_blocks = unit_index._TypeGrid.prune_blocks

    def counted_prune_blocks(grid: unit_index._TypeGrid) -> None:
        count[0] += 1
        prune_blocks(grid)

    monkeypatch.setattr(unit_index._TypeGrid, "prune_blocks", counted_prune_blocks)
    return count


def test_blocks_stay_exact_under_random_moves_removals_type_changes_rebuilds_and_pruning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Moves inside a cell, into a side or diagonal neighbour, and jumps; departures, returns and changes of
    type; the adaptive grids rebuilt as the types grow, shrink and spread; empty cells and blocks dropped
    again and again (tiny limit). k=1 answers, with a freshness bound and a refusing ``accept``, equal brute
    force throughout."""
    monkeypatch.setattr(unit_index, "PRUNE_CELLS_ABOVE", 24)
    block_prunes = _count_block_prunes(monkeypatch)
    rng = random.Random(23)
    index = MovingUnitIndex()
    fleet: dict[int, tuple[str, float, float, float]] = {}
    types = ("police_car", "ambulance")
    sizes: set[float | None] = set()
    for step in range(400):
        # A crowd of arrivals early on, departures later: the grids are chosen again both ways.
        leave_rate = 0.05 if step < 200 else 0.3
        reports: list[UnitReport] = []
        for _ in range(rng.randrange(1, 30)):
            uid = rng.randrange(500)
            roll = rng.random()
            if roll < leave_rate:
                reports.append((uid, None, False, None, None, 0.0))
                fleet.pop(uid, None)
                continue
            unit_type = rng.choice(types) if roll < leave_rate + 0.05 or uid not in fleet else fleet[uid][0]
            if uid in fleet and roll < 0.95:  # a step: inside the cell, or into any neighbour
                reach = rng.choice((0.0005, 0.003, 0.006))
                lon, lat = fleet[uid][1] + rng.uniform(-reach, reach), fleet[uid][2] + rng.uniform(-reach, reach)
            else:  # a jump (or an arrival) anywhere in the city
                lon, lat = CENTRE_LON + rng.uniform(-0.08, 0.08), CENTRE_LAT + rng.uniform(-0.08, 0.08)
            fix_ts = float(rng.randrange(10))
            fleet[uid] = (unit_type, lon, lat, fix_ts)
            reports.append((uid, unit_type, True, lon, lat, fix_ts))
        if step % 3:
            index.update_many(reports)
        else:  # the per-call path keeps the blocks too
            for uid, unit_type, eligible, lon, lat, fix_ts in reports:
                if eligible:
                    index.upsert(uid, unit_type, lon, lat, fix_ts)
                else:
                    index.remove(uid)
        sizes.update(index.cell_size(unit_type) for unit_type in types)
        _assert_blocks_hold_their_cells(index)
        _assert_filed_where_they_are(index)
        for _ in range(8):
            unit_type = rng.choice(types)
            lon, lat = CENTRE_LON + rng.uniform(-0.09, 0.09), CENTRE_LAT + rng.uniform(-0.09, 0.09)
            fresh_since = rng.choice((-math.inf, 4.0))
            got = index.nearest(unit_type, lon, lat, fresh_since=fresh_since, accept=lambda uid: uid % 7 != 0)
            recommendable = {
                uid: (utype, ulon, ulat)
                for uid, (utype, ulon, ulat, fix_ts) in fleet.items()
                if fix_ts >= fresh_since and uid % 7 != 0
            }
            assert [u for u, _d in got] == _brute(index, recommendable, unit_type, lon, lat, 1)
    assert len(index) == len(fleet)
    assert len(sizes) >= 4  # the grids were rebuilt (both types, more than once)
    assert block_prunes[0] >= 3  # empty blocks were really dropped


def test_answers_stay_exact_while_empty_blocks_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same for the corner blocks: a few units roaming over many cells of a fixed grid (never rebuilt)
    leave empty blocks behind, dropped again and again with a tiny limit, in the middle of batches."""
    monkeypatch.setattr(unit_index, "PRUNE_CELLS_ABOVE", 16)
    block_prunes = _count_block_prunes(monkeypatch)
    rng = random.Random(29)
    index = MovingUnitIndex(cell_metres=100)
    fleet: Fleet = {}
    for uid in range(20):
        _place(index, fleet, uid, "dense", CENTRE_LON + rng.uniform(-0.02, 0.02), CENTRE_LAT + rng.uniform(-0.02, 0.02))
    for step in range(1500):
        reports: list[UnitReport] = []
        for uid in rng.sample(range(20), 3):
            if rng.random() < 0.3:  # a jump somewhere in a 4 km square: ~1,600 cells for 20 units
                lon, lat = CENTRE_LON + rng.uniform(-0.02, 0.02), CENTRE_LAT + rng.uniform(-0.02, 0.02)
            else:  # a step of up to ~150 m: into a side or diagonal neighbour, or further
                lon, lat = fleet[uid][1] + rng.uniform(-0.0015, 0.0015), fleet[uid][2] + rng.uniform(-0.0015, 0.0015)
            fleet[uid] = ("dense", lon, lat)
            reports.append((uid, "dense", True, lon, lat, 0.0))
        index.update_many(reports)
        lon, lat = CENTRE_LON + rng.uniform(-0.025, 0.025), CENTRE_LAT + rng.uniform(-0.025, 0.025)
        assert [u for u, _d in index.nearest("dense", lon, lat)] == _brute(index, fleet, "dense", lon, lat, 1)
        if step % 100 == 0:
            _assert_blocks_hold_their_cells(index)
    _assert_blocks_hold_their_cells(index)
    assert index.cell_size("dense") == 100
    assert block_prunes[0] >= 5


def _assert_id_table_matches(index: MovingUnitIndex) -> None:
    """The list by id holds exactly the entries of the ids it covers, and nothing where there is none."""
    for position, entry in enumerate(index._dense):
        assert entry is index._entries.get(position)
    assert len(index._dense) <= unit_index.DENSE_IDS


def test_ids_below_zero_past_the_id_list_and_growing_it_are_found_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Moves find their units by list position for small ids and in a dict for negative ids and ids past the
    list's limit (tiny here). A report about a negative id must never reach the unit at the same position
    from the end of the list, and a first report past the list's end must grow it, not be lost."""
    monkeypatch.setattr(unit_index, "DENSE_IDS", 40)
    rng = random.Random(31)
    batched = MovingUnitIndex()
    one_by_one = MovingUnitIndex()
    fleet: Fleet = {}
    ids = [*range(-25, 0), *range(0, 60), 10**12, -(10**12)]
    for step in range(250):
        reports: list[UnitReport] = []
        for uid in rng.sample(ids, rng.randrange(1, 12)):
            if uid in fleet and rng.random() < 0.1:
                reports.append((uid, None, False, None, None, 0.0))
                fleet.pop(uid)
                continue
            if uid in fleet:
                lon, lat = fleet[uid][1] + rng.uniform(-0.003, 0.003), fleet[uid][2] + rng.uniform(-0.003, 0.003)
            else:
                lon, lat = CENTRE_LON + rng.uniform(-0.05, 0.05), CENTRE_LAT + rng.uniform(-0.05, 0.05)
            fleet[uid] = ("ambulance", lon, lat)
            reports.append((uid, "ambulance", True, lon, lat, float(step)))
        batched.update_many(reports)
        for uid, unit_type, eligible, lon, lat, fix_ts in reports:
            if eligible:
                one_by_one.upsert(uid, unit_type, lon, lat, fix_ts)
            else:
                one_by_one.remove(uid)
        for uid, (_utype, lon, lat) in fleet.items():
            assert batched.position(uid) == pytest.approx((lon, lat), abs=1e-9)
            assert one_by_one.position(uid) == pytest.approx((lon, lat), abs=1e-9)
        assert len(batched) == len(one_by_one) == len(fleet)
        _assert_id_table_matches(batched)
        _assert_filed_where_they_are(batched)
        _assert_blocks_hold_their_cells(batched)
        lon, lat = CENTRE_LON + rng.uniform(-0.06, 0.06), CENTRE_LAT + rng.uniform(-0.06, 0.06)
        k = rng.choice((1, 3))
        got = batched.nearest("ambulance", lon, lat, k)
        assert [u for u, _d in got] == _brute(batched, fleet, "ambulance", lon, lat, k)
        assert got == one_by_one.nearest("ambulance", lon, lat, k)
    assert any(uid < 0 for uid in fleet) and any(uid >= 40 for uid in fleet)  # both dict cases were exercised
    assert len(batched._dense) == 40  # grown up to the limit, no further


def test_units_of_one_column_or_row_share_their_cell_edges_and_stay_exact_as_the_cache_restarts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Units filed in the same column hold the same two edge floats (that is what keeps the bounds a move is
    checked against in the cache); with a tiny cache the pairs are dropped and made again, and every unit
    keeps bounds equal to its cell's."""
    index = MovingUnitIndex(cell_metres=1000)
    x, y = index.project(CENTRE_LON, CENTRE_LAT)
    middle_x, middle_y = (x // 1000 + 0.5) * 1000, (y // 1000 + 0.5) * 1000
    # Three units in one column, two of them in one row too.
    fleet: Fleet = {}
    for uid, (dx, dy) in enumerate(((0, 0), (200, 3000), (-300, 120))):
        _place(index, fleet, uid, "ambulance", (middle_x + dx) / index.kx, (middle_y + dy) / index.ky)
    first, second, third = (index._entries[uid] for uid in range(3))
    assert first.x0 is second.x0 is third.x0 and first.x1 is second.x1 is third.x1
    assert first.y0 is third.y0 and first.y0 is not second.y0
    _assert_filed_where_they_are(index)

    monkeypatch.setattr(unit_index, "EDGES_KEPT", 4)
    rng = random.Random(37)
    for uid in range(3, 40):
        _place(
            index, fleet, uid, "ambulance", CENTRE_LON + rng.uniform(-0.05, 0.05), CENTRE_LAT + rng.uniform(-0.05, 0.05)
        )
    for _step in range(200):
        uid = rng.randrange(40)
        lon, lat = fleet[uid][1] + rng.uniform(-0.02, 0.02), fleet[uid][2] + rng.uniform(-0.02, 0.02)
        fleet[uid] = ("ambulance", lon, lat)
        index.update_many([(uid, "ambulance", True, lon, lat, 0.0)])
        assert len(index.grids["ambulance"].edges) <= 4
        lon, lat = CENTRE_LON + rng.uniform(-0.06, 0.06), CENTRE_LAT + rng.uniform(-0.06, 0.06)
        assert [u for u, _d in index.nearest("ambulance", lon, lat)] == _brute(index, fleet, "ambulance", lon, lat, 1)
    _assert_filed_where_they_are(index)
