"""Recommendations: the nearest recommendable units per type equal brute force over random fleets in the
database (stale, unavailable, inactive, position-less and wrong-type units, repair crews of other
utilities, ties, fewer candidates than asked, district first with units on a district border), they
follow every write at once, and the API: ordering, distances and ETAs, types, exclusions, district
first, access."""

from __future__ import annotations

import datetime as dt
import random
from types import SimpleNamespace
from typing import Any

import pytest
import shapely

from core import clock
from emergency.models import Unit
from emergency.states import UnitStatus
from emergency.units.actions import do_change_unit_status, is_stale
from emergency.units.measures import distance_m, stale_after
from emergency.units.recommendation import NEEDED_TYPES, REPAIR_FUNCTION, recommend
from gis.importer import Feature, PreparedLayer
from gis.index import OUTSIDE, current_index
from gis.models import Level
from organisation.actions import do_upsert_agency
from organisation.models import Agency
from tests.conftest import World
from tests.emergency.unit_fixtures import CENTRE_LAT, CENTRE_LON, NOW, east_of, make_unit, place_unit, report_incident

ALL_TYPES = ("police_car", "fire_engine", "ambulance", "rescue_team", "repair_crew")


def _incident(lon: float, lat: float, incident_type: str = "fire", district_code: str = "") -> SimpleNamespace:
    """What ``recommend`` reads of an incident."""
    return SimpleNamespace(longitude=lon, latitude=lat, type=incident_type, district_code=district_code)


def _utilities(world: World) -> list[Agency]:
    """The world's agencies plus a gas, a power and a water company (repair crews are matched to them)."""
    utilities = [
        do_upsert_agency(code=f"u-{function}", name=function, kind="department", function=function)
        for function in ("gas_supply", "power_supply", "water_supply")
    ]
    return [world.agency_a, world.agency_b, *utilities]


def _random_fleet(world: World, rng: random.Random, count: int, spread: float = 0.15) -> list[Unit]:
    """Units of every kind a recommendation must sort out: about a third not recommendable for one reason
    or another (out of service or assigned, retired, never reported, a position without a fix time, a fix
    older or just younger than the stale limit), a sparse type (rescue teams: fewer than a query asks
    for), and groups of units at the very same point (ties)."""
    agencies = _utilities(world)
    hot_spots = [
        (CENTRE_LON + rng.uniform(-spread, spread), CENTRE_LAT + rng.uniform(-spread, spread)) for _ in range(5)
    ]
    hot_spots.append((east_of(1100), CENTRE_LAT))  # on the border of the test districts
    units = []
    for i in range(count):
        unit_type = (
            "rescue_team" if i % 60 == 0 else rng.choice(("police_car", "fire_engine", "ambulance", "repair_crew"))
        )
        lon: float | None = CENTRE_LON + rng.uniform(-spread, spread)
        lat: float | None = CENTRE_LAT + rng.uniform(-spread, spread)
        if rng.random() < 0.15:
            lon, lat = rng.choice(hot_spots)
        age = rng.choice((0.0, 30.0, 119.0, 120.0, 120.001, 500.0))
        fix_at: dt.datetime | None = NOW - dt.timedelta(seconds=age)
        roll = rng.random()
        if roll < 0.05:
            lon = lat = fix_at = None  # registered, never reported
        elif roll < 0.08:
            fix_at = None  # a position without a fix time (imported data)
        units.append(
            Unit(
                call_sign=f"R-{i}",
                unit_type=unit_type,
                agency=rng.choice(agencies),
                station_name="驻地",
                station_longitude=CENTRE_LON,
                station_latitude=CENTRE_LAT,
                status=UnitStatus.AVAILABLE if rng.random() < 0.75 else rng.choice(list(UnitStatus)),
                active=rng.random() < 0.93,
                longitude=lon,
                latitude=lat,
                fix_at=fix_at,
            )
        )
    created = Unit.objects.bulk_create(units)
    return list(Unit.objects.select_related("agency").filter(pk__in=[unit.pk for unit in created]))


def _brute(
    units: list[Unit], incident: SimpleNamespace, types: tuple[str, ...], k: int, district: str = ""
) -> dict[str, list[tuple[int, float, bool]]]:
    """Per type, (unit id, rounded metres, in district) of the k best, one unit at a time: recommendable
    (is_stale is the rule the unit list and detail show), of the utility the incident needs, ranked by
    (outside the district, great-circle metres, id)."""
    layer = current_index().layers.get("district")

    def in_district(unit: Unit) -> bool:
        if not district or layer is None or unit.longitude is None or unit.latitude is None:
            return False
        found = layer.locate_one(unit.longitude, unit.latitude)
        return found != OUTSIDE and str(layer.codes[found]) == district

    function = REPAIR_FUNCTION.get(incident.type)
    answer = {}
    for unit_type in types:
        ranked = sorted(
            (
                not in_district(unit),
                distance_m(unit.longitude, unit.latitude, incident.longitude, incident.latitude),
                unit.pk,
            )
            for unit in units
            if unit.unit_type == unit_type
            and unit.active
            and unit.status == UnitStatus.AVAILABLE
            and not is_stale(unit, NOW)
            and unit.longitude is not None
            and unit.latitude is not None
            and (unit_type != "repair_crew" or function is None or unit.agency.function == function)
        )
        answer[unit_type] = [(pk, round(metres, 1), not outside) for outside, metres, pk in ranked[:k]]
    return answer


