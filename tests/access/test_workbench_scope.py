"""The workbench never shows an agency another agency's tickets or work orders, nor a caller's whole number:
not in its queues, its search, its exports or bulk urge. The centre sees everything, numbers in full."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import openpyxl
import pytest

from core import clock
from dispatch.access import visible_tickets, visible_work_orders
from tests.conftest import World
from tests.dispatch.workbench_scene import LATER, Scene, build_scene

pytestmark = pytest.mark.django_db
MASKED = re.compile(r"^\d{3}\*+\d{4}$")
AGENCY_USERS = ("handler_a", "agencyadmin_a", "handler_b", "handler_c")


@pytest.fixture
def scene(world: World) -> Scene:
    return build_scene(world)


def _all_pages(client: Any, url: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        body = client.get(url, {**params, "limit": 3, "offset": offset}).json()
        rows += body["results"]
        offset += 3
        if offset >= body["count"]:
            return rows


def _check_row(row: dict[str, Any], tickets: set[int], work_orders: set[int], agency_id: int) -> None:
    assert row["ticket"]["id"] in tickets
    assert MASKED.match(row["ticket"]["caller_phone"]), row["ticket"]["caller_phone"]
    for wo in [row.get("work_order"), *row.get("work_orders", [])]:
        if wo is not None:
            assert wo["id"] in work_orders and wo["agency"]["id"] == agency_id
            assert wo["may_urge"] is False


def test_agency_queues_hold_only_their_own_work_masked(world: World, scene: Scene) -> None:
    with clock.pinned_at(LATER):
        for who in AGENCY_USERS:
            user = world.users[who]
            client = world.client(who)
            tickets = set(visible_tickets(user).values_list("pk", flat=True))
            work_orders = set(visible_work_orders(user).values_list("pk", flat=True))
            for queue in client.get("/api/queues/").json()["queues"]:
                rows = _all_pages(client, f"/api/queues/{queue['name']}/")
                assert len(rows) == queue["count"]
                for row in rows:
                    _check_row(row, tickets, work_orders, user.agency_id or 0)
                    if row["clock"]:
                        assert row["clock"]["stage"] in ("sign", "handle")  # not the centre's review or revisit
            for centre_queue in ("to_dispatch", "returned", "to_review", "to_revisit"):
                assert client.get(f"/api/queues/{centre_queue}/").status_code == 404


def test_agency_search_and_exports_stay_inside_their_scope(world: World, scene: Scene) -> None:
    other_agency_only = {scene.tickets[key].number for key in ("returned", "accepted")}
    shared = scene.tickets["shared"].number
    with clock.pinned_at(LATER):
        for who in AGENCY_USERS:
            user = world.users[who]
            client = world.client(who)
            visible = set(visible_tickets(user).values_list("number", flat=True))
            tickets = set(visible_tickets(user).values_list("pk", flat=True))
            work_orders = set(visible_work_orders(user).values_list("pk", flat=True))
            rows = _all_pages(client, "/api/search/tickets/")
            assert {row["ticket"]["number"] for row in rows} == visible
            for row in rows:
                _check_row(row, tickets, work_orders, user.agency_id or 0)
            # asking for another agency's ticket by number, its work, or its overdue clocks finds nothing
            for number in other_agency_only - visible:
                assert client.get("/api/search/tickets/", {"number": number}).json()["count"] == 0
            if who != "handler_b":
                assert client.get("/api/search/tickets/", {"agency": "zjj"}).json()["count"] == 0
            overdue = {r["ticket"]["number"] for r in _all_pages(client, "/api/search/tickets/", overdue="true")}
            assert overdue <= visible

            response = client.get("/api/search/tickets/export.csv")
            table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
            header = table[0]
            phone, agency = header.index("来电号码"), header.index("承办单位")
            assert {row[0] for row in table[1:]} == visible
            assert all(MASKED.match(row[phone]) for row in table[1:])
            sheet = openpyxl.load_workbook(io.BytesIO(client.get("/api/search/tickets/export.xlsx").content)).active
            assert sheet is not None
            cells = list(sheet.iter_rows(values_only=True))
            assert {row[0] for row in cells[1:]} == visible
            assert all(MASKED.match(str(row[phone])) for row in cells[1:])
            for line in table[1:]:
                if line[0] == shared and who.endswith("_a"):
                    assert "市住建局" not in line[agency] and "市城管局" in line[agency]


def test_the_centre_sees_every_ticket_and_whole_numbers(world: World, scene: Scene) -> None:
    client = world.client("dispatcher")
    rows = _all_pages(client, "/api/search/tickets/")
    assert len(rows) == len(scene.tickets)
    assert all(row["ticket"]["caller_phone"].startswith("+86139") for row in rows)
    shared = next(row for row in rows if row["ticket"]["number"] == scene.tickets["shared"].number)
    assert {wo["agency"]["code"] for wo in shared["work_orders"]} == {"cgj", "zjj"}
    assert all(wo["may_urge"] for wo in shared["work_orders"])  # pending sign-off: the dispatcher may urge


def test_bulk_urge_never_touches_another_agencys_work(world: World, scene: Scene) -> None:
    theirs = scene.work_orders["shared"].pk  # agency B's lead work order
    answer = world.client("handler_a").post(
        "/api/search/bulk-urge/", {"work_order_ids": [theirs], "note": "催"}, format="json"
    )
    assert answer.json()["results"] == [{"id": theirs, "ok": False, "code": "not_found", "message": "未找到。"}]
