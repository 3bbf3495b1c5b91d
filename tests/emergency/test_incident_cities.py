"""Two cities served side by side (一套程序，多套应用): an incident belongs to the city whose service area holds its
point (else to the ticket's city, else to its reporter's), and the command desk of one city reads and commands
its own incidents and units only; staff named to no city see both, and the live side follows the same split."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import shapely

from emergency.models import Incident, Unit
from emergency.queries import live_incidents_snapshot
from gis.actions import do_import_layer
from gis.importer import Feature, PreparedLayer
from gis.models import Level
from organisation.actions import do_save_city, do_upsert_agency, do_upsert_user
from organisation.models import Agency, City, Role
from realtime.audience import audience_of
from realtime.models import Event
from realtime.queries import snapshot
from tests.conftest import World, ticket_payload
from tests.emergency.incident_fixtures import incident_body, ok
from tests.emergency.unit_fixtures import make_unit, place_unit

#: Liuzhou (the default city, created first) around the usual test point; Guilin far to the north-east.
LIUZHOU_DISTRICT = shapely.box(109.38, 24.29, 109.44, 24.34)
GUILIN_DISTRICT = shapely.box(110.25, 25.24, 110.34, 25.30)
IN_LIUZHOU = (109.4112, 24.3126)
IN_GUILIN = (110.29, 25.27)
NOWHERE = (-122.42, 37.77)  # San Francisco: no city of this installation


@dataclass
class TwoCities:
    world: World
    liuzhou: City
    guilin: City
    lz_fire: Agency
    gl_fire: Agency


def _layer(city: City, code: str, name: str, area: shapely.Geometry) -> None:
    prepared = PreparedLayer([Feature(code, name, area, "")], "EPSG:4326", {})
    do_import_layer(prepared, level=Level.DISTRICT, name=f"{city.code} districts", source="test", city=city)


def _agency(code: str, name: str, kind: str, function: str, city: City | None) -> Agency:
    agency = do_upsert_agency(code=code, name=name, kind=kind, function=function)
    if city is not None:
        agency.city = city
        agency.save(update_fields=["city"])
    return agency


@pytest.fixture
def cities(world: World) -> TwoCities:
    liuzhou = do_save_city(City(code="liuzhou", name="柳州市", adcode="450200"), actor=None, changed=["code"])
    guilin = do_save_city(City(code="guilin", name="桂林市", adcode="450300"), actor=None, changed=["code"])
    _layer(liuzhou, "450202", "城中区", LIUZHOU_DISTRICT)
    _layer(guilin, "450302", "秀峰区", GUILIN_DISTRICT)
    # Liuzhou's fire brigade names no city (the default city's); Guilin's names Guilin.
    lz_fire = _agency("lz-fire", "柳州市消防救援支队", "emergency", "fire_rescue", None)
    gl_fire = _agency("gl-fire", "桂林市消防救援支队", "emergency", "fire_rescue", guilin)
    _agency("lz-centre", "柳州12345", "centre", "hotline", liuzhou)
    _agency("gl-centre", "桂林12345", "centre", "hotline", guilin)
    for username, roles, agency in (
        ("lz_commander", [Role.COMMANDER], "lz-centre"),
        ("gl_commander", [Role.COMMANDER], "gl-centre"),
        ("gl_operator", [Role.OPERATOR], "gl-centre"),
    ):
        world.users[username] = do_upsert_user(username=username, password=None, roles=roles, agency_code=agency)
    return TwoCities(world, liuzhou, guilin, lz_fire, gl_fire)


def _report(cities: TwoCities, point: tuple[float, float], who: str = "commander") -> Incident:
    body = incident_body(longitude=point[0], latitude=point[1])
    created = ok(cities.world.client(who).post("/api/incidents/", body, format="json"), 201)
    return Incident.objects.get(pk=created["id"])


def _listed(cities: TwoCities, who: str) -> set[int]:
    rows = ok(cities.world.client(who).get("/api/incidents/?page_size=100"))
    return {row["id"] for row in (rows["results"] if isinstance(rows, dict) else rows)}


def test_an_incident_takes_the_city_of_its_point_else_its_ticket_else_its_reporter(cities: TwoCities) -> None:
    world = cities.world
    assert _report(cities, IN_GUILIN).city_id == cities.guilin.pk
    assert _report(cities, IN_LIUZHOU).city_id == cities.liuzhou.pk
    # Outside every service area: the reporter's city (Guilin's commander), none for staff of no city.
    assert _report(cities, NOWHERE, who="gl_commander").city_id == cities.guilin.pk
    assert _report(cities, NOWHERE, who="commander").city_id is None

    # A ticket at a place in Guilin, escalated without a point: the incident stands there, in Guilin.
    ticket = ok(world.client("operator").post("/api/tickets/", ticket_payload(**_at(IN_GUILIN)), format="json"), 201)
    escalated = ok(
        world.client("operator").post(f"/api/tickets/{ticket['id']}/escalate/", {"type": "fire"}, format="json")
    )
    assert Incident.objects.get(pk=escalated["incident"]["id"]).city_id == cities.guilin.pk

    # A Guilin ticket with no point of its own, escalated (by staff of no city) with a point outside every
    # service area: the ticket's city.
    no_place = ticket_payload(latitude=None, longitude=None)
    ticket = ok(world.client("gl_operator").post("/api/tickets/", no_place, format="json"), 201)
    body = {"type": "fire", **_at(NOWHERE)}
    escalated = ok(world.client("commander").post(f"/api/tickets/{ticket['id']}/escalate/", body, format="json"))
    assert Incident.objects.get(pk=escalated["incident"]["id"]).city_id == cities.guilin.pk


def _at(point: tuple[float, float]) -> dict[str, float]:
    return {"longitude": point[0], "latitude": point[1]}


def test_each_city_commander_reads_only_its_own_incidents(cities: TwoCities) -> None:
    world = cities.world
    in_liuzhou, in_guilin = _report(cities, IN_LIUZHOU), _report(cities, IN_GUILIN)
    assert _listed(cities, "lz_commander") == {in_liuzhou.pk}
    assert _listed(cities, "gl_commander") == {in_guilin.pk}
    assert _listed(cities, "commander") == {in_liuzhou.pk, in_guilin.pk}  # named to no city: every city
    gl, lz = world.client("gl_commander"), world.client("lz_commander")
    assert ok(gl.get(f"/api/incidents/{in_guilin.pk}/"))["number"] == in_guilin.number
    for path in ("", "timeline/", "assignments/", "eido/", "cap/"):
        assert gl.get(f"/api/incidents/{in_liuzhou.pk}/{path}").status_code == 404, path
        assert lz.get(f"/api/incidents/{in_guilin.pk}/{path}").status_code == 404, path
    # Nor can one city act on the other's: a transition, or a merge into it, is as for a missing incident.
    assert lz.post(f"/api/incidents/{in_guilin.pk}/confirm/", {}, format="json").status_code == 404
    merge = lz.post(f"/api/incidents/{in_liuzhou.pk}/merge/", {"into_id": in_guilin.pk}, format="json")
    assert merge.status_code == 404
    assert Incident.objects.get(pk=in_liuzhou.pk).merged_into_id is None

    # Moved into Guilin's service area, the incident is Guilin's: its commander now reads it, Liuzhou's not.
    moved = world.client("commander").post(f"/api/incidents/{in_liuzhou.pk}/update/", _at(IN_GUILIN), format="json")
    assert ok(moved)["id"] == in_liuzhou.pk
    assert Incident.objects.get(pk=in_liuzhou.pk).city_id == cities.guilin.pk
    assert gl.get(f"/api/incidents/{in_liuzhou.pk}/").status_code == 200
    assert lz.get(f"/api/incidents/{in_liuzhou.pk}/").status_code == 404

    # Whoever reports an incident in another city's service area keeps reading it (as with tickets).
    theirs = _report(cities, IN_GUILIN, who="lz_commander")
    assert theirs.city_id == cities.guilin.pk
    assert lz.get(f"/api/incidents/{theirs.pk}/").status_code == 200


def test_each_city_commands_only_its_own_units(cities: TwoCities) -> None:
    world = cities.world
    lz_engine = make_unit("柳消01", "fire_engine", cities.lz_fire)
    gl_engine = make_unit("桂消01", "fire_engine", cities.gl_fire)
    # Both stand near the Liuzhou incident: only the city's own may be recommended to and sent by its desk.
    place_unit(world, lz_engine, IN_LIUZHOU[0] + 0.01, IN_LIUZHOU[1])
    place_unit(world, gl_engine, IN_LIUZHOU[0] + 0.001, IN_LIUZHOU[1])
    incident = _report(cities, IN_LIUZHOU)
    lz, gl = world.client("lz_commander"), world.client("gl_commander")

    def listed(who: str) -> set[int]:
        rows = ok(world.client(who).get("/api/units/?page_size=100"))
        return {row["id"] for row in (rows["results"] if isinstance(rows, dict) else rows)}

    assert listed("lz_commander") == {lz_engine.pk}
    assert listed("gl_commander") == {gl_engine.pk}
    assert listed("commander") == {lz_engine.pk, gl_engine.pk}
    assert lz.get(f"/api/units/{gl_engine.pk}/").status_code == 404
    assert gl.get(f"/api/units/{lz_engine.pk}/").status_code == 404
    board = ok(gl.get("/api/units/board/"))
    assert [entry["agency"]["code"] for entry in board["agencies"]] == ["gl-fire"]
    out_of_service = {"action": "out_of_service", "note": "检修"}
    assert lz.post(f"/api/units/{gl_engine.pk}/transition/", out_of_service, format="json").status_code == 404

    recommended = ok(lz.get(f"/api/incidents/{incident.pk}/recommendations/?types=fire_engine"))
    assert [row["unit"]["id"] for row in recommended["recommendations"]["fire_engine"]] == [lz_engine.pk]
    everyone = ok(world.client("commander").get(f"/api/incidents/{incident.pk}/recommendations/?types=fire_engine"))
    assert [row["unit"]["id"] for row in everyone["recommendations"]["fire_engine"]] == [gl_engine.pk, lz_engine.pk]
    refused = lz.post(f"/api/incidents/{incident.pk}/assign/", {"unit_ids": [gl_engine.pk]}, format="json")
    assert refused.status_code == 400 and set(refused.json()["fields"]) == {"unit_ids"}
    assert Unit.objects.get(pk=gl_engine.pk).status == "available"
    ok(lz.post(f"/api/incidents/{incident.pk}/assign/", {"unit_ids": [lz_engine.pk]}, format="json"), 201)

    # The agency crews keep their own units' view, whatever city.
    world.users["gl_crew"] = do_upsert_user(
        username="gl_crew", password=None, roles=[Role.AGENCY_HANDLER], agency_code="gl-fire"
    )
    assert listed("gl_crew") == {gl_engine.pk}


def test_live_events_and_snapshot_name_the_city(cities: TwoCities) -> None:
    world = cities.world
    in_liuzhou, in_guilin = _report(cities, IN_LIUZHOU), _report(cities, IN_GUILIN)
    created = dict(Event.objects.filter(type="incident.created").values_list("payload__incident__id", "city_id"))
    assert created == {in_liuzhou.pk: cities.liuzhou.pk, in_guilin.pk: cities.guilin.pk}
    # A unit of an agency naming no city speaks to the default city's centre.
    lz_engine = make_unit("柳消02", "fire_engine", cities.lz_fire)
    gl_engine = make_unit("桂消02", "fire_engine", cities.gl_fire)
    place_unit(world, lz_engine, *IN_LIUZHOU)
    place_unit(world, gl_engine, *IN_GUILIN)
    moved = dict(Event.objects.filter(type="unit.moved").values_list("payload__unit__id", "city_id"))
    assert moved == {lz_engine.pk: cities.liuzhou.pk, gl_engine.pk: cities.guilin.pk}

    def snapshot_ids(who: str) -> set[int]:
        audience = audience_of(world.users[who])
        assert audience is not None
        return {row["id"] for row in snapshot(audience)["incidents"]}

    assert snapshot_ids("gl_commander") == {in_guilin.pk}
    assert snapshot_ids("lz_commander") == {in_liuzhou.pk}
    assert snapshot_ids("commander") == {in_liuzhou.pk, in_guilin.pk}
    rows = live_incidents_snapshot(centre=True, agency_id=None, city_id=cities.guilin.pk)
    assert [row["id"] for row in rows] == [in_guilin.pk]
