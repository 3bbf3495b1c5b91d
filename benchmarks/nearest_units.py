"""Nearest-available-unit benchmark: 5,000 units moving while the command desk asks for the nearest units.

Run from the project root:

    .venv/bin/python benchmarks/nearest_units.py [--units 5000] [--queries 20000] [--moves-per-query 10] \
        [--rounds 10] [--seed 1]

5,000 units of five types are spread over a 40 km x 40 km square around Liuzhou; 80% are available, and
stay about 80% (the flips balance there). The run interleaves position updates with queries: before
every query, ``--moves-per-query`` random units move (a random step of up to ~45 m per axis) and one in
fifty of those moves also changes the unit's availability (dispatched units leave the index, returning
ones come back). Each move arrives as a report (unit id, type, available, lon, lat, fix time), the shape
in which ``synced_index()`` hands the changed rows of the units table to the index; making the reports is
the world's part and not timed (the database read that makes them in production is not measured here).
Every query asks for the nearest available unit of a random type at a random place in the square. Three
ways, in one run:

- ours: ``MovingUnitIndex`` (dispatch/emergency/unit_index.py). The time of a query includes handing
  the reports before it to the index (``update_many``, one batch per query), so the percentiles are "per
  query including index maintenance". For reference also with one ``upsert``/``remove`` call per report,
  and from rows shaped as the units table gives them, through ``synced_index()``'s own conversion;
- loop: a Python minimum-distance loop over every unit record, skipping other types and unavailable
  units, with the great-circle (haversine) distance the API reports - what a first implementation
  would write; its maintenance is copying the reports into its records, timed. Timed on
  ``--loop-queries`` queries. Two faster loops are reported for reference: planar metres over parallel
  lists, and the same over a pre-filtered list (only the type's available units, kept up to date outside
  the timing);
- raw: ``shapely.STRtree.query_nearest`` on the pre-filtered set (the type's available units, in the
  same projected metres). The trees are built outside the timing, once per type, on a frozen snapshot:
  a lower bound that ignores keeping the trees current. Their build time is reported separately.

Ours (k=1) and the two loops are timed in turns (``--rounds`` of them: a slice of ours' queries, then a
slice of each loop's), so that all three see the same state of the machine and of the process's heap.
Timed once each, one after the other, the same code gave 61.8x to 145.1x the loop in three runs.

Answers are compared on a frozen snapshot after the moving phase (ours with k=1 against the loop and
raw for every query); the script exits with status 1 if any nearest unit differs. Speed targets (>= 100x
the loop, <= 2x raw, p99 <= 1 ms per query including maintenance) are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dispatch.emergency.unit_index import MovingUnitIndex, distance_m  # noqa: E402
from dispatch.emergency.unit_index import _apply as apply_rows  # noqa: E402

TYPES = ("police_car", "fire_engine", "ambulance", "rescue_team", "repair_crew")
CENTRE_LON, CENTRE_LAT = 109.4112, 24.3126
HALF_SIDE_DEG = 0.18  # about 20 km each way
STEP_DEG = 0.0004  # about 45 m in each axis at most
LOOP_TARGET, RAW_TARGET, P99_TARGET_MS = 100.0, 2.0, 1.0
AVAILABLE_SHARE = 0.8
#: Flip rates per move: one move in fifty flips, as before, but with the flows balanced at the starting share:
#: share x LEAVE_RATE = (1 - share) x RETURN_RATE and share x LEAVE_RATE + (1 - share) x RETURN_RATE = 0.02.
LEAVE_RATE = 0.02 / (2 * AVAILABLE_SHARE)
RETURN_RATE = 0.02 / (2 * (1 - AVAILABLE_SHARE))


#: (unit id, type, available, lon, lat, fix time): what ``MovingUnitIndex.update_many`` takes.
Report = tuple[int, str, bool, float, float, float]


class Fleet:
    """The ground truth: every unit's type, availability and position."""

    def __init__(self, count: int, rng: random.Random):
        self.rng = rng
        self.types = [TYPES[i % len(TYPES)] for i in range(count)]
        self.available = [rng.random() < AVAILABLE_SHARE for _ in range(count)]
        self.lons = [CENTRE_LON + rng.uniform(-HALF_SIDE_DEG, HALF_SIDE_DEG) for _ in range(count)]
        self.lats = [CENTRE_LAT + rng.uniform(-HALF_SIDE_DEG, HALF_SIDE_DEG) for _ in range(count)]

    def move(self, unit: int) -> bool:
        """A step of the random walk; returns whether availability flipped too. An available unit is
        dispatched at LEAVE_RATE per move, an unavailable one returns at RETURN_RATE: the two flows balance
        at AVAILABLE_SHARE, so the share stays where it started and every method is timed on the same kind of
        fleet (symmetric flips let it drift from 80% towards 50%, which lightened the loop's fleet)."""
        self.lons[unit] += self.rng.uniform(-STEP_DEG, STEP_DEG)
        self.lats[unit] += self.rng.uniform(-STEP_DEG, STEP_DEG)
        available = self.available[unit]
        if self.rng.random() < (LEAVE_RATE if available else RETURN_RATE):
            self.available[unit] = not available
            return True
        return False

    def report(self, unit: int) -> Report:
        """What arrives about a unit after it moved, in the shape the index's feed hands over (the rows
        ``synced_index()`` reads from the units table become these, see unit_index._apply): unit id, type,
        whether it may be recommended, lon, lat, fix time."""
        return (unit, self.types[unit], self.available[unit], self.lons[unit], self.lats[unit], 0.0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def summary(name: str, ns: list[int]) -> dict[str, float]:
    us = [v / 1000 for v in ns]
    row = {"mean": sum(us) / len(us), "p50": percentile(us, 50), "p99": percentile(us, 99), "max": max(us)}
    print(
        f"  {name:<44} n={len(us):>6}  mean {row['mean']:9.2f} us  p50 {row['p50']:9.2f} us  "
        f"p99 {row['p99']:9.2f} us  max {row['max']:9.2f} us"
    )
    return row


def make_queries(rng: random.Random, count: int) -> list[tuple[str, float, float]]:
    return [
        (
            rng.choice(TYPES),
            CENTRE_LON + rng.uniform(-HALF_SIDE_DEG, HALF_SIDE_DEG),
            CENTRE_LAT + rng.uniform(-HALF_SIDE_DEG, HALF_SIDE_DEG),
        )
        for _ in range(count)
    ]


class NoIndex:
    """An index that does nothing: run through ``run_ours`` it times the harness alone (handing the reports
    over, the calls), the floor under ours' per-query time at this many moves per query."""

    def update_many(self, rows: list[Report]) -> None:
        pass

    def nearest(self, unit_type: str, lon: float, lat: float, k: int = 1) -> list[tuple[int, float]]:
        return []


def world_moves(fleet: Fleet, batch: list[int]) -> list[Report]:
    """The units of the batch move (a unit drawn twice moves twice); the reports of where they are now."""
    for unit in batch:
        fleet.move(unit)
    return [fleet.report(unit) for unit in batch]


def run_ours(
    fleet: Fleet, index: MovingUnitIndex | NoIndex, queries: list, moves: list[list[int]], k: int
) -> list[int]:
    """Per query: the reports of the moves before it handed to the index in one batch, as ``synced_index()``
    does with the rows changed since the last query, then the query. Both timed."""
    timings = []
    perf = time.perf_counter_ns
    for (unit_type, lon, lat), batch in zip(queries, moves, strict=True):
        reports = world_moves(fleet, batch)  # the world moves and reports (not timed)...
        start = perf()
        index.update_many(reports)  # ...the index follows (timed)
        index.nearest(unit_type, lon, lat, k)
        timings.append(perf() - start)
    return timings


def run_ours_from_rows(fleet: Fleet, index: MovingUnitIndex, queries: list, moves: list[list[int]]) -> list[int]:
    """(reference) The same from rows shaped as ``synced_index()`` reads them from the units table (status
    text, active flag, aware fix and change times), through its own conversion (unit_index._apply) into
    the batch: everything the real caller does after the database read."""
    timings = []
    perf = time.perf_counter_ns
    fix_at = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)
    for (unit_type, lon, lat), batch in zip(queries, moves, strict=True):
        rows = [
            (unit, unit_type_, "available" if available else "dispatched", True, ulon, ulat, fix_at, fix_at)
            for unit, unit_type_, available, ulon, ulat, _fix_ts in world_moves(fleet, batch)
        ]
        start = perf()
        apply_rows(index, rows)
        index.nearest(unit_type, lon, lat, 1)
        timings.append(perf() - start)
    return timings


