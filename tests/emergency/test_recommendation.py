"""The moving-units index against brute force, its sync from the database, and recommendations:
ordering, types, stale and out-of-service exclusion, district first, and the API."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

import pytest
import shapely

from dispatch import clock
from dispatch.emergency import unit_index
from dispatch.emergency.models import Unit
from dispatch.emergency.unit_actions import do_change_unit_status
from dispatch.emergency.unit_index import MovingUnitIndex, synced_index
from gis.importer import Feature, PreparedLayer
from gis.models import Level
from tests.conftest import World
from tests.emergency.unit_fixtures import CENTRE_LAT, CENTRE_LON, NOW, east_of, make_unit, place_unit, report_incident

TYPES = ("police_car", "fire_engine", "ambulance")


def _brute(
    positions: dict[int, tuple[str, float, float, float]],
    index: MovingUnitIndex,
    unit_type: str,
    lon: float,
    lat: float,
    k: int,
    fresh_since: float,
) -> list[int]:
    rows = sorted(
        (index.planar_distance(ulon, ulat, lon, lat) ** 2, uid)
        for uid, (utype, ulon, ulat, ts) in positions.items()
        if utype == unit_type and ts >= fresh_since
    )
    return [uid for _d, uid in rows[:k]]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("cell_metres", [None, 250.0, 1000.0])
def test_the_index_matches_brute_force_under_a_random_walk(seed: int, cell_metres: float | None) -> None:
    rng = random.Random(seed)
    index = MovingUnitIndex(cell_metres=cell_metres)
    positions: dict[int, tuple[str, float, float, float]] = {}
    for step in range(4000):
        unit_id = rng.randrange(1, 400)
        roll = rng.random()
        if roll < 0.1:
            index.remove(unit_id)  # dispatched, out of service...
            positions.pop(unit_id, None)
        elif roll < 0.75 and unit_id in positions:
            # A random walk of up to ~300 m; sometimes the unit changes type (a data correction).
            utype, lon, lat, _ts = positions[unit_id]
            utype = rng.choice(TYPES) if rng.random() < 0.02 else utype
            lon += rng.uniform(-0.003, 0.003)
            lat += rng.uniform(-0.003, 0.003)
            positions[unit_id] = (utype, lon, lat, float(step))
            index.upsert(unit_id, utype, lon, lat, float(step))
        else:
            utype = rng.choice(TYPES)
            lon, lat = CENTRE_LON + rng.uniform(-0.15, 0.15), CENTRE_LAT + rng.uniform(-0.15, 0.15)
            positions[unit_id] = (utype, lon, lat, float(step))
            index.upsert(unit_id, utype, lon, lat, float(step))
        if step % 7 == 0:
            utype = rng.choice(TYPES)
            # Queries inside the area, at its edge, and far outside it.
            spread = rng.choice((0.05, 0.2, 2.0))
            qlon, qlat = CENTRE_LON + rng.uniform(-spread, spread), CENTRE_LAT + rng.uniform(-spread, spread)
            k = rng.choice((1, 3, 10))
            fresh = rng.choice((-math.inf, step - 500.0))
            got = index.nearest(utype, qlon, qlat, k, fresh_since=fresh)
            assert [uid for uid, _d in got] == _brute(positions, index, utype, qlon, qlat, k, fresh)
            distances = [d for _uid, d in got]
            assert distances == sorted(distances)
    assert len(index) == len(positions)


def test_accept_filters_candidates_and_the_search_still_finds_k() -> None:
    index = MovingUnitIndex(cell_metres=100)
    for i in range(200):
        index.upsert(i, "ambulance", CENTRE_LON + i * 0.001, CENTRE_LAT, 0.0)
    got = index.nearest("ambulance", CENTRE_LON, CENTRE_LAT, 3, accept=lambda uid: uid % 50 == 0)
    assert [uid for uid, _d in got] == [0, 50, 100]


def test_the_synced_index_follows_writes_from_any_process(world: World) -> None:
    """Another process writes rows; this process's index catches up from the table before each query."""
    engine = make_unit("消防1", "fire_engine", world.agency_a)
    place_unit(world, engine, CENTRE_LON, CENTRE_LAT)
    assert [uid for uid, _d in synced_index().nearest("fire_engine", CENTRE_LON, CENTRE_LAT)] == [engine.pk]
    second = make_unit("消防2", "fire_engine", world.agency_a)
    place_unit(world, second, east_of(10), CENTRE_LAT)
    place_unit(world, engine, east_of(5000), CENTRE_LAT)
    assert [uid for uid, _d in synced_index().nearest("fire_engine", CENTRE_LON, CENTRE_LAT, 2)] == [
        second.pk,
        engine.pk,
    ]
    do_change_unit_status(second.pk, "out_of_service", actor=world.users["commander"])
    assert [uid for uid, _d in synced_index().nearest("fire_engine", CENTRE_LON, CENTRE_LAT, 2)] == [engine.pk]
    # A row the incremental sync missed (here: written "in the past") is repaired by the periodic rebuild.
    Unit.objects.filter(pk=engine.pk).update(changed_at=NOW - dt.timedelta(days=30), longitude=east_of(1))
    assert synced_index().position(engine.pk) != pytest.approx((east_of(1), CENTRE_LAT))
    assert unit_index._current is not None
    unit_index._current.built_at -= unit_index.FULL_REBUILD_SECONDS + 1
    assert synced_index().position(engine.pk) == pytest.approx((east_of(1), CENTRE_LAT))


