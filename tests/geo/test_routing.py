"""Routing table cases, placements at intake, map endpoints and duplicates."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from django.conf import settings
from django.core.management import call_command

from callcenter.models import Ticket, TicketPlacement
from core import clock
from gis.actions import do_activate_layer, do_import_layer, do_import_routing_rules
from gis.coords import gcj02_to_wgs84, wgs84_to_gcj02
from gis.importer import Feature, PreparedLayer
from gis.models import Level
from gis.routing import decide, place
from organisation.actions import do_load_agencies, do_load_taxonomy, do_upsert_agency
from tests.conftest import World, ticket_payload

# Two districts side by side sharing the edge lon = 109.40, each 0.02 degrees (~2 km) wide.
WEST = shapely.box(109.38, 24.30, 109.40, 24.32)
EAST = shapely.box(109.40, 24.30, 109.42, 24.32)
M = 1 / 111_320  # one metre of latitude in degrees


def _layer(level: str, features: list[tuple[str, str, shapely.Geometry, str]]) -> Any:
    prepared = PreparedLayer(
        [Feature(code, name, geom, parent) for code, name, geom, parent in features], "EPSG:4326", {}
    )
    return do_import_layer(prepared, level=level, name=f"test {level}", source="test")


@pytest.fixture
def city(world: World) -> World:
    for code, name, function, adcode, kind in [
        ("west-gov", "西区人民政府", "district_government", "D1", "district"),
        ("east-gov", "东区人民政府", "district_government", "D2", "district"),
        ("west-cgj", "西区城管局", "urban_management", "D1", "department"),
        ("west-street-a", "西区甲街道", "street_office", "S1", "street"),
        ("west-street-b", "西区乙街道", "street_office", "S2", "street"),
        ("city-police", "市公安局", "public_security", "450200", "department"),
    ]:
        do_upsert_agency(code=code, name=name, kind=kind, function=function, adcode=adcode)
    _layer(Level.DISTRICT, [("D1", "西区", WEST, ""), ("D2", "东区", EAST, "")])
    _layer(
        Level.STREET,
        [
            ("S1", "甲街道", shapely.box(109.38, 24.30, 109.39, 24.32), "D1"),
            ("S2", "乙街道", shapely.box(109.39, 24.30, 109.40, 24.32), "D1"),
        ],
    )
    return world


def _subject(code: str) -> Any:
    from organisation.models import Subject

    return Subject.objects.get(code=code)


def test_a_point_on_the_shared_edge_goes_to_exactly_one_district(city: World) -> None:
    on_edge = place(109.40, 24.31)
    assert on_edge.places["district"].code == "D1"  # the smaller code wins on a shared edge
    corner = place(109.40, 24.30)
    assert corner.places["district"].code == "D1"
    assert place(109.4001, 24.31).places["district"].code == "D2"


def test_a_point_outside_every_polygon_gets_a_clear_answer(city: World) -> None:
    # Outside the service area (the district layer's polygons): not routed, not even to a city-wide agency.
    decision = decide(_subject("t-garbage"), place(100.0, 30.0))
    assert decision.placement is not None and decision.placement.places == {}
    assert [r["code"] for r in decision.reasons] == ["outside_service_area"]
    assert decision.lead is None and decision.candidates == []
    assert decision.as_dict()["outside_service_area"] is True


def test_fallbacks_district_function_then_district_government(city: World) -> None:
    west = decide(_subject("t-garbage"), place(109.385, 24.31))
    assert west.lead is not None and west.lead.code == "west-cgj"
    assert west.reasons[-1]["code"] == "fallback_district_function"
    assert [a.code for a in west.candidates] == ["west-cgj", "cgj", "west-gov"]
    # Housing has no agency in the east district and no city-wide one in this world but zjj.
    east = decide(_subject("t-property"), place(109.41, 24.31))
    assert east.lead is not None and east.lead.code == "zjj"
    assert [a.code for a in east.candidates] == ["zjj", "east-gov"]


def test_rules_win_with_priority_prefer_and_specificity(city: World) -> None:
    do_import_routing_rules(
        "subject,jurisdiction_code,level,lead_agency,lead_function,co_agencies,priority,prefer,note\n"
        "t-property,,street,,street_office,,10,,street offices\n"
        "t-property,D1,,city-police,,,5,,less priority\n"
        "t-vendors,,district,sjj,,cgj,0,,market regulation with urban management\n"
        "t-vendors,D1,,west-cgj,,,0,true,preferred in the west\n"
    )
    in_street_a = decide(_subject("t-property"), place(109.385, 24.31))
    assert in_street_a.lead is not None and in_street_a.lead.code == "west-street-a"
    assert "rule" in [r["code"] for r in in_street_a.reasons]
    assert decide(_subject("t-property"), place(109.395, 24.31)).lead.code == "west-street-b"  # type: ignore[union-attr]
    # A preferred rule beats a general one; where it does not apply the general one holds, with co-handlers.
    west = decide(_subject("t-vendors"), place(109.385, 24.31))
    assert west.lead.code == "west-cgj" and west.co_handlers == []  # type: ignore[union-attr]
    east = decide(_subject("t-vendors"), place(109.41, 24.31))
    assert east.lead.code == "sjj" and [a.code for a in east.co_handlers] == ["cgj"]  # type: ignore[union-attr]


def test_near_boundary_is_flagged_within_50_metres(city: World) -> None:
    near = place(109.40 - 20 * M, 24.31)  # about 18 m west of the edge at this latitude
    assert near.near_boundary and near.near[0]["code"] == "D2" and 10 < near.near[0]["metres"] < 30
    far = place(109.40 - 200 * M, 24.31)
    assert not [n for n in far.near if n["level"] == "district"]


def test_routing_rule_csv_errors_name_lines_and_write_nothing(city: World) -> None:
    from core.errors import InvalidInput
    from gis.models import RoutingRule

    with pytest.raises(InvalidInput) as refused:
        do_import_routing_rules(
            "subject,jurisdiction_code,level,lead_agency,lead_function,co_agencies,priority,prefer,note\n"
            "t-property,,street,,street_office,,1,,ok\n"
            "nope,,galaxy,ghost,,,x,,bad\n"
        )
    # Named by line in the default language, Chinese (the import runs outside a request here).
    assert refused.value.fields["rows"] == [
        "第 3 行：未知事项分类 nope; 未知区划级别 galaxy; 未知单位 ghost; 请填写 lead_agency 或 lead_function; "
        "priority 不是数字：x"
    ]
    assert RoutingRule.objects.count() == 0


def test_new_layer_version_switches_routing_and_tickets_keep_theirs(city: World) -> None:
    client = city.client("operator")
    first = client.post("/api/tickets/", ticket_payload(latitude=24.31, longitude=109.385), format="json").json()
    assert first["placement"]["district"]["code"] == "D1" and first["placement"]["layer_versions"]["district"] == 1
    moved = _layer(Level.DISTRICT, [("D9", "新西区", shapely.box(109.38, 24.30, 109.42, 24.32), "")])
    assert place(109.385, 24.31).places["district"].code == "D9"
    second = client.post("/api/tickets/", ticket_payload(latitude=24.31, longitude=109.385), format="json").json()
    assert second["placement"]["district"]["code"] == "D9"
    assert second["placement"]["layer_versions"]["district"] == moved.version == 2
    again = client.get(f"/api/tickets/{first['id']}/").json()
    assert again["placement"]["district"]["code"] == "D1" and again["placement"]["layer_versions"]["district"] == 1
    older = moved.__class__.objects.get(level="district", version=1)
    do_activate_layer(older.pk)
    assert place(109.385, 24.31).places["district"].code == "D1"


def test_override_of_the_proposal_needs_a_reason_and_is_on_the_timeline(city: World) -> None:
    ticket = (
        city.client("operator")
        .post("/api/tickets/", ticket_payload(latitude=24.31, longitude=109.385), format="json")
        .json()
    )
    assert ticket["placement"]["proposed_lead"]["code"] == "west-cgj"
    dispatcher = city.client("dispatcher")
    refused = dispatcher.post(
        f"/api/tickets/{ticket['id']}/dispatch/", {"lead_agency_id": city.agency_a.pk}, format="json"
    )
    assert refused.status_code == 400 and "override_reason" in refused.json()["fields"]
    assert Ticket.objects.get(pk=ticket["id"]).state == "accepted"
    done = dispatcher.post(
        f"/api/tickets/{ticket['id']}/dispatch/",
        {"lead_agency_id": city.agency_a.pk, "override_reason": "市局统一处理"},
        format="json",
    )
    assert done.status_code == 200
    row = next(r for r in dispatcher.get(f"/api/tickets/{ticket['id']}/timeline/").json() if r["action"] == "dispatch")
    assert row["data"]["override_reason"] == "市局统一处理" and row["data"]["proposal"]["lead"] == "west-cgj"


def test_after_a_return_the_next_candidate_is_proposed(city: World) -> None:
    from organisation.actions import do_upsert_user

    do_upsert_user(username="west", password=None, roles=["agency_handler"], agency_code="west-cgj")
    ticket = (
        city.client("operator")
        .post("/api/tickets/", ticket_payload(latitude=24.31, longitude=109.385), format="json")
        .json()
    )
    dispatched = (
        city.client("dispatcher")
        .post(f"/api/tickets/{ticket['id']}/dispatch/", {"lead_agency_id": _agency("west-cgj")}, format="json")
        .json()
    )
    from rest_framework.test import APIClient

    from organisation.models import User

    west = APIClient()
    west.force_authenticate(User.objects.get(username="west"))
    returned = west.post(
        f"/api/work-orders/{dispatched['work_orders'][0]['id']}/return/",
        {"reason": "非本局职责", "legal_basis": "三定方案"},
        format="json",
    )
    assert returned.status_code == 200
    approved = city.client("dispatcher").post(
        f"/api/work-orders/{dispatched['work_orders'][0]['id']}/approve_return/", {}, format="json"
    )
    assert approved.status_code == 200 and approved.json()["state"] == "returned"
    routing = city.client("dispatcher").get(f"/api/tickets/{ticket['id']}/routing/").json()
    assert routing["proposal"]["lead"]["code"] == "cgj"
    assert "west-cgj" not in [c["code"] for c in routing["proposal"]["candidates"]]
    assert routing["placement"]["proposal_at_intake"]["lead"]["code"] == "west-cgj"
    redispatched = city.client("dispatcher").post(
        f"/api/tickets/{ticket['id']}/redispatch/", {"lead_agency_id": city.agency_a.pk}, format="json"
    )
    assert redispatched.status_code == 200


def _agency(code: str) -> int:
    from organisation.models import Agency

    return int(Agency.objects.get(code=code).pk)


def test_map_endpoints_scope_agency_users_to_their_own_tickets(city: World) -> None:
    operator, dispatcher = city.client("operator"), city.client("dispatcher")
    ids = []
    for lon, agency in ((109.385, city.agency_a), (109.41, city.agency_b)):
        created = operator.post("/api/tickets/", ticket_payload(latitude=24.31, longitude=lon), format="json").json()
        dispatcher.post(
            f"/api/tickets/{created['id']}/dispatch/",
            {"lead_agency_id": agency.pk, "override_reason": "测试"},
            format="json",
        )
        ids.append(created["id"])
    everything = dispatcher.get("/api/geo/tickets/?bbox=109.3,24.2,109.5,24.4").json()
    assert sorted(f["id"] for f in everything["features"]) == sorted(ids)
    own = city.client("handler_a").get("/api/geo/tickets/?bbox=109.3,24.2,109.5,24.4").json()
    assert [f["id"] for f in own["features"]] == [ids[0]]
    assert city.client("handler_b").get("/api/geo/tickets/").json()["features"][0]["id"] == ids[1]
    hot = city.client("handler_a").get("/api/geo/hotspots/?level=district").json()
    assert {f["id"]: f["properties"]["count"] for f in hot["features"]} == {"D1": 1}
    all_hot = dispatcher.get("/api/geo/hotspots/?level=district").json()
    assert {f["id"]: f["properties"]["count"] for f in all_hot["features"]} == {"D1": 1, "D2": 1}
    outside = dispatcher.get("/api/geo/tickets/?bbox=110,25,111,26").json()
    assert outside["features"] == []
    assert dispatcher.get("/api/geo/tickets/?bbox=1,2,3").status_code == 400


def test_layer_geojson_is_simplified_by_zoom_and_converted_on_request(city: World) -> None:
    client = city.client("handler_a")
    wgs = client.get("/api/geo/layers/district/?zoom=14").json()
    assert [f["id"] for f in wgs["features"]] == ["D1", "D2"] and wgs["layer"]["version"] == 1
    gcj = client.get("/api/geo/layers/district/?zoom=14&coordinate_system=gcj02").json()
    x, y = wgs["features"][0]["geometry"]["coordinates"][0][0]
    gx, gy = gcj["features"][0]["geometry"]["coordinates"][0][0]
    ex, ey = wgs84_to_gcj02(x, y)
    assert abs(gx - float(ex)) < 1e-9 and abs(gy - float(ey)) < 1e-9
    assert client.get("/api/geo/layers/galaxy/").status_code == 400
    assert client.get("/api/geo/layers/district/?coordinate_system=mars").status_code == 400


def test_duplicates_same_subject_nearby_and_same_caller_recently(city: World) -> None:
    operator = city.client("operator")
    start = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)

    def create(minutes: int, **fields: Any) -> int:
        with clock.pinned_at(start + dt.timedelta(minutes=minutes)):
            return int(operator.post("/api/tickets/", ticket_payload(**fields), format="json").json()["id"])

    near = create(0, latitude=24.31, longitude=109.385, phone="13900000001")
    far = create(1, latitude=24.31 + 500 * M, longitude=109.385, phone="13900000002")
    other_subject = create(2, latitude=24.31, longitude=109.385, subject="t-property", phone="13900000003")
    old = create(-80 * 60, latitude=24.31, longitude=109.385, phone="13900000004")
    same_caller = create(3, latitude=24.35, longitude=109.41, subject="t-vendors", phone="13912345678")
    new = create(10, latitude=24.31 + 30 * M, longitude=109.385, phone="13912345678")
    with clock.pinned_at(start + dt.timedelta(minutes=11)):
        found = operator.get(f"/api/tickets/{new}/duplicates/").json()["candidates"]
    assert [c["id"] for c in found] == [near, same_caller]
    assert 25 < found[0]["distance_m"] < 35 and found[0]["same_subject"] and not found[0]["same_caller"]
    assert found[1]["same_caller"] and not found[1]["same_subject"]
    assert {far, other_subject, old}.isdisjoint(c["id"] for c in found)
    assert city.client("handler_a").get(f"/api/tickets/{new}/duplicates/").status_code in (403, 404)
    wider = operator.get(f"/api/tickets/{new}/duplicates/?radius=1000&hours=100").json()["candidates"]
    assert {near, far, old} <= {c["id"] for c in wider}
    assert operator.get(f"/api/tickets/{new}/duplicates/?radius=abc").status_code == 400


@pytest.fixture
def liuzhou(world: World) -> World:
    root = Path(settings.BASE_DIR)
    do_load_agencies()
    do_load_taxonomy(json.loads((root / "callcenter/data/taxonomy.json").read_text(encoding="utf-8")))
    call_command("load_demo_boundaries", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return world


def test_a_gcj02_ticket_in_liuzhou_is_stored_in_wgs84_routed_and_mapped(liuzhou: World) -> None:
    # 文惠路 in 城中区, as an AMap (GCJ-02) coordinate.
    wgs_lon, wgs_lat = 109.4112, 24.3126
    gcj_lon, gcj_lat = (float(v) for v in wgs84_to_gcj02(wgs_lon, wgs_lat))
    payload = ticket_payload(
        subject="garbage-collection", latitude=gcj_lat, longitude=gcj_lon, coordinate_system="gcj02"
    )
    created = liuzhou.client("operator").post("/api/tickets/", payload, format="json")
    assert created.status_code == 201, created.content
    ticket = Ticket.objects.get(pk=created.json()["id"])
    back_lon, back_lat = (float(v) for v in gcj02_to_wgs84(gcj_lon, gcj_lat))
    assert abs(ticket.longitude - back_lon) < 1e-9 and abs(ticket.latitude - back_lat) < 1e-9  # type: ignore[operator]
    assert abs(ticket.longitude - wgs_lon) < 5e-6 and abs(ticket.latitude - wgs_lat) < 5e-6  # type: ignore[operator]
    placement = TicketPlacement.objects.get(ticket=ticket)
    assert (placement.district_code, placement.district_name) == ("450202", "城中区")
    assert placement.grid_code.startswith("450202") and placement.street_code.startswith("450202")
    body = created.json()["placement"]
    assert body["proposed_lead"]["name"] == "城中区城市管理局"
    assert any("城中区" in reason for reason in body["reasons"])
    mapped = liuzhou.client("dispatcher").get("/api/geo/tickets/?bbox=109.3,24.2,109.5,24.4").json()
    assert [f["id"] for f in mapped["features"]] == [ticket.pk]
    hot = liuzhou.client("dispatcher").get("/api/geo/hotspots/?level=grid").json()
    assert [(f["id"], f["properties"]["count"]) for f in hot["features"]] == [(placement.grid_code, 1)]
    reverse = (
        liuzhou.client("handler_a")
        .get(f"/api/geo/reverse/?latitude={gcj_lat}&longitude={gcj_lon}&coordinate_system=gcj02")
        .json()
    )
    assert reverse["places"]["district"]["name"] == "城中区"
    assert reverse["places"]["grid"]["code"] == placement.grid_code


def test_geocoding_endpoint_finds_a_normalised_address_and_converts_on_request(liuzhou: World) -> None:
    client = liuzhou.client("operator")
    found = client.get("/api/geo/geocode/?q=广西柳州市城中区文惠路１２號").json()
    best = found["results"][0]
    assert best["name"] == "文惠路12号" and best["generated"] is True
    gcj = client.get("/api/geo/geocode/?q=广西柳州市城中区文惠路１２號&coordinate_system=gcj02").json()["results"][0]
    expected_lon, expected_lat = (float(v) for v in wgs84_to_gcj02(best["longitude"], best["latitude"]))
    assert abs(gcj["longitude"] - expected_lon) < 1e-6 and abs(gcj["latitude"] - expected_lat) < 1e-6
    assert client.get("/api/geo/geocode/?q=").status_code == 400


def test_routing_rules_import_command(city: World, tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    from gis.models import RoutingRule

    good = tmp_path / "rules.csv"
    good.write_text(
        "subject,jurisdiction_code,level,lead_agency,lead_function,co_agencies,priority,prefer,note\n"
        "t-property,,street,,street_office,,10,,ok\n",
        encoding="utf-8",
    )
    call_command("import_routing_rules", str(good), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert RoutingRule.objects.count() == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,lead_agency,lead_function\nt-property,ghost,\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("import_routing_rules", str(bad), "--replace", stderr=open("/dev/null", "w"))  # noqa: SIM115
    assert RoutingRule.objects.count() == 1
