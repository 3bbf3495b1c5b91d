"""The units API: list filters, stale flag, detail, status board, transitions, and agency scoping over
the API and over the live socket."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from core import clock
from emergency.models import Unit
from emergency.units.actions import do_change_unit_status
from realtime.models import Event
from tests.conftest import World
from tests.emergency.unit_fixtures import CENTRE_LAT, CENTRE_LON, NOW, east_of, make_unit, place_unit
from tests.sockets import ORIGIN, session_cookie


@pytest.fixture
def fleet(world: World) -> dict[str, Unit]:
    units = {
        "a_engine": make_unit("A-消防", "fire_engine", world.agency_a),
        "a_police": make_unit("A-警", "police_car", world.agency_a),
        "b_ambulance": make_unit("B-急救", "ambulance", world.agency_b),
        "b_silent": make_unit("B-无信号", "repair_crew", world.agency_b),
    }
    with clock.pinned_at(NOW):
        place_unit(world, units["a_engine"], CENTRE_LON, CENTRE_LAT)
        place_unit(world, units["a_police"], east_of(3000), CENTRE_LAT)
        place_unit(world, units["b_ambulance"], east_of(100), CENTRE_LAT)
    return units


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_list_filters(world: World, fleet: dict[str, Unit]) -> None:
    client = world.client("commander")
    with clock.pinned_at(NOW + dt.timedelta(seconds=10)):
        everything = _ids(client.get("/api/units/"))
        assert set(everything) == {u.pk for u in fleet.values()}
        assert _ids(client.get("/api/units/?type=fire_engine,ambulance")) == [
            fleet["a_engine"].pk,
            fleet["b_ambulance"].pk,
        ]
        assert set(_ids(client.get(f"/api/units/?agency={world.agency_b.code}"))) == {
            fleet["b_ambulance"].pk,
            fleet["b_silent"].pk,
        }
        box = f"{CENTRE_LON - 0.001},{CENTRE_LAT - 0.001},{east_of(500)},{CENTRE_LAT + 0.001}"
        assert set(_ids(client.get(f"/api/units/?bbox={box}"))) == {fleet["a_engine"].pk, fleet["b_ambulance"].pk}
        assert _ids(client.get("/api/units/?stale=1")) == [fleet["b_silent"].pk]  # never reported
        assert fleet["b_silent"].pk not in _ids(client.get("/api/units/?stale=0"))
        do_change_unit_status(fleet["a_police"].pk, "out_of_service", actor=world.users["commander"])
        assert _ids(client.get("/api/units/?status=out_of_service")) == [fleet["a_police"].pk]
        for bad in ("type=tank", "status=sleeping", "bbox=1,2,3", "stale=maybe", "bbox=10,10,5,5"):
            response = client.get(f"/api/units/?{bad}")
            assert response.status_code == 400, bad
            assert response.json()["code"] == "invalid_input"


def test_detail_has_position_stale_flag_and_actions(world: World, fleet: dict[str, Unit]) -> None:
    with clock.pinned_at(NOW + dt.timedelta(seconds=119)):
        fresh = world.client("handler_a").get(f"/api/units/{fleet['a_engine'].pk}/").json()
    with clock.pinned_at(NOW + dt.timedelta(seconds=121)):
        stale = world.client("handler_a").get(f"/api/units/{fleet['a_engine'].pk}/").json()
    assert fresh["stale"] is False and stale["stale"] is True
    assert fresh["position"]["lon"] == CENTRE_LON and fresh["position"]["crs"] == "wgs84"
    assert fresh["agency"]["id"] == world.agency_a.pk and fresh["station"]["name"]
    assert fresh["available_actions"] == ["out_of_service"]
    assert fresh["incident_id"] is None


def test_agencies_see_only_their_own_units(world: World, fleet: dict[str, Unit]) -> None:
    assert set(_ids(world.client("handler_a").get("/api/units/"))) == {fleet["a_engine"].pk, fleet["a_police"].pk}
    assert world.client("handler_a").get(f"/api/units/{fleet['b_ambulance'].pk}/").status_code == 404
    assert _ids(world.client("handler_c").get("/api/units/")) == []
    assert world.client("nobody").get("/api/units/").json()["results"] == []
    # Acting on another agency's unit: it does not exist for them.
    response = world.client("handler_a").post(
        f"/api/units/{fleet['b_ambulance'].pk}/transition/", {"action": "out_of_service"}, format="json"
    )
    assert response.status_code == 404
    assert Unit.objects.get(pk=fleet["b_ambulance"].pk).status == "available"


def test_transitions_follow_the_table(world: World, fleet: dict[str, Unit]) -> None:
    client = world.client("handler_a")
    url = f"/api/units/{fleet['a_engine'].pk}/transition/"
    before = Event.objects.count()
    assert client.post(url, {"action": "arrive"}, format="json").json()["code"] == "transition_not_allowed"
    assert client.post(url, {"action": "dispatch"}, format="json").status_code == 400  # via assignment only
    assert client.post(url, {"action": "fly"}, format="json").status_code == 400
    assert world.client("operator").post(url, {"action": "out_of_service"}, format="json").status_code == 403
    assert Event.objects.count() == before
    done = client.post(url, {"action": "out_of_service", "note": "保养"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "out_of_service"
    assert done.json()["available_actions"] == ["make_available"]
    timeline = client.get(f"/api/units/{fleet['a_engine'].pk}/timeline/").json()
    assert [(row["from"], row["to"], row["note"]) for row in timeline] == [("available", "out_of_service", "保养")]


def test_status_board_counts_by_type_status_and_agency(world: World, fleet: dict[str, Unit]) -> None:
    do_change_unit_status(fleet["a_police"].pk, "out_of_service", actor=world.users["commander"])
    with clock.pinned_at(NOW + dt.timedelta(seconds=5)):
        board = world.client("commander").get("/api/units/board/").json()
        own = world.client("handler_b").get("/api/units/board/").json()
    assert board["totals"]["fire_engine"]["available"] == 1
    assert board["totals"]["police_car"]["out_of_service"] == 1
    assert board["totals"]["ambulance"]["dispatched"] == 0
    assert board["stale"]["repair_crew"] == 1 and board["stale"]["fire_engine"] == 0
    by_agency = {row["agency"]["id"]: row["counts"] for row in board["agencies"]}
    assert by_agency[world.agency_a.pk] == {"fire_engine": {"available": 1}, "police_car": {"out_of_service": 1}}
    assert [row["agency"]["id"] for row in own["agencies"]] == [world.agency_b.pk]
    assert own["totals"]["fire_engine"]["available"] == 0


# --- the live socket --------------------------------------------------------------------------------------

WAIT = 10


async def _live_events(user: Any) -> list[dict[str, Any]]:
    cookie = await database_sync_to_async(session_cookie)(user)
    socket = WebsocketCommunicator(application, "/ws/events/?last_event_id=0", headers=[ORIGIN, cookie])
    connected, _code = await socket.connect(timeout=WAIT)
    assert connected
    seen = []
    while True:
        message = json.loads(await socket.receive_from(timeout=WAIT))
        if message["kind"] == "event":
            seen.append(message)
        if message["kind"] == "live":
            break
    await socket.disconnect()
    return seen


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_unit_events_reach_only_the_owning_agency_and_the_centre(world: World, stop_hubs: None) -> None:
    def scenario() -> dict[str, int]:
        a_unit = make_unit("A-消防", "fire_engine", world.agency_a)
        b_unit = make_unit("B-急救", "ambulance", world.agency_b)
        with clock.pinned_at(NOW):
            place_unit(world, a_unit, CENTRE_LON, CENTRE_LAT)
            place_unit(world, b_unit, east_of(100), CENTRE_LAT)
        do_change_unit_status(b_unit.pk, "out_of_service", actor=world.users["handler_b"])
        return {"a": a_unit.pk, "b": b_unit.pk}

    ids = await database_sync_to_async(scenario)()
    agency_a = await _live_events(world.users["handler_a"])
    centre = await _live_events(world.users["commander"])
    assert {(m["type"], m["payload"]["unit"]["id"]) for m in agency_a} == {("unit.moved", ids["a"])}
    assert {(m["type"], m["payload"]["unit"]["id"]) for m in centre} == {
        ("unit.moved", ids["a"]),
        ("unit.moved", ids["b"]),
        ("unit.status_changed", ids["b"]),
    }


def test_list_and_board_take_a_constant_number_of_queries(world: World, fleet: dict[str, Unit]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = world.client("handler_a")

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    before = (count("/api/units/"), count("/api/units/board/"))
    for i in range(8):
        unit = make_unit(f"A-追加{i}", "ambulance", world.agency_a)
        place_unit(world, unit, east_of(50 * i), CENTRE_LAT)
    assert (count("/api/units/"), count("/api/units/board/")) == before