def _got(found: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple[int, float, bool]]]:
    return {
        unit_type: [(row["unit"].pk, row["distance_m"], row["in_district"]) for row in rows]
        for unit_type, rows in found.items()
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recommendations_equal_brute_force_over_a_random_fleet(world: World, seed: int) -> None:
    rng = random.Random(seed)
    units = _random_fleet(world, rng, 400)
    excluded = sum(unit.status != UnitStatus.AVAILABLE or not unit.active or is_stale(unit, NOW) for unit in units)
    assert 80 < excluded < 250  # the fleet really mixes recommendable units with every kind of other
    longest = 0
    for _ in range(40):
        # Inside the fleet, at its edge and far away; the incident type decides the repair crews' utility.
        reach = rng.choice((0.05, 0.2, 2.0))
        incident = _incident(
            CENTRE_LON + rng.uniform(-reach, reach),
            CENTRE_LAT + rng.uniform(-reach, reach),
            rng.choice(list(NEEDED_TYPES)),
        )
        types = tuple(rng.sample(ALL_TYPES, rng.randint(1, len(ALL_TYPES))))
        k = rng.choice((1, 3, 10))
        got = _got(recommend(incident, types=types, per_type=k, now=NOW))
        assert got == _brute(units, incident, types, k)
        assert list(got) == list(types)
        assert all(not flag for rows in got.values() for _pk, _m, flag in rows)
        longest = max(longest, *(len(rows) for rows in got.values()))
    assert longest == 10


def test_ties_come_out_by_unit_id_and_fewer_candidates_than_asked_are_all_returned(world: World) -> None:
    engines = [make_unit(f"消防-{i}", "fire_engine", world.agency_a) for i in range(4)]
    with clock.pinned_at(NOW):
        for engine in reversed(engines):  # reported in the opposite order of their ids
            place_unit(world, engine, east_of(700), CENTRE_LAT)
        found = recommend(_incident(CENTRE_LON, CENTRE_LAT), types=["fire_engine", "ambulance"], per_type=3)
        everything = recommend(_incident(CENTRE_LON, CENTRE_LAT), types=["fire_engine"], per_type=10)
    assert [row["unit"].pk for row in found["fire_engine"]] == sorted(engine.pk for engine in engines)[:3]
    assert len({row["distance_m"] for row in found["fire_engine"]}) == 1
    assert found["ambulance"] == []
    assert [row["unit"].pk for row in everything["fire_engine"]] == sorted(engine.pk for engine in engines)


def test_units_without_a_position_a_fix_time_or_service_are_never_recommended(world: World) -> None:
    never_reported = make_unit("急救-新", "ambulance", world.agency_a)
    no_fix_time = make_unit("急救-无时", "ambulance", world.agency_a)
    retired = make_unit("急救-退", "ambulance", world.agency_a)
    reporting = make_unit("急救-在", "ambulance", world.agency_a)
    with clock.pinned_at(NOW):
        for unit in (no_fix_time, retired, reporting):
            place_unit(world, unit, east_of(100), CENTRE_LAT)
        place_unit(world, reporting, east_of(9000), CENTRE_LAT)
        Unit.objects.filter(pk=no_fix_time.pk).update(fix_at=None)
        Unit.objects.filter(pk=retired.pk).update(active=False)
        found = recommend(_incident(CENTRE_LON, CENTRE_LAT), types=["ambulance"], per_type=10)
    assert never_reported.longitude is None
    assert [row["unit"].pk for row in found["ambulance"]] == [reporting.pk]


def test_the_stale_limit_is_the_same_as_the_unit_lists(world: World) -> None:
    """A fix exactly UNIT_STALE_SECONDS old still counts (as in is_stale); a millisecond more does not."""
    limit = NOW - stale_after()
    at_limit = make_unit("警-限", "police_car", world.agency_a)
    past_limit = make_unit("警-过", "police_car", world.agency_a)
    with clock.pinned_at(NOW):
        place_unit(world, at_limit, east_of(200), CENTRE_LAT, at=limit)
        place_unit(world, past_limit, east_of(100), CENTRE_LAT, at=limit - dt.timedelta(milliseconds=1))
        found = recommend(_incident(CENTRE_LON, CENTRE_LAT), types=["police_car"])
    at_limit.refresh_from_db()
    past_limit.refresh_from_db()
    assert not is_stale(at_limit, NOW) and is_stale(past_limit, NOW)
    assert [row["unit"].pk for row in found["police_car"]] == [at_limit.pk]


def test_repair_crews_are_matched_to_the_utility_the_incident_needs(world: World) -> None:
    gas, power, _water = _utilities(world)[2:]
    gas_crew = make_unit("燃气-1", "repair_crew", gas)
    power_crew = make_unit("供电-1", "repair_crew", power)
    with clock.pinned_at(NOW):
        place_unit(world, gas_crew, east_of(3000), CENTRE_LAT)
        place_unit(world, power_crew, east_of(100), CENTRE_LAT)
        leak = recommend(_incident(CENTRE_LON, CENTRE_LAT, "gas_leak"), types=["repair_crew", "police_car"])
        outage = recommend(_incident(CENTRE_LON, CENTRE_LAT, "power_outage"), types=["repair_crew"])
        collapse = recommend(_incident(CENTRE_LON, CENTRE_LAT, "building_collapse"), types=["repair_crew"])
    assert [row["unit"].pk for row in leak["repair_crew"]] == [gas_crew.pk]
    assert leak["police_car"] == []
    assert [row["unit"].pk for row in outage["repair_crew"]] == [power_crew.pk]
    # An incident type that names no utility takes any crew, nearest first.
    assert [row["unit"].pk for row in collapse["repair_crew"]] == [power_crew.pk, gas_crew.pk]


def test_recommendations_follow_every_write_at_once(world: World) -> None:
    """No cache: a row written by any process (here straight into the table) counts from the next query."""
    engine = make_unit("消防1", "fire_engine", world.agency_a)
    second = make_unit("消防2", "fire_engine", world.agency_a)
    incident = _incident(CENTRE_LON, CENTRE_LAT)

    def nearest(k: int = 3) -> list[int]:
        return [row["unit"].pk for row in recommend(incident, types=["fire_engine"], per_type=k)["fire_engine"]]

    with clock.pinned_at(NOW):
        place_unit(world, engine, CENTRE_LON, CENTRE_LAT)
        assert nearest() == [engine.pk]
        place_unit(world, second, east_of(10), CENTRE_LAT)
        Unit.objects.filter(pk=engine.pk).update(longitude=east_of(5000))
        assert nearest() == [second.pk, engine.pk]
        do_change_unit_status(second.pk, "out_of_service", actor=world.users["commander"])
        assert nearest() == [engine.pk]
        Unit.objects.filter(pk=engine.pk).update(longitude=east_of(1))
        found = recommend(incident, types=["fire_engine"])["fire_engine"]
    assert [row["unit"].pk for row in found] == [engine.pk] and found[0]["distance_m"] == pytest.approx(1, abs=0.1)


def _district_layer() -> None:
    from gis.actions import do_import_layer

    # West district: everything west of 1.1 km east of the centre; east district beyond it.
    split = east_of(1100)
    west = shapely.box(CENTRE_LON - 0.2, CENTRE_LAT - 0.2, split, CENTRE_LAT + 0.2)
    east = shapely.box(split, CENTRE_LAT - 0.2, CENTRE_LON + 0.4, CENTRE_LAT + 0.2)
    prepared = PreparedLayer([Feature("D1", "西区", west, ""), Feature("D2", "东区", east, "")], "EPSG:4326", {})
    do_import_layer(prepared, level=Level.DISTRICT, name="test districts", source="test")


def test_district_first_equals_brute_force_over_a_random_fleet(world: World) -> None:
    """The district's own units first, then the nearest others; units on the border between the two
    districts belong to the one locate_one gives them (the smaller code), units beyond both to neither."""
    _district_layer()
    rng = random.Random(4)
    units = _random_fleet(world, rng, 400, spread=0.25)
    on_border = [unit for unit in units if unit.longitude == east_of(1100)]
    beyond = [unit for unit in units if unit.latitude is not None and abs(unit.latitude - CENTRE_LAT) > 0.2]
    assert on_border and beyond
    layer = current_index().layers["district"]
    seen_flags: set[bool] = set()
    for step in range(40):
        lon, lat = CENTRE_LON + rng.uniform(-0.3, 0.3), CENTRE_LAT + rng.uniform(-0.3, 0.3)
        # The incident's stored district wins over its point (a dispatcher's correction); else its point's.
        stored = rng.choice(("D1", "D2")) if step % 4 == 0 else ""
        incident = _incident(lon, lat, rng.choice(list(NEEDED_TYPES)), stored)
        located = layer.locate_one(lon, lat)
        district = stored or ("" if located == OUTSIDE else str(layer.codes[located]))
        types = tuple(rng.sample(ALL_TYPES, rng.randint(1, 3)))
        k = rng.choice((1, 3, 10))
        got = _got(recommend(incident, types=types, per_type=k, district_first=True, now=NOW))
        assert got == _brute(units, incident, types, k, district)
        seen_flags.update(flag for rows in got.values() for _pk, _m, flag in rows)
    assert seen_flags == {True, False}


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
