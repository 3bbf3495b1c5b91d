"""Ticket search on the workbench: each filter (Chinese text too), bad input as field errors, the CSV and XLSX
exports of the same result, and bulk urge with a result per work order."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import openpyxl
import pytest
import shapely
from django.utils import translation

from callcenter.actions import do_create_ticket
from callcenter.models import Ticket
from core import clock
from dispatch.models import StageClock, TimelineEntry, WorkOrder
from dispatch.workbench import exports
from gis.actions import do_import_layer
from gis.importer import Feature, PreparedLayer
from gis.models import Level
from tests.conftest import World, ticket_payload
from tests.dispatch.workbench_scene import CST, LATER, Scene, build_scene

pytestmark = pytest.mark.django_db
SEARCH = "/api/search/tickets/"


@pytest.fixture
def scene(world: World) -> Scene:
    return build_scene(world)


def found(world: World, who: str, **params: Any) -> set[str]:
    response = world.client(who).get(SEARCH, {"limit": 200, **params})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"])
    return {row["ticket"]["number"] for row in body["results"]}


def numbers(scene: Scene, *keys: str) -> set[str]:
    return {scene.tickets[key].number for key in keys}


def errors(world: World, who: str, status: int = 400, **params: Any) -> dict[str, Any]:
    response = world.client(who).get(SEARCH, params)
    assert response.status_code == status, response.content
    return dict(response.json()["fields"])


def test_each_filter(world: World, scene: Scene) -> None:
    everything = set(Ticket.objects.values_list("number", flat=True))
    with clock.pinned_at(LATER):
        assert found(world, "dispatcher") == everything
        assert found(world, "dispatcher", number=scene.tickets["returned"].number) == numbers(scene, "returned")
        assert found(world, "dispatcher", number=scene.tickets["returned"].number[:-1]) == set()
        # phone: any way a person types it, normalised; merged callers count too
        for typed in ("13900000001", "139 0000 0001", "+86 139-0000-0001"):
            assert found(world, "dispatcher", phone=typed) == numbers(scene, "accepted")
        # text: Chinese substrings of title, description or address; every word must occur
        assert found(world, "dispatcher", text="路灯") == numbers(scene, "accepted")
        assert found(world, "dispatcher", text="行人夜间") == numbers(scene, "accepted")
        assert found(world, "dispatcher", text="文惠路88号") == numbers(scene, "accepted")
        assert found(world, "dispatcher", text="路灯  文惠路") == numbers(scene, "accepted")
        assert found(world, "dispatcher", text="路灯 电梯") == set()
        assert found(world, "dispatcher", text="垃圾") == numbers(scene, "to_sign", "replied", "sent_back", "revisit")
        # subject, with the subjects below it
        assert found(world, "dispatcher", subject="t-vendors") == numbers(scene, "accepted", "handling")
        assert found(world, "dispatcher", subject="t-housing") == numbers(scene, "returned", "shared")
        assert found(world, "dispatcher", subject="t-urban") == everything
        # agency: a work order of it (even a returned one)
        assert found(world, "dispatcher", agency="zjj") == numbers(scene, "returned", "shared")
        assert found(world, "dispatcher", agency="sjj") == set()
        assert found(world, "dispatcher", state="returned") == numbers(scene, "returned")
        assert found(world, "dispatcher", urgency="urgent") == numbers(scene, "accepted")
        assert found(world, "dispatcher", channel="web") == numbers(scene, "accepted")
        # accepted between: the late ticket came on Thursday
        since = dt.datetime(2026, 3, 4, tzinfo=CST).isoformat()
        assert found(world, "dispatcher", created_since=since) == numbers(scene, "late")
        assert found(world, "dispatcher", created_until=since) == everything - numbers(scene, "late")
        assert found(world, "dispatcher", created_since=since, created_until=since) == set()
        # overdue: a running clock past due now
        late = set(
            StageClock.objects.filter(stopped_at__isnull=True, due_at__lt=LATER).values_list(
                "ticket__number", flat=True
            )
        )
        assert late and found(world, "dispatcher", overdue="true") == late
        assert found(world, "dispatcher", overdue="false") == everything - late
        # all together
        assert found(world, "dispatcher", text="垃圾", agency="cgj", state="in_progress") == numbers(scene, "sent_back")


def test_an_unencoded_plus_in_the_offset_is_read_as_intended(world: World, scene: Scene) -> None:
    response = world.client("dispatcher").get(SEARCH + "?created_since=2026-03-04T00:00:00+08:00")
    assert response.status_code == 200
    assert {r["ticket"]["number"] for r in response.json()["results"]} == numbers(scene, "late")


def test_the_district_of_the_placement(world: World, scene: Scene) -> None:
    area = PreparedLayer(
        [Feature("D1", "城中区", shapely.box(109.40, 24.30, 109.42, 24.32), "")], "EPSG:4326", {}
    )  # the payload's point lies inside
    do_import_layer(area, level=Level.DISTRICT, name="test districts", source="test")
    placed, _created = do_create_ticket(ticket_payload(phone="13900000010"), actor=world.users["operator"])
    assert found(world, "dispatcher", district="D1") == {placed.number}
    assert found(world, "dispatcher", district="D2") == set()
    row = world.client("dispatcher").get(SEARCH, {"district": "D1"}).json()["results"][0]
    assert row["district"] == {"code": "D1", "name": "城中区"}


def test_bad_filters_answer_field_errors(world: World, scene: Scene) -> None:
    naive = errors(world, "dispatcher", created_since="2026-03-04T00:00:00")
    assert list(naive) == ["created_since"]
    assert "+08:00" in naive["created_since"][0]  # it says how to give the zone
    assert list(errors(world, "dispatcher", created_until="2026-03-04 08:00")) == ["created_until"]
    assert list(errors(world, "dispatcher", created_since="yesterday")) == ["created_since"]
    later = "2026-03-05T00:00:00+08:00"
    assert list(errors(world, "dispatcher", created_since=later, created_until="2026-03-04T00:00:00+08:00")) == [
        "created_until"
    ]
    assert list(errors(world, "dispatcher", phone="12")) == ["phone"]
    assert list(errors(world, "dispatcher", subject="no-such-subject")) == ["subject"]
    assert list(errors(world, "dispatcher", agency="no-such-agency")) == ["agency"]
    assert set(errors(world, "dispatcher", state="nonsense", urgency="x", channel="y", overdue="maybe")) == {
        "state",
        "urgency",
        "channel",
        "overdue",
    }
    assert list(errors(world, "dispatcher", text="长" * 101)) == ["text"]
    assert list(errors(world, "dispatcher", text="路\x00灯", number="\x00")) == ["number", "text"]
    # agencies may not search by phone at all: 403 naming the field
    assert list(errors(world, "handler_a", status=403, phone="13900000002")) == ["phone"]
    # empty parameters are no filter
    assert found(world, "dispatcher", number="", phone=" ", overdue="") == set(
        Ticket.objects.values_list("number", flat=True)
    )


def test_pagination(world: World, scene: Scene) -> None:
    client = world.client("dispatcher")
    first = client.get(SEARCH, {"limit": 4}).json()
    rest = client.get(SEARCH, {"limit": 4, "offset": 4}).json()
    assert first["count"] == Ticket.objects.count() == 10
    seen = [r["ticket"]["number"] for r in first["results"] + rest["results"]]
    assert len(seen) == 8 and len(set(seen)) == 8
    created = [r["ticket"]["created_at"] for r in first["results"]]
    assert created == sorted(created, reverse=True)  # newest first


# --- exports -------------------------------------------------------------------------------------------


def _csv(world: World, who: str, **params: Any) -> list[list[str]]:
    response = world.client(who).get(SEARCH + "export.csv", params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="tickets-' in response["Content-Disposition"]
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _xlsx(world: World, who: str, **params: Any) -> list[list[Any]]:
    response = world.client(who).get(SEARCH + "export.xlsx", params)
    assert response.status_code == 200, response.content
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


def test_exports_hold_the_search_with_chinese_headers(world: World, scene: Scene) -> None:
    with translation.override("zh-hans"):
        expected_headers = exports.headers()
    assert expected_headers[:4] == ["工单", "受理时间", "状态", "紧急程度"]
    with clock.pinned_at(LATER):
        for rows in (_csv(world, "dispatcher", text="垃圾"), _xlsx(world, "dispatcher", text="垃圾")):
            assert rows[0] == expected_headers
            assert {row[0] for row in rows[1:]} == numbers(scene, "to_sign", "replied", "sent_back", "revisit")
            by_number = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
            to_sign = by_number[scene.tickets["to_sign"].number]
            assert to_sign["来电号码"] == "13900000002"  # the centre sees the whole number
            assert to_sign["状态"] == "已派单" and to_sign["诉求分类"].endswith("垃圾清运")
            assert to_sign["承办单位"].startswith("市城管局") and to_sign["环节"] == "签收"
            assert to_sign["受理时间"] == "2026-03-02 09:30" and to_sign["时限"] == "2026-03-04 00:00"
            assert to_sign["级别"] and to_sign[expected_headers[15]] == "是"  # overdue: yes
        accepted = _csv(world, "dispatcher", number=scene.tickets["accepted"].number)
        assert len(accepted) == 2 and accepted[1][13:16] == ["", "", ""]  # no clock runs


def test_an_export_is_capped_with_a_note(world: World, scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "EXPORT_LIMIT", 3)
    response = world.client("dispatcher").get(SEARCH + "export.csv")
    assert response["X-Total-Count"] == "10" and response["X-Exported-Count"] == "3"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 1 + 3 + 1
    newest = list(Ticket.objects.order_by("-created_at", "-id").values_list("number", flat=True)[:3])
    assert [row[0] for row in rows[1:4]] == newest
    assert "3" in rows[-1][0] and "10" in rows[-1][0] and all(cell == "" for cell in rows[-1][1:])
    sheet = _xlsx(world, "dispatcher")
    assert len(sheet) == 5 and "10" in sheet[-1][0]


def test_a_bad_export_answers_json_field_errors(world: World, scene: Scene) -> None:
    response = world.client("dispatcher").get(SEARCH + "export.xlsx", {"created_since": "2026-03-04T00:00"})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["created_since"]


# --- bulk urge -----------------------------------------------------------------------------------------


def test_bulk_urge_reports_each_work_order(world: World, scene: Scene) -> None:
    wos = scene.work_orders
    ids = [wos["to_sign"].pk, wos["handling"].pk, wos["replied"].pk, 987654, wos["to_sign"].pk]
    with clock.pinned_at(LATER):
        response = world.client("dispatcher").post(
            "/api/search/bulk-urge/", {"work_order_ids": ids, "note": "请加快办理"}, format="json"
        )
    assert response.status_code == 200, response.content
    body = response.json()
    results = {r["id"]: r for r in body["results"]}
    assert len(body["results"]) == 4 and body["urged"] == 2 and body["refused"] == 2
    assert results[wos["to_sign"].pk]["ok"] and results[wos["to_sign"].pk]["urge_count"] == 1
    assert results[wos["handling"].pk]["ok"]
    assert results[wos["replied"].pk]["code"] == "transition_not_allowed"  # the workflow table: not when replied
    assert results[987654]["code"] == "not_found"
    assert WorkOrder.objects.get(pk=wos["to_sign"].pk).urge_count == 1
    assert WorkOrder.objects.get(pk=wos["replied"].pk).urge_count == 0
    urges = TimelineEntry.objects.filter(action="urge")
    assert sorted(urges.values_list("work_order_id", flat=True)) == sorted([wos["to_sign"].pk, wos["handling"].pk])
    assert set(urges.values_list("note", flat=True)) == {"请加快办理"}


def test_bulk_urge_checks_input_and_roles(world: World, scene: Scene) -> None:
    client = world.client("dispatcher")
    bad = client.post("/api/search/bulk-urge/", {"work_order_ids": [], "note": " "}, format="json")
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"work_order_ids", "note"}
    for ids in (["1"], [True], [0], [2**70], "1,2", list(range(1, 300))):
        response = client.post("/api/search/bulk-urge/", {"work_order_ids": ids, "note": "快"}, format="json")
        assert response.status_code == 400 and list(response.json()["fields"]) == ["work_order_ids"], ids
    assert client.post("/api/search/bulk-urge/", [1, 2], format="json").status_code == 400
    nul = client.post("/api/search/bulk-urge/", {"work_order_ids": [1], "note": "催\x00办"}, format="json")
    assert nul.status_code == 400 and list(nul.json()["fields"]) == ["note"]
    # an agency may not urge: its own work order is refused by the table, another agency's does not exist for it
    own, other = scene.work_orders["to_sign"].pk, scene.work_orders["shared"].pk
    answer = world.client("handler_a").post(
        "/api/search/bulk-urge/", {"work_order_ids": [own, other], "note": "催"}, format="json"
    )
    assert answer.status_code == 200
    results = {r["id"]: r for r in answer.json()["results"]}
    assert results[own]["code"] == "permission_denied" and results[other]["code"] == "not_found"
    assert "number" not in results[other]
    assert not TimelineEntry.objects.filter(action="urge").exists()