@pytest.fixture
def fleet(world: World) -> dict[str, Unit]:
    """Engines at 300 m, 1 km and 2 km east of the centre, an ambulance at 500 m, police at 100 m."""
    units = {
        "engine_300": make_unit("消防-300", "fire_engine", world.agency_a),
        "engine_1000": make_unit("消防-1000", "fire_engine", world.agency_a),
        "engine_2000": make_unit("消防-2000", "fire_engine", world.agency_b),
        "ambulance_500": make_unit("急救-500", "ambulance", world.agency_b),
        "police_100": make_unit("警-100", "police_car", world.agency_c),
    }
    with clock.pinned_at(NOW):
        for name, unit in units.items():
            place_unit(world, unit, east_of(float(name.rsplit("_", 1)[1])), CENTRE_LAT)
    return units


def _ids(body: dict[str, Any], unit_type: str) -> list[int]:
    return [row["unit"]["id"] for row in body["recommendations"][unit_type]]


def test_recommendations_are_nearest_first_per_type_with_distance_and_eta(world: World, fleet: dict[str, Unit]) -> None:
    with clock.pinned_at(NOW + dt.timedelta(seconds=30)):
        incident = report_incident(world, CENTRE_LON, CENTRE_LAT, "fire")
        response = world.client("commander").get(f"/api/incidents/{incident.pk}/recommendations/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["types"] == ["fire_engine", "ambulance", "police_car"]  # from the incident type
    assert _ids(body, "fire_engine") == [fleet["engine_300"].pk, fleet["engine_1000"].pk, fleet["engine_2000"].pk]
    first = body["recommendations"]["fire_engine"][0]
    assert first["distance_m"] == pytest.approx(300, rel=0.01)
    assert first["eta_seconds"] == pytest.approx(300 * 1.3 / (35 / 3.6), abs=1)
    assert first["unit"]["stale"] is False
    assert _ids(body, "ambulance") == [fleet["ambulance_500"].pk]


def test_types_and_per_type_can_be_chosen(world: World, fleet: dict[str, Unit]) -> None:
    with clock.pinned_at(NOW):
        incident = report_incident(world, east_of(2100), CENTRE_LAT, "fire")
        body = (
            world.client("commander")
            .get(f"/api/incidents/{incident.pk}/recommendations/?types=fire_engine&per_type=2")
            .json()
        )
        bad = world.client("commander").get(f"/api/incidents/{incident.pk}/recommendations/?types=tank&per_type=0")
    assert list(body["recommendations"]) == ["fire_engine"]
    assert _ids(body, "fire_engine") == [fleet["engine_2000"].pk, fleet["engine_1000"].pk]
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"types"}


