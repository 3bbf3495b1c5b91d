"""Ticket correction (工单修正): reclassifying and relocating a ticket after intake, audited, on the timeline,
announced, and placed again on the routing map."""

from __future__ import annotations

import json
from typing import Any

import pytest
import shapely

from callcenter.models import Ticket, TicketPlacement
from core import clock
from core.errors import InvalidInput
from dispatch.actions import do_correct_ticket
from dispatch.models import Stage, StageClock, TimelineEntry
from gis.actions import do_import_layer
from gis.coords import gcj02_to_wgs84, wgs84_to_gcj02
from gis.importer import Feature, PreparedLayer
from gis.models import Level
from organisation.actions import do_upsert_agency
from organisation.models import AuditEntry
from realtime.models import Event, EventAgency
from tests.conftest import World, ticket_payload
from tests.pinned_time import WORKDAY_MORNING

# Two districts side by side sharing the edge lon = 109.40; urban management has a district office in the west.
WEST_POINT = (24.31, 109.385)  # (latitude, longitude), WGS84
EAST_POINT = (24.31, 109.41)


@pytest.fixture
def city(world: World) -> World:
    do_upsert_agency(code="west-cgj", name="西区城管局", kind="department", function="urban_management", adcode="D1")
    do_upsert_agency(code="west-gov", name="西区人民政府", kind="district", function="district_government", adcode="D1")
    features = [
        Feature("D1", "西区", shapely.box(109.38, 24.30, 109.40, 24.32), ""),
        Feature("D2", "东区", shapely.box(109.40, 24.30, 109.42, 24.32), ""),
    ]
    do_import_layer(PreparedLayer(features, "EPSG:4326", {}), level=Level.DISTRICT, name="区", source="test")
    return world


def _post(world: World, who: str, url: str, body: Any = None, status: int = 200) -> Any:
    response = world.client(who).post(url, body if body is not None else {}, format="json")
    assert response.status_code == status, response.content
    return response.json()


def _ticket(world: World, *, at: tuple[float, float] = WEST_POINT, **overrides: Any) -> int:
    payload = ticket_payload(latitude=at[0], longitude=at[1], **overrides)
    return int(_post(world, "operator", "/api/tickets/", payload, status=201)["id"])


def _correct(world: World, ticket_id: int, body: dict[str, Any], who: str = "dispatcher", status: int = 200) -> Any:
    return _post(world, who, f"/api/tickets/{ticket_id}/correct/", body, status=status)


def test_a_new_subject_reroutes_the_ticket(city: World) -> None:
    ticket_id = _ticket(city)
    intake = TicketPlacement.objects.get(ticket_id=ticket_id)
    assert intake.proposal["lead"]["code"] == "west-cgj"

    corrected = _correct(city, ticket_id, {"subject": "t-property", "reason": "诉求实为物业管理问题"}, who="operator")
    assert corrected["subject"]["code"] == "t-property" and corrected["state"] == "accepted"
    # Housing has no district office in the west: the city-wide housing bureau.
    assert corrected["proposal"]["lead"]["code"] == "zjj"
    assert TicketPlacement.objects.get(ticket_id=ticket_id).proposal == corrected["proposal"]
    # Dispatching follows the new proposal: to zjj without a word, elsewhere only with a reason.
    elsewhere = city.client("dispatcher").post(
        f"/api/tickets/{ticket_id}/dispatch/", {"lead_agency_id": city.agency_a.pk}, format="json"
    )
    assert elsewhere.status_code == 400 and "override_reason" in elsewhere.json()["fields"]
    _post(city, "dispatcher", f"/api/tickets/{ticket_id}/dispatch/", {"lead_agency_id": city.agency_b.pk})

    row = TimelineEntry.objects.filter(ticket_id=ticket_id, action="correct").get()
    assert (row.from_state, row.to_state, row.note) == ("accepted", "accepted", "诉求实为物业管理问题")
    assert row.data == {"changed": ["subject"], "subject": {"from": "t-garbage", "to": "t-property"}}


