"""AVL ingest: our JSON format and the OsmAnd query format, WGS84 and GCJ-02, authentication, refusals
that change nothing, out-of-order fixes, and the coalescing of unit.moved events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from rest_framework.test import APIClient

from core import clock
from emergency.models import Unit, UnitTimelineEntry
from gis.coords import wgs84_to_gcj02
from realtime.models import Event
from tests.conftest import World
from tests.emergency.unit_fixtures import CENTRE_LAT, CENTRE_LON, NOW, east_of, make_unit

KEY = "a-very-secret-device-key-0001"


@pytest.fixture
def units(world: World) -> dict[str, Unit]:
    return {
        "engine": make_unit("消防1", "fire_engine", world.agency_a, device_id="IMEI-1", device_key=KEY),
        "ambulance": make_unit("急救1", "ambulance", world.agency_b, device_id="IMEI-2"),
    }


def _state() -> tuple[list[tuple[Any, ...]], int, int]:
    rows = list(Unit.objects.order_by("pk").values_list("pk", "longitude", "latitude", "fix_at", "speed", "heading"))
    return rows, Event.objects.count(), UnitTimelineEntry.objects.count()


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def test_a_json_fix_in_wgs84_moves_the_unit_and_appends_one_event(world: World, units: dict[str, Unit]) -> None:
    with clock.pinned_at(NOW):
        response = world.client("admin").post(
            "/api/avl/positions/",
            {
                "device_id": "IMEI-1",
                "lon": CENTRE_LON,
                "lat": CENTRE_LAT,
                "time": _iso(NOW - dt.timedelta(seconds=3)),
                "speed": 12.5,
                "heading": 90,
                "accuracy": 8,
            },
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    unit = Unit.objects.get(pk=units["engine"].pk)
    assert (unit.longitude, unit.latitude, unit.speed, unit.heading, unit.accuracy) == (
        CENTRE_LON,
        CENTRE_LAT,
        12.5,
        90,
        8,
    )
    assert unit.fix_at == NOW - dt.timedelta(seconds=3) and unit.received_at == NOW
    events = list(Event.objects.filter(type="unit.moved"))
    assert len(events) == 1
    assert events[0].payload["unit"]["id"] == unit.pk and events[0].agency_ids == [world.agency_a.pk]
    assert not UnitTimelineEntry.objects.exists()  # positions are not timeline steps


def test_a_gcj02_batch_is_stored_in_wgs84(world: World, units: dict[str, Unit]) -> None:
    gcj_lon, gcj_lat = (float(v) for v in wgs84_to_gcj02(CENTRE_LON, CENTRE_LAT))
    assert abs(gcj_lon - CENTRE_LON) > 0.001  # the offset is real here (hundreds of metres)
    with clock.pinned_at(NOW):
        response = world.client("admin").post(
            "/api/avl/positions/",
            {
                "positions": [
                    {"device_id": "IMEI-1", "lon": gcj_lon, "lat": gcj_lat, "crs": "gcj02", "time": _iso(NOW)},
                    {"device_id": "IMEI-2", "lon": 109.40, "lat": 24.30, "time": "2026-11-21T09:59:00+08:00"},
                ]
            },
            format="json",
        )
    assert response.status_code == 200, response.content
    engine = Unit.objects.get(pk=units["engine"].pk)
    assert engine.longitude == pytest.approx(CENTRE_LON, abs=1e-7)
    assert engine.latitude == pytest.approx(CENTRE_LAT, abs=1e-7)
    ambulance = Unit.objects.get(pk=units["ambulance"].pk)
    assert (ambulance.longitude, ambulance.latitude) == (109.40, 24.30)
    assert ambulance.fix_at == NOW - dt.timedelta(minutes=1)


def test_osmand_query_format_with_unix_seconds_knots_and_device_key(world: World, units: dict[str, Unit]) -> None:
    anonymous = APIClient()
    query = {
        "id": "IMEI-1",
        "lat": str(CENTRE_LAT),
        "lon": str(CENTRE_LON),
        "timestamp": str(int(NOW.timestamp()) - 10),
        "speed": "10",
        "bearing": "270.5",
        "hdop": "4",
        "altitude": "90",
        "batt": "77",
        "key": KEY,
    }
    with clock.pinned_at(NOW):
        response = anonymous.get("/api/avl/osmand/", query)
    assert response.status_code == 200, response.content
    unit = Unit.objects.get(pk=units["engine"].pk)
    assert unit.fix_at == NOW - dt.timedelta(seconds=10)
    assert unit.speed == pytest.approx(10 * 1852 / 3600)  # knots -> m/s
    assert unit.heading == 270.5 and unit.accuracy == 4


def test_osmand_post_in_gcj02_with_iso_time_and_header_key(world: World, units: dict[str, Unit]) -> None:
    gcj_lon, gcj_lat = (float(v) for v in wgs84_to_gcj02(east_of(500), CENTRE_LAT))
    with clock.pinned_at(NOW):
        response = APIClient().post(
            f"/api/avl/osmand/?id=IMEI-1&crs=gcj02&timestamp={_iso(NOW).replace('+', '%2B')}",
            {"lat": str(gcj_lat), "lon": str(gcj_lon)},
            HTTP_X_AVL_KEY=KEY,
        )
    assert response.status_code == 200, response.content
    unit = Unit.objects.get(pk=units["engine"].pk)
    assert unit.longitude == pytest.approx(east_of(500), abs=1e-7) and unit.fix_at == NOW


BAD_JSON = [
    ({"device_id": "NOPE", "lon": 109.4, "lat": 24.3, "time": "2026-11-21T09:00:00+08:00"}, "device_id"),
    ({"device_id": "IMEI-1", "lon": 181, "lat": 24.3, "time": "2026-11-21T09:00:00+08:00"}, "lon"),
    ({"device_id": "IMEI-1", "lon": 109.4, "lat": -91, "time": "2026-11-21T09:00:00+08:00"}, "lat"),
    ({"device_id": "IMEI-1", "lon": "east", "lat": 24.3, "time": "2026-11-21T09:00:00+08:00"}, "lon"),
    ({"device_id": "IMEI-1", "lon": 109.4, "lat": 24.3, "time": "2026-11-21T09:00:00"}, "time"),
    ({"device_id": "IMEI-1", "lon": 109.4, "lat": 24.3, "time": "yesterday"}, "time"),
    ({"device_id": "IMEI-1", "lon": 109.4, "lat": 24.3, "time": "2026-11-21T10:05:00+08:00"}, "time"),
    ({"device_id": "IMEI-1", "lon": 109.4, "lat": 24.3, "crs": "bd09", "time": "2026-11-21T09:00:00+08:00"}, "crs"),
    ({"device_id": "IMEI-1", "lon": 109.4, "lat": 24.3, "speed": -1, "time": "2026-11-21T09:00:00+08:00"}, "speed"),
    (
        {"device_id": "IMEI-1", "lon": 109.4, "lat": 24.3, "heading": 400, "time": "2026-11-21T09:00:00+08:00"},
        "heading",
    ),
    ({"device_id": "IMEI-1", "lon": True, "lat": 24.3, "time": "2026-11-21T09:00:00+08:00"}, "lon"),
    ({"device_id": "IMEI-1", "lat": 24.3, "time": "2026-11-21T09:00:00+08:00", "altitude": 3}, "lon"),
    ({"positions": []}, "positions"),
    (
        {
            "positions": [
                {"device_id": "IMEI-1", "lon": 109.4, "lat": 24.3, "time": "2026-11-21T09:00:00+08:00"},
                {"device_id": "IMEI-2", "lon": 109.4, "lat": 95, "time": "2026-11-21T09:00:00+08:00"},
            ]
        },
        "positions.1.lat",
    ),
    ([1, 2, 3], "body"),
]


@pytest.mark.parametrize(("body", "field"), BAD_JSON, ids=[f for _b, f in BAD_JSON])
def test_bad_json_reports_are_refused_with_field_errors_and_change_nothing(
    world: World, units: dict[str, Unit], body: Any, field: str
) -> None:
    before = _state()
    with clock.pinned_at(NOW):
        response = world.client("admin").post("/api/avl/positions/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_input" and field in response.json()["fields"]
    assert _state() == before


BAD_OSMAND = [
    ({"lat": "24.3", "lon": "109.4", "timestamp": "1700000000"}, "id"),
    ({"id": "IMEI-1", "lat": "24.3", "lon": "999", "timestamp": "1700000000"}, "lon"),
    ({"id": "IMEI-1", "lat": "24.3", "lon": "109.4"}, "timestamp"),
    ({"id": "IMEI-1", "lat": "24.3", "lon": "109.4", "timestamp": str(int(NOW.timestamp()) + 3600)}, "timestamp"),
    ({"id": "IMEI-1", "lat": "24.3", "lon": "109.4", "timestamp": "1700000000", "valid": "false"}, "valid"),
    ({"id": "IMEI-1", "lat": "x", "lon": "109.4", "timestamp": "1700000000"}, "lat"),
    ({"id": "UNKNOWN", "lat": "24.3", "lon": "109.4", "timestamp": "1700000000"}, "device_id"),
]


@pytest.mark.parametrize(("query", "field"), BAD_OSMAND, ids=[f for _q, f in BAD_OSMAND])
def test_bad_osmand_reports_are_refused_and_change_nothing(
    world: World, units: dict[str, Unit], query: dict[str, str], field: str
) -> None:
    before = _state()
    with clock.pinned_at(NOW):
        response = world.client("admin").get("/api/avl/osmand/", query)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert _state() == before


def test_senders_are_authenticated_and_scoped(world: World, units: dict[str, Unit]) -> None:
    before = _state()
    fix = {"id": "IMEI-1", "lat": "24.3", "lon": "109.4", "timestamp": "1700000000"}
    assert APIClient().get("/api/avl/osmand/", fix).status_code == 401  # no credentials
    assert APIClient().get("/api/avl/osmand/", {**fix, "key": "wrong-key-wrong-key"}).status_code == 401
    # The ambulance has no device key: a key never works for it, whatever it is.
    amb = {**fix, "id": "IMEI-2", "key": KEY}
    assert APIClient().get("/api/avl/osmand/", amb).status_code == 401
    # Agency staff send for their own agency's units only; another agency's device is unknown to them.
    assert world.client("handler_b").get("/api/avl/osmand/", fix).status_code == 400
    # Centre roles other than the administrator's gateway account may not send positions.
    assert world.client("commander").get("/api/avl/osmand/", fix).status_code == 403
    assert _state() == before
    assert world.client("handler_a").get("/api/avl/osmand/", fix).status_code == 200


def test_older_fixes_are_ignored_whatever_order_they_arrive_in(world: World, units: dict[str, Unit]) -> None:
    client = world.client("admin")
    with clock.pinned_at(NOW):
        newer = {"device_id": "IMEI-1", "lon": east_of(100), "lat": CENTRE_LAT, "time": _iso(NOW)}
        older = {"device_id": "IMEI-1", "lon": east_of(900), "lat": CENTRE_LAT, "time": _iso(NOW - dt.timedelta(5))}
        assert client.post("/api/avl/positions/", newer, format="json").json()["accepted"] == 1
        answer = client.post("/api/avl/positions/", older, format="json").json()
        assert answer == {"accepted": 0, "ignored_out_of_order": 1, "events": 0, "unit_ids": []}
        # In one batch, out of order: the newest wins.
        batch = {
            "positions": [
                {"device_id": "IMEI-1", "lon": east_of(300), "lat": CENTRE_LAT, "time": _iso(NOW + dt.timedelta(0, 2))},
                {"device_id": "IMEI-1", "lon": east_of(200), "lat": CENTRE_LAT, "time": _iso(NOW + dt.timedelta(0, 1))},
            ]
        }
        answer = client.post("/api/avl/positions/", batch, format="json").json()
    assert answer["accepted"] == 1 and answer["ignored_out_of_order"] == 1
    unit = Unit.objects.get(pk=units["engine"].pk)
    assert unit.longitude == pytest.approx(east_of(300)) and unit.fix_at == NOW + dt.timedelta(seconds=2)


def test_moved_events_are_coalesced_per_unit(world: World, units: dict[str, Unit]) -> None:
    client = world.client("admin")

    def send(seconds: int, metres: float) -> dict[str, Any]:
        at = NOW + dt.timedelta(seconds=seconds)
        with clock.pinned_at(at):
            body = {"device_id": "IMEI-1", "lon": east_of(metres), "lat": CENTRE_LAT, "time": _iso(at)}
            return dict(client.post("/api/avl/positions/", body, format="json").json())

    assert send(0, 0)["events"] == 1  # the first fix always tells the screens
    assert send(1, 200)["events"] == 0  # within 5 s of the last event
    assert send(6, 210)["events"] == 1  # 5 s passed and it moved 210 m since the last event
    assert send(12, 215)["events"] == 0  # 5 s passed but it moved only 5 m: coalesced
    assert send(67, 215)["events"] == 1  # parked, but a heartbeat is due after 60 s
    moved = Event.objects.filter(type="unit.moved").order_by("id")
    assert [round(e.payload["unit"]["longitude"], 7) for e in moved] == [round(east_of(m), 7) for m in (0, 210, 215)]
    # The unit row itself always has the newest fix.
    assert Unit.objects.get(pk=units["engine"].pk).fix_at == NOW + dt.timedelta(seconds=67)


def test_a_body_that_is_not_json_is_refused(world: World, units: dict[str, Unit]) -> None:
    before = _state()
    response = world.client("admin").post("/api/avl/positions/", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"]
    assert _state() == before