def run_ours_per_call(fleet: Fleet, index: MovingUnitIndex, queries: list, moves: list[list[int]]) -> list[int]:
    """(reference) The same with one ``upsert``/``remove`` call per report, the way before update_many."""
    timings = []
    perf = time.perf_counter_ns
    for (unit_type, lon, lat), batch in zip(queries, moves, strict=True):
        reports = world_moves(fleet, batch)
        start = perf()
        for unit, unit_type_, available, ulon, ulat, fix_ts in reports:
            if available:
                index.upsert(unit, unit_type_, ulon, ulat, fix_ts)
            else:
                index.remove(unit)
        index.nearest(unit_type, lon, lat, 1)
        timings.append(perf() - start)
    return timings


class UnitRecord:
    __slots__ = ("available", "lat", "lon", "unit_id", "unit_type")

    def __init__(self, unit_id: int, unit_type: str, available: bool, lon: float, lat: float):
        self.unit_id, self.unit_type, self.available, self.lon, self.lat = unit_id, unit_type, available, lon, lat


def records_of(fleet: Fleet) -> list[UnitRecord]:
    return [
        UnitRecord(i, fleet.types[i], fleet.available[i], fleet.lons[i], fleet.lats[i]) for i in range(len(fleet.types))
    ]


def refresh_records(fleet: Fleet, records: list[UnitRecord]) -> None:
    """The records brought up to date in place (new objects every turn would churn the heap under ours)."""
    for record in records:
        unit = record.unit_id
        record.lon, record.lat, record.available = fleet.lons[unit], fleet.lats[unit], fleet.available[unit]