def test_stale_dispatched_and_out_of_service_units_are_not_recommended(world: World, fleet: dict[str, Unit]) -> None:
    later = NOW + dt.timedelta(seconds=100)
    with clock.pinned_at(later):
        # engine_1000 keeps reporting; engine_300 and engine_2000 fell silent 100 s ago.
        place_unit(world, fleet["engine_1000"], east_of(1000), CENTRE_LAT)
        place_unit(world, fleet["engine_2000"], east_of(2000), CENTRE_LAT)
        do_change_unit_status(fleet["engine_2000"].pk, "out_of_service", actor=world.users["handler_b"])
        incident = report_incident(world, CENTRE_LON, CENTRE_LAT, "fire")
    with clock.pinned_at(NOW + dt.timedelta(seconds=121)):
        body = world.client("commander").get(f"/api/incidents/{incident.pk}/recommendations/").json()
        units = world.client("commander").get("/api/units/?stale=1&type=fire_engine").json()["results"]
    # engine_300 is stale (121 s > 120 s), engine_2000 out of service: only engine_1000 remains.
    assert _ids(body, "fire_engine") == [fleet["engine_1000"].pk]
    assert [u["id"] for u in units] == [fleet["engine_300"].pk]
    with clock.pinned_at(NOW + dt.timedelta(seconds=122)):
        world.client("commander").post(f"/api/incidents/{incident.pk}/assign/", {"unit_ids": [fleet["engine_1000"].pk]})
        body = world.client("commander").get(f"/api/incidents/{incident.pk}/recommendations/").json()
    assert _ids(body, "fire_engine") == []


def _district_layer() -> None:
    from gis.actions import do_import_layer

    # West district: everything west of 1.1 km east of the centre; east district beyond it.
    split = east_of(1100)
    west = shapely.box(CENTRE_LON - 0.2, CENTRE_LAT - 0.2, split, CENTRE_LAT + 0.2)
    east = shapely.box(split, CENTRE_LAT - 0.2, CENTRE_LON + 0.4, CENTRE_LAT + 0.2)
    prepared = PreparedLayer([Feature("D1", "西区", west, ""), Feature("D2", "东区", east, "")], "EPSG:4326", {})
    do_import_layer(prepared, level=Level.DISTRICT, name="test districts", source="test")


def test_district_first_puts_units_of_the_incidents_district_first_then_widens(
    world: World, fleet: dict[str, Unit]
) -> None:
    _district_layer()
    with clock.pinned_at(NOW):
        # An incident in the east district 1.2 km east: engine_1000 (west) is 200 m away, engine_2000 (east)
        # 800 m, engine_300 (west) 900 m.
        incident = report_incident(world, east_of(1200), CENTRE_LAT, "fire")
        plain = world.client("commander").get(f"/api/incidents/{incident.pk}/recommendations/?types=fire_engine")
        first = world.client("commander").get(
            f"/api/incidents/{incident.pk}/recommendations/?types=fire_engine&district_first=1"
        )
    assert incident.district_code == "D2"
    plain_ids, first_ids = _ids(plain.json(), "fire_engine"), _ids(first.json(), "fire_engine")
    assert plain_ids == [fleet["engine_1000"].pk, fleet["engine_2000"].pk, fleet["engine_300"].pk]
    # The east district's own engine first, then the list widens to the nearest others.
    assert first_ids == [fleet["engine_2000"].pk, fleet["engine_1000"].pk, fleet["engine_300"].pk]
    flags = [row["in_district"] for row in first.json()["recommendations"]["fire_engine"]]
    assert flags == [True, False, False]


def test_only_the_command_desk_gets_recommendations(world: World, fleet: dict[str, Unit]) -> None:
    with clock.pinned_at(NOW):
        incident = report_incident(world, CENTRE_LON, CENTRE_LAT)
    assert world.client("handler_a").get(f"/api/incidents/{incident.pk}/recommendations/").status_code == 404
    assert world.client("supervisor").get(f"/api/incidents/{incident.pk}/recommendations/").status_code == 403
    assert world.client("commander").get("/api/incidents/999999/recommendations/").status_code == 404