def test_relocation_in_gcj02_is_stored_in_wgs84_and_placed_again(city: World) -> None:
    with clock.pinned_at(WORKDAY_MORNING):
        ticket_id = _ticket(city)
        ticket = _post(city, "dispatcher", f"/api/tickets/{ticket_id}/dispatch/", {"lead_agency_id": _west_cgj()})
        wo = ticket["work_orders"][0]["id"]
        sign = StageClock.objects.get(work_order_id=wo, stage=Stage.SIGN, stopped_at__isnull=True)
        gcj_lon, gcj_lat = (float(v) for v in wgs84_to_gcj02(EAST_POINT[1], EAST_POINT[0]))
        corrected = _correct(
            city,
            ticket_id,
            {
                "latitude": gcj_lat,
                "longitude": gcj_lon,
                "coordinate_system": "gcj02",
                "address": "柳州市城中区东环路8号",
                "urgency": "urgent",
                "reason": "市民补充了准确位置",
            },
        )
    expected_lon, expected_lat = (float(v) for v in gcj02_to_wgs84(gcj_lon, gcj_lat))
    stored = Ticket.objects.get(pk=ticket_id)
    assert stored.latitude == pytest.approx(expected_lat, abs=1e-9)
    assert stored.longitude == pytest.approx(expected_lon, abs=1e-9)
    assert stored.latitude == pytest.approx(EAST_POINT[0], abs=1e-6)  # the GCJ-02 offset (hundreds of m) is gone
    assert stored.longitude == pytest.approx(EAST_POINT[1], abs=1e-6)
    assert stored.address == "柳州市城中区东环路8号" and stored.urgency == "urgent"
    assert corrected["state"] == "dispatched"
    # East of the edge there is no district urban management office: the city-wide bureau.
    assert corrected["proposal"]["lead"]["code"] == "cgj"
    placement = TicketPlacement.objects.get(ticket_id=ticket_id)
    assert placement.district_code == "D2"

    row = TimelineEntry.objects.filter(ticket_id=ticket_id, action="correct").get()
    assert row.data["changed"] == ["address", "latitude", "longitude", "urgency"]
    assert row.data["urgency"] == {"from": "normal", "to": "urgent"}
    assert row.data["location"]["from"]["district"] == "D1" and row.data["location"]["to"]["district"] == "D2"
    # No address or coordinates on the timeline: agencies read it.
    assert "东环路" not in json.dumps(row.data, ensure_ascii=False) and "109.4" not in json.dumps(row.data)
    # Deadlines are not recomputed: the running sign clock keeps its due time.
    after = StageClock.objects.get(work_order_id=wo, stage=Stage.SIGN, stopped_at__isnull=True)
    assert after.pk == sign.pk and after.due_at == sign.due_at


def _west_cgj() -> int:
    from organisation.models import Agency

    return int(Agency.objects.get(code="west-cgj").pk)


def test_the_correction_is_audited_by_field_name_and_announced(city: World) -> None:
    ticket_id = _ticket(city)
    _post(city, "dispatcher", f"/api/tickets/{ticket_id}/dispatch/", {"lead_agency_id": _west_cgj()})
    # The newest id, not the count: ids are not gap-free from 1 across tests on PostgreSQL.
    events_before = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    _correct(
        city,
        ticket_id,
        {"address": "柳州市柳北区胜利路99号", "appeal_type": "help", "reason": "登记有误"},
    )
    entry = AuditEntry.objects.get(action="correct_ticket")
    assert (entry.target_type, entry.target_id, entry.actor) == ("ticket", ticket_id, city.users["dispatcher"])
    assert entry.fields == ["address", "appeal_type"] and entry.reason == "登记有误"
    text = json.dumps([entry.fields, entry.reason], ensure_ascii=False)
    assert "胜利路" not in text and "文惠路" not in text and "1381234" not in text

    events = list(Event.objects.filter(id__gt=events_before))
    assert [e.type for e in events] == ["ticket.corrected"]
    payload = events[0].payload
    assert payload["fields"] == ["address", "appeal_type"]
    assert payload["ticket"]["id"] == ticket_id and payload["placement"]["district"] == "D1"
    assert "胜利路" not in json.dumps(payload, ensure_ascii=False)
    # The agency working on the ticket hears of it.
    assert list(EventAgency.objects.filter(event=events[0]).values_list("agency_id", flat=True)) == [_west_cgj()]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"latitude": 24.31, "reason": "r"}, {"longitude"}),
        ({"latitude": 95, "longitude": 109.4, "reason": "r"}, {"latitude"}),
        ({"latitude": True, "longitude": 109.4, "reason": "r"}, {"latitude"}),
        ({"latitude": "north", "longitude": 109.4, "reason": "r"}, {"latitude"}),
        ({"latitude": 24.3, "longitude": 109.4, "coordinate_system": "utm", "reason": "r"}, {"coordinate_system"}),
        ({"coordinate_system": "gcj02", "reason": "r"}, {"coordinate_system"}),
        ({"subject": "t-nothing", "reason": "r"}, {"subject"}),
        ({"subject": "t-appearance", "reason": "r"}, {"subject"}),  # not a leaf
        ({"appeal_type": "gossip", "reason": "r"}, {"appeal_type"}),
        ({"urgency": "now", "reason": "r"}, {"urgency"}),
        ({"address": "长" * 201, "reason": "r"}, {"address"}),
        ({"urgency": "urgent"}, {"reason"}),
        ({"urgency": "urgent", "reason": "  "}, {"reason"}),
        ({"reason": "没有要改的"}, {"non_field_errors"}),
        ({"urgency": "normal", "reason": "与原值相同"}, {"urgency"}),
    ],
)
def test_bad_corrections_are_400_naming_the_fields(city: World, body: dict[str, Any], fields: set[str]) -> None:
    ticket_id = _ticket(city)
    before = (TimelineEntry.objects.count(), AuditEntry.objects.count(), Event.objects.count())
    response = city.client("dispatcher").post(f"/api/tickets/{ticket_id}/correct/", body, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()["fields"]) == fields
    assert (TimelineEntry.objects.count(), AuditEntry.objects.count(), Event.objects.count()) == before
    assert Ticket.objects.get(pk=ticket_id).urgency == "normal"