def naive_nearest(records: list[UnitRecord], unit_type: str, lon: float, lat: float) -> int:
    best, best_m = -1, math.inf
    for record in records:
        if record.unit_type != unit_type or not record.available:
            continue
        metres = distance_m(record.lon, record.lat, lon, lat)
        if metres < best_m:
            best, best_m = record.unit_id, metres
    return best


def run_naive(fleet: Fleet, records: list[UnitRecord], queries: list, moves: list[list[int]]) -> list[int]:
    timings = []
    perf = time.perf_counter_ns
    for (unit_type, lon, lat), batch in zip(queries, moves, strict=True):
        reports = world_moves(fleet, batch)
        start = perf()
        for unit, _type, available, ulon, ulat, _fix_ts in reports:  # the loop's "maintenance": its records
            record = records[unit]
            record.lon, record.lat, record.available = ulon, ulat, available
        naive_nearest(records, unit_type, lon, lat)
        timings.append(perf() - start)
    return timings


def loop_nearest(fleet: Fleet, kx: float, ky: float, unit_type: str, lon: float, lat: float) -> int:
    best, best_d2 = -1, math.inf
    types, available, lons, lats = fleet.types, fleet.available, fleet.lons, fleet.lats
    for unit in range(len(types)):
        if types[unit] != unit_type or not available[unit]:
            continue
        dx, dy = (lons[unit] - lon) * kx, (lats[unit] - lat) * ky
        d2 = dx * dx + dy * dy
        if d2 < best_d2 or (d2 == best_d2 and unit < best):
            best, best_d2 = unit, d2
    return best


def prefiltered_nearest(rows: list[tuple[int, float, float]], lon: float, lat: float, kx: float, ky: float) -> int:
    best, best_d2 = -1, math.inf
    for unit, ulon, ulat in rows:
        dx, dy = (ulon - lon) * kx, (ulat - lat) * ky
        d2 = dx * dx + dy * dy
        if d2 < best_d2 or (d2 == best_d2 and unit < best):
            best, best_d2 = unit, d2
    return best


def run_loop(fleet: Fleet, kx: float, ky: float, queries: list, moves: list[list[int]]) -> list[int]:
    timings = []
    perf = time.perf_counter_ns
    for (unit_type, lon, lat), batch in zip(queries, moves, strict=True):
        for unit in batch:
            fleet.move(unit)  # the loop's "maintenance" is the list update itself
        start = perf()
        loop_nearest(fleet, kx, ky, unit_type, lon, lat)
        timings.append(perf() - start)
    return timings


def prefiltered(fleet: Fleet) -> dict[str, list[tuple[int, float, float]]]:
    rows: dict[str, list[tuple[int, float, float]]] = {t: [] for t in TYPES}
    for unit, unit_type in enumerate(fleet.types):
        if fleet.available[unit]:
            rows[unit_type].append((unit, fleet.lons[unit], fleet.lats[unit]))
    return rows


def build_trees(fleet: Fleet, kx: float, ky: float) -> dict[str, tuple[shapely.STRtree, np.ndarray]]:
    trees = {}
    for unit_type, rows in prefiltered(fleet).items():
        ids = np.array([unit for unit, _lon, _lat in rows], dtype=np.int64)
        points = shapely.points([lon * kx for _u, lon, _l in rows], [lat * ky for _u, _lo, lat in rows])
        trees[unit_type] = (shapely.STRtree(points), ids)
    return trees


