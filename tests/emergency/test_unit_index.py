"""The moving-units index on its own: cell sizes chosen per type from very sparse to very dense fleets,
answers equal to brute force through growth, shrinking and spreading, and the ranking metric against the
great-circle distance the API reports."""

from __future__ import annotations

import math
import random

import pytest

from dispatch.emergency.unit_index import MovingUnitIndex, cell_size_for, distance_m
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
    # About one unit per two cells where the units are: sqrt(area / units / 2) for uniform spreads.
    assert 20_000 < sparse < 60_000
    assert 5 <= dense < 20
    assert 50 < clustered < 150  # by the towns' density, not by the 80 km between them
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
    assert final is not None and 250 < final < 600  # 22 km square, 1,500 units: ~400 m


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


def test_a_move_within_its_cell_rewrites_only_the_units_position() -> None:
    index = MovingUnitIndex(cell_metres=1000)
    # The middle of a cell, so that moves of a few metres stay inside it.
    x, y = index.project(CENTRE_LON, CENTRE_LAT)
    lon, lat = ((x // 1000 + 0.5) * 1000) / index.kx, ((y // 1000 + 0.5) * 1000) / index.ky
    index.upsert(1, "ambulance", lon, lat, 0.0)
    index.upsert(2, "ambulance", lon + 0.0001, lat, 0.0)
    grid = index.grids["ambulance"]
    buckets = dict(grid.cells)
    slot = index._slots[1]
    index.upsert(1, "ambulance", lon + 0.00003, lat - 0.00002, 9.0)
    assert index._slots[1] is slot  # where it is filed did not change
    assert grid.cells == buckets and all(grid.cells[key] is bucket for key, bucket in buckets.items())
    assert index.position(1) == pytest.approx((lon + 0.00003, lat - 0.00002))
    assert index.nearest("ambulance", lon + 0.00003, lat - 0.00002, fresh_since=5.0) == [(1, 0.0)]
    # Out of its cell: filed anew, and the old cell's bucket goes once empty.
    index.upsert(1, "ambulance", lon + 0.02, lat, 10.0)
    assert index._slots[1] is not slot and len(grid.cells) == 2
    index.remove(2)
    assert len(grid.cells) == 1 and len(index) == 1