def test_the_action_checks_what_the_api_does_not(city: World) -> None:
    ticket_id = _ticket(city)
    dispatcher = city.users["dispatcher"]
    with pytest.raises(InvalidInput) as unknown:
        do_correct_ticket(ticket_id, actor=dispatcher, reason="r", caller_name="别人", urgency="urgent")
    assert set(unknown.value.fields) == {"caller_name"}
    with pytest.raises(InvalidInput) as blank:
        do_correct_ticket(ticket_id, actor=dispatcher, reason="r", urgency="", latitude=None, longitude=None)
    assert set(blank.value.fields) == {"urgency", "latitude", "longitude"}
    with pytest.raises(InvalidInput) as typed:
        do_correct_ticket(ticket_id, actor=dispatcher, reason="r", latitude="24.3", longitude=[109])
    assert set(typed.value.fields) == {"latitude", "longitude"}
    correction = do_correct_ticket(ticket_id, actor=dispatcher, reason="r", latitude=24.305, longitude=109.39)
    assert correction.changed == ("latitude", "longitude") and correction.proposal is not None


def test_a_finished_ticket_cannot_be_corrected(city: World) -> None:
    ticket_id = _ticket(city, appeal_type="consultation")
    _post(city, "operator", f"/api/tickets/{ticket_id}/resolve_directly/", {"answer": "已答复"})
    for who in ("dispatcher", "operator", "admin"):
        response = city.client(who).post(
            f"/api/tickets/{ticket_id}/correct/", {"urgency": "urgent", "reason": "r"}, format="json"
        )
        assert response.status_code == 409 and response.json()["code"] == "transition_not_allowed", who
    assert not TimelineEntry.objects.filter(action="correct").exists()


def test_who_may_correct(city: World) -> None:
    accepted = _ticket(city)
    body = {"urgency": "urgent", "reason": "核实后为紧急诉求"}
    for who in ("handler_a", "supervisor", "commander", "auditor"):
        assert city.client(who).post(f"/api/tickets/{accepted}/correct/", body, format="json").status_code in (403, 404)
    _correct(city, accepted, body, who="operator")

    dispatched = _ticket(city, phone="13900001111")
    _post(
        city,
        "dispatcher",
        f"/api/tickets/{dispatched}/dispatch/",
        {"lead_agency_id": city.agency_a.pk, "override_reason": "市局直接办理"},
    )
    # Operators correct only tickets still at intake; agencies never (the foreign one cannot even find it).
    operator = city.client("operator").post(f"/api/tickets/{dispatched}/correct/", body, format="json")
    assert operator.status_code == 403 and operator.json()["code"] == "permission_denied"
    own = city.client("handler_a").post(f"/api/tickets/{dispatched}/correct/", body, format="json")
    assert own.status_code == 403
    foreign = city.client("handler_b").post(f"/api/tickets/{dispatched}/correct/", body, format="json")
    assert foreign.status_code == 404
    assert _correct(city, dispatched, body, who="admin")["urgency"] == "urgent"