def run_raw(trees: dict, kx: float, ky: float, queries: list) -> tuple[list[int], list[int]]:
    timings, answers = [], []
    perf = time.perf_counter_ns
    for unit_type, lon, lat in queries:
        tree, ids = trees[unit_type]
        start = perf()
        found = tree.query_nearest(shapely.Point(lon * kx, lat * ky))
        timings.append(perf() - start)
        answers.append(int(ids[found].min()) if len(found) else -1)
    return timings, answers


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=20000)
    parser.add_argument("--loop-queries", type=int, default=2000)
    parser.add_argument("--moves-per-query", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10, help="turns in which ours and the loops are timed")
    parser.add_argument(
        "--cell-metres", type=float, default=None, help="fix ours' cell size (default: chosen per type from its units)"
    )
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)

    print(
        f"nearest_units: {options.units} units, {options.queries} queries, {options.moves_per_query} moves per "
        f"query, cell {'per type' if options.cell_metres is None else f'{options.cell_metres:.0f} m'}, "
        f"seed {options.seed}"
    )
    print(
        f"Python {platform.python_version()}, shapely {shapely.__version__}, GEOS {shapely.geos_version_string}, "
        f"{platform.machine()}"
    )
    rng = random.Random(options.seed)
    fleet = Fleet(options.units, rng)
    index = MovingUnitIndex(cell_metres=options.cell_metres)
    kx, ky = index.kx, index.ky
    start = time.perf_counter()
    for unit in range(options.units):
        if fleet.available[unit]:
            index.upsert(unit, fleet.types[unit], fleet.lons[unit], fleet.lats[unit], 0.0)
    print(f"initial index of {len(index)} available units built in {(time.perf_counter() - start) * 1000:.1f} ms")
    print("cell sizes: " + ", ".join(f"{t} {index.cell_size(t):.0f} m" for t in TYPES if index.cell_size(t)))

    def plan(count: int) -> tuple[list, list[list[int]]]:
        queries = make_queries(rng, count)
        moves = [[rng.randrange(options.units) for _ in range(options.moves_per_query)] for _ in range(count)]
        return queries, moves

    print(f"\nMoving phase (per query, with the moves before it for ours; the first three in {options.rounds} turns):")
    shares = [sum(fleet.available) / options.units]
    ours1_timings: list[int] = []
    loop_timings: list[int] = []
    fast_loop_timings: list[int] = []
    records = records_of(fleet)
    for _turn in range(options.rounds):
        queries, moves = plan(options.queries // options.rounds)
        ours1_timings += run_ours(fleet, index, queries, moves, 1)
        refresh_records(fleet, records)  # the world moved without the loop's records; not timed
        queries, moves = plan(options.loop_queries // options.rounds)
        loop_timings += run_naive(fleet, records, queries, moves)
        moved = {unit for batch in moves for unit in batch}
        queries, moves = plan(options.loop_queries // options.rounds)
        fast_loop_timings += run_loop(fleet, kx, ky, queries, moves)
        moved.update(unit for batch in moves for unit in batch)
        # The loops moved the world without ours: ours catches up outside the timings.
        index.update_many([fleet.report(unit) for unit in sorted(moved)])
    ours1 = summary("ours k=1 (moves + query)", ours1_timings)
    loop_row = summary("loop: haversine over all unit records", loop_timings)
    fast_loop_row = summary("(reference) loop: planar over parallel lists", fast_loop_timings)
    shares.append(sum(fleet.available) / options.units)
    queries, moves = plan(options.queries)
    ours3 = summary("ours k=3 (moves + query)", run_ours(fleet, index, queries, moves, 3))
    shares.append(sum(fleet.available) / options.units)
    queries, moves = plan(options.queries)
    summary("(reference) ours k=1, one call per report", run_ours_per_call(fleet, index, queries, moves))
    shares.append(sum(fleet.available) / options.units)
    queries, moves = plan(options.queries)
    summary("(reference) ours k=1 from table rows", run_ours_from_rows(fleet, index, queries, moves))
    shares.append(sum(fleet.available) / options.units)
    # The flips balance at the starting share (Fleet.move), so every row above is timed on the same kind of
    # fleet; shown so that a drift would be seen.
    print(
        "  available share before the turns, after them and after each reference row: "
        + ", ".join(f"{share:.0%}" for share in shares)
    )
    # Ours must still agree with the truth after the moving phase (the index followed every move).
    for unit in range(options.units):
        if fleet.available[unit]:
            index.upsert(unit, fleet.types[unit], fleet.lons[unit], fleet.lats[unit], 0.0)
        else:
            index.remove(unit)

    print("\nFrozen snapshot (same queries for every method; answers compared):")
    queries = make_queries(rng, min(options.queries, 5000))
    rows = prefiltered(fleet)
    build_start = time.perf_counter()
    trees = build_trees(fleet, kx, ky)
    build_ms = (time.perf_counter() - build_start) * 1000
    raw_timings, raw_answers = run_raw(trees, kx, ky, queries)
    raw_row = summary("raw STRtree.query_nearest (pre-filtered)", raw_timings)
    ours_timings, ours_answers = [], []
    perf = time.perf_counter_ns
    for unit_type, lon, lat in queries:
        begin = perf()
        found = index.nearest(unit_type, lon, lat, 1)
        ours_timings.append(perf() - begin)
        ours_answers.append(found[0][0] if found else -1)
    ours_frozen = summary("ours k=1 (query only)", ours_timings)
    pre_timings, loop_answers = [], []
    sample = queries[: options.loop_queries]
    for unit_type, lon, lat in sample:
        begin = perf()
        prefiltered_nearest(rows[unit_type], lon, lat, kx, ky)
        pre_timings.append(perf() - begin)
        loop_answers.append(loop_nearest(fleet, kx, ky, unit_type, lon, lat))
    pre_row = summary("loop over the pre-filtered list", pre_timings)
    print(f"  raw trees (5 types) built in {build_ms:.2f} ms, outside the timings")
    # Last, so that every measurement above sees the same random draws as without it.
    print("\nHarness alone (reference; the same moving loop as ours with an index that does nothing):")
    floor_queries, floor_moves = plan(options.queries)
    floor_row = summary(
        "harness alone (moves + a no-op query)", run_ours(fleet, NoIndex(), floor_queries, floor_moves, 1)
    )

    mismatches = sum(a != b for a, b in zip(ours_answers, raw_answers, strict=True))
    mismatches += sum(a != b for a, b in zip(ours_answers, loop_answers, strict=False))
    print(f"\nAnswers: {len(queries)} queries, {mismatches} differences between ours, raw and the loop")

    def ratio(slow: dict[str, float], fast: dict[str, float]) -> str:
        return f"{slow['p50'] / fast['p50']:.1f}x by medians, {slow['mean'] / fast['mean']:.1f}x by means"

    checks: list[tuple[str, bool, Callable[[], str]]] = [
        (
            f">= {LOOP_TARGET:.0f}x the haversine loop (medians)",
            loop_row["p50"] / ours1["p50"] >= LOOP_TARGET,
            lambda: ratio(loop_row, ours1),
        ),
        ("(reference) planar loop over parallel lists", True, lambda: ratio(fast_loop_row, ours1)),
        (
            "(reference) ceiling: loop / harness alone",
            True,
            lambda: (
                f"{ratio(loop_row, floor_row)}; 100x needs ours <= {loop_row['p50'] / LOOP_TARGET:.2f} us "
                f"of which the harness takes {floor_row['p50']:.2f} us"
            ),
        ),
        ("(reference) planar loop over the pre-filtered list", True, lambda: ratio(pre_row, ours_frozen)),
        (
            f"<= {RAW_TARGET:.0f}x raw STRtree, ours incl. moves (medians)",
            ours1["p50"] / raw_row["p50"] <= RAW_TARGET,
            lambda: (
                f"{ours1['p50'] / raw_row['p50']:.2f}x; query only {ours_frozen['p50'] / raw_row['p50']:.2f}x "
                f"(means {ours1['mean'] / raw_row['mean']:.2f}x, {ours_frozen['mean'] / raw_row['mean']:.2f}x)"
            ),
        ),
        (
            f"p99 <= {P99_TARGET_MS:.0f} ms per query incl. maintenance",
            ours1["p99"] <= P99_TARGET_MS * 1000 and ours3["p99"] <= P99_TARGET_MS * 1000,
            lambda: f"k=1 {ours1['p99']:.1f} us, k=3 {ours3['p99']:.1f} us",
        ),
    ]
    print("\nTargets:")
    for label, met, detail in checks:
        print(f"  {label:<55} {'met' if met else 'NOT met':<8} {detail()}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
