"""The e-supervision API and board page: numbers, drill-down, ranking, live lists, exports, access, bad input."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from rest_framework.test import APIClient

from callcenter import actions as intake
from core import clock
from dispatch import actions as dispatching
from dispatch.deadlines.escalations import fire_due_timers
from dispatch.models import Escalation, EscalationLevel, Stage
from dispatch.supervision.exports import Table, safe_cell, to_xlsx
from tests.conftest import World, ticket_payload
from tests.dispatch.supervision_data import AS_OF, Dataset, at, build
from tests.dispatch.test_kpis import A_MEMBERS, EXPECTED
from tests.second_factor import verified_login

PERIOD_QUERY = "from=2026-03-02&to=2026-03-07"
# The commander reads everything, the supervision board included.
READERS = ("supervisor", "auditor", "commander", "admin")
REFUSED = ("operator", "dispatcher", "handler_a", "agencyadmin_a", "nobody")


@pytest.fixture
def data(world: World) -> Dataset:
    return build(world)


def _get(world: World, who: str, url: str, status: int = 200, **headers: Any) -> Any:
    with clock.pinned_at(AS_OF):
        response = world.client(who).get(url, **headers)
    assert response.status_code == status, response.content[:500]
    return response


def test_kpis_endpoint_gives_every_figure_with_numerator_and_denominator(data: Dataset) -> None:
    body = _get(data.world, "supervisor", f"/api/supervision/kpis/?{PERIOD_QUERY}&min_volume=2").json()
    assert body["period"]["from"] == "2026-03-02" and body["period"]["to"] == "2026-03-07"
    rows = {row["agency"]["code"]: row for row in body["agencies"]}
    for code, expected in EXPECTED.items():
        assert {m: (rows[code][m]["numerator"], rows[code][m]["denominator"]) for m in expected} == expected
    assert [entry["agency"]["code"] for entry in body["ranking"]["ranking"]] == ["zjj", "cgj"]
    assert [entry["code"] for entry in body["ranking"]["excluded"]] == ["sjj"]
    assert {m["code"] for m in body["metrics"]} >= {"on_time_completion_rate", "average_handling_hours"}

    only_a = _get(data.world, "auditor", f"/api/supervision/kpis/?{PERIOD_QUERY}&agency={data.world.agency_a.pk}")
    assert [row["agency"]["code"] for row in only_a.json()["agencies"]] == ["cgj"]


def test_drilldown_endpoint_lists_exactly_the_counted_work_orders(data: Dataset) -> None:
    agency = data.world.agency_a.pk
    for metric, (numerator, denominator) in A_MEMBERS.items():
        for part, names in (("numerator", numerator), ("denominator", denominator)):
            body = _get(
                data.world,
                "supervisor",
                f"/api/supervision/kpis/drilldown/?{PERIOD_QUERY}&metric={metric}&agency={agency}&part={part}",
            ).json()
            assert [item["work_order_id"] for item in body["items"]] == data.wo_ids(*names), (metric, part)
            assert body["count"] == len(names) and body["unit"] == "work_order"
    tickets = _get(
        data.world,
        "auditor",
        f"/api/supervision/kpis/drilldown/?{PERIOD_QUERY}&metric=satisfaction_rate&agency={agency}&part=denominator",
    ).json()
    assert [item["ticket_id"] for item in tickets["items"]] == data.ticket_ids("T1", "T2", "T9")
    assert [item["latest_satisfaction"] for item in tickets["items"]] == [
        "satisfied",
        "basically_satisfied",
        "unsatisfied",
    ]


def test_ranking_minimum_volume_defaults_to_the_setting_and_is_overridable(data: Dataset, settings: Any) -> None:
    body = _get(data.world, "supervisor", f"/api/supervision/ranking/?{PERIOD_QUERY}").json()
    assert body["min_volume"] == 10 and body["ranking"] == []
    assert sorted(e["code"] for e in body["excluded"]) == ["cgj", "sjj", "zjj"]
    settings.HOTLINE = {**settings.HOTLINE, "SUPERVISION_MIN_VOLUME": 2}
    body = _get(data.world, "supervisor", f"/api/supervision/ranking/?{PERIOD_QUERY}").json()
    assert [(e["rank"], e["agency"]["code"]) for e in body["ranking"]] == [(1, "zjj"), (2, "cgj")]
    body = _get(data.world, "supervisor", f"/api/supervision/ranking/?{PERIOD_QUERY}&min_volume=0").json()
    assert [(e["rank"], e["agency"]["code"]) for e in body["ranking"]] == [(1, "sjj"), (1, "zjj"), (3, "cgj")]


def test_trend_endpoint(data: Dataset) -> None:
    days = _get(data.world, "supervisor", f"/api/supervision/trend/?{PERIOD_QUERY}").json()["days"]
    assert [d["volume"] for d in days] == [8, 2, 0, 0, 0]


def test_live_lists_show_running_clocks_at_their_highest_level(data: Dataset) -> None:
    fire_due_timers(now=AS_OF)
    body = _get(data.world, "supervisor", "/api/supervision/escalations/").json()
    # Still running and long overdue at AS_OF: WO4's handling clock, WO5's and WO8's sign clocks (the board's
    # lists are not limited to a period). Everything else stopped (late or not): no card on the live board.
    red = {(item["work_order_id"], item["stage"]) for item in body["red"]}
    assert red == {
        (data.work_orders["WO4"].pk, Stage.HANDLE),
        (data.work_orders["WO5"].pk, Stage.SIGN),
        (data.work_orders["WO8"].pk, Stage.SIGN),
    }
    live_ids = {item["id"] for key in ("red", "yellow", "warning") for item in body[key]}
    fired_on_wo4 = Escalation.objects.filter(work_order=data.work_orders["WO4"], stage=Stage.HANDLE)
    assert set(fired_on_wo4.values_list("level", flat=True)) >= {EscalationLevel.OVERDUE, EscalationLevel.SERIOUS}
    assert live_ids & set(fired_on_wo4.values_list("pk", flat=True)) == {
        fired_on_wo4.get(level=EscalationLevel.SERIOUS).pk
    }
    assert {case["work_order_id"] for case in body["cases"]} >= {data.work_orders["WO4"].pk}
    assert {entry["agency"]["code"] for entry in body["reprimands"]} == {"cgj"}
    matrix = {(e["agency_id"], e["stage"], e["level"]): e["count"] for e in body["by_agency_stage"]}
    assert matrix[(data.world.agency_a.pk, "handle", "serious")] == 1

    # Signing WO5 stops its clock: its red card leaves the live list (the escalation row stays).
    with clock.pinned_at(AS_OF):
        dispatching.do_sign_work_order(data.work_orders["WO5"].pk, actor=data.world.users["handler_a"])
    body = _get(data.world, "supervisor", "/api/supervision/escalations/").json()
    assert {item["work_order_id"] for item in body["red"]} == {data.work_orders[n].pk for n in ("WO4", "WO8")}
    only_b = _get(data.world, "supervisor", f"/api/supervision/escalations/?agency={data.world.agency_b.pk}").json()
    assert only_b["red"] == [] and only_b["cases"] == [] and only_b["reprimands"] == []


# --- exports ---------------------------------------------------------------------------------------


def _csv(response: Any) -> list[list[str]]:
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel opens Chinese text correctly
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _xlsx(response: Any) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_kpi_export_parses_back_with_the_same_numbers(data: Dataset) -> None:
    url = f"/api/supervision/export/kpis.csv?{PERIOD_QUERY}"
    rows = _csv(_get(data.world, "supervisor", url, HTTP_ACCEPT_LANGUAGE="en"))
    header = rows[0]
    assert header[:3] == ["Agency code", "Agency", "Work orders"]
    by_code = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert by_code["cgj"]["On-time completion rate: numerator"] == "3"
    assert by_code["cgj"]["On-time completion rate: denominator"] == "5"
    assert by_code["cgj"]["On-time completion rate"] == "0.6"
    assert by_code["zjj"]["Work orders"] == "2"

    sheet = _xlsx(_get(data.world, "supervisor", f"/api/supervision/export/kpis.xlsx?{PERIOD_QUERY}"))
    assert sheet[0][1] not in (None, "Agency")  # headers in the default language (Chinese), not English
    xlsx_rows = {row[0]: dict(zip(sheet[0], row, strict=True)) for row in sheet[1:]}
    completion = sheet[0][header.index("On-time completion rate")]
    assert xlsx_rows["cgj"][completion] == 0.6
    assert xlsx_rows["cgj"][sheet[0][header.index("Response rate: numerator")]] == 6


def test_every_table_exports_in_both_formats(data: Dataset) -> None:
    fire_due_timers(now=AS_OF)
    agency = data.world.agency_a.pk
    queries = {
        "kpis": PERIOD_QUERY,
        "ranking": f"{PERIOD_QUERY}&min_volume=0",
        "trend": PERIOD_QUERY,
        "drilldown": f"{PERIOD_QUERY}&metric=on_time_sign_rate&agency={agency}&part=denominator",
        "escalations": "",
        "cases": "",
        "reprimands": "",
    }
    expected_rows = {"kpis": 3, "ranking": 3, "trend": 5, "drilldown": 6}
    for table, query in queries.items():
        csv_rows = _csv(_get(data.world, "auditor", f"/api/supervision/export/{table}.csv?{query}"))
        xlsx_rows = _xlsx(_get(data.world, "auditor", f"/api/supervision/export/{table}.xlsx?{query}"))
        assert len(csv_rows) == len(xlsx_rows) >= 1, table
        assert csv_rows[0] == [str(cell) for cell in xlsx_rows[0]], table
        if table in expected_rows:
            assert len(csv_rows) - 1 == expected_rows[table], table
    drill = _csv(_get(data.world, "auditor", f"/api/supervision/export/drilldown.csv?{queries['drilldown']}"))
    numbers = {row[0] for row in drill[1:]}
    assert numbers == {data.work_orders[n].number for n in ("WO1", "WO2", "WO3", "WO4", "WO5", "WO9")}


def test_exports_cannot_carry_a_formula(world: World) -> None:
    formula = '=HYPERLINK("http://evil.example","点我")'
    with clock.pinned_at(at(2, 9)):
        ticket, _ = intake.do_create_ticket(ticket_payload(title=formula), actor=world.users["operator"])
        dispatching.do_dispatch_ticket(
            ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk, override_reason="测试"
        )
        dispatching.do_supervise_work_order(
            ticket.work_orders.get().pk, actor=world.users["supervisor"], instruction=formula
        )
    cases_csv = _csv(_get(world, "supervisor", "/api/supervision/export/cases.csv"))
    assert cases_csv[1][3] == "'" + formula
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in cases_csv for cell in row)
    response = _get(world, "supervisor", "/api/supervision/export/cases.xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    cell = sheet.cell(row=2, column=4)
    assert cell.value == "'" + formula and cell.data_type == "s"

    table = Table("t", "t", ["=a", "+b"], [["-c", "@d", 5, -3, "\tx"]])
    sheet = load_workbook(io.BytesIO(to_xlsx(table))).active
    assert sheet is not None
    values = [value for row in sheet.iter_rows(values_only=True) for value in row if value is not None]
    assert values == ["'=a", "'+b", "'-c", "'@d", 5, -3, "'\tx"]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert safe_cell("正常文本") == "正常文本"


# --- access and bad input --------------------------------------------------------------------------

ENDPOINTS = [
    f"/api/supervision/kpis/?{PERIOD_QUERY}",
    f"/api/supervision/kpis/drilldown/?{PERIOD_QUERY}&metric=volume",
    f"/api/supervision/ranking/?{PERIOD_QUERY}",
    f"/api/supervision/trend/?{PERIOD_QUERY}",
    "/api/supervision/escalations/",
    f"/api/supervision/export/kpis.csv?{PERIOD_QUERY}",
    "/api/supervision/export/escalations.xlsx",
]


@pytest.mark.parametrize("who", READERS + REFUSED)
def test_only_supervisors_auditors_and_admins_read_the_board(world: World, who: str) -> None:
    allowed = who in READERS
    for url in ENDPOINTS:
        response = _get(world, who, url, status=200 if allowed else 403)
        if not allowed:
            assert response.json()["code"] == "permission_denied"
    browser = Client()
    verified_login(browser, world.users[who])
    page = browser.get("/supervision/")
    assert page.status_code == (200 if allowed else 403)
    if allowed:
        assert b"sv-kpi-table" in page.content
    home = browser.get("/").content.decode()
    assert ('href="/supervision/"' in home) == allowed


def test_anonymous_is_refused_and_the_page_asks_for_login(world: World) -> None:
    client = APIClient()
    for url in ENDPOINTS:
        assert client.get(url).status_code in (401, 403)
    page = client.get("/supervision/")
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/supervision/kpis/?from=2026-13-01", "from"),
        ("/api/supervision/kpis/?from=2026-03-07&to=2026-03-02", "to"),
        ("/api/supervision/kpis/?from=2025-01-01&to=2026-03-02", "to"),
        ("/api/supervision/kpis/?agency=999999", "agency"),
        ("/api/supervision/kpis/?agency=abc", "agency"),
        ("/api/supervision/kpis/?min_volume=-1", "min_volume"),
        ("/api/supervision/ranking/?by=volume", "by"),
        ("/api/supervision/kpis/drilldown/?metric=nope", "metric"),
        ("/api/supervision/kpis/drilldown/", "metric"),
        ("/api/supervision/kpis/drilldown/?metric=volume&part=half", "part"),
        ("/api/supervision/escalations/?agency=0", "agency"),
        ("/api/supervision/export/drilldown.csv?metric=x", "metric"),
        ("/api/supervision/export/kpis.xlsx?to=yesterday", "to"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(world: World, url: str, field: str) -> None:
    body = _get(world, "supervisor", url, status=400).json()
    assert body["code"] == "invalid_input" and field in body["fields"], body


def test_unknown_export_table_or_format_is_404(world: World) -> None:
    _get(world, "supervisor", "/api/supervision/export/users.csv", status=404)
    _get(world, "supervisor", "/api/supervision/export/kpis.pdf", status=404)


def test_schema_documents_the_supervision_endpoints(world: World) -> None:
    paths = _get(world, "supervisor", "/api/schema/?format=json").json()["paths"]
    for path in (
        "/api/supervision/kpis/",
        "/api/supervision/kpis/drilldown/",
        "/api/supervision/ranking/",
        "/api/supervision/escalations/",
        "/api/supervision/trend/",
    ):
        assert path in paths, path
    names = {p["name"] for p in paths["/api/supervision/kpis/drilldown/"]["get"]["parameters"]}
    assert {"from", "to", "agency", "metric", "part"} <= names
    assert any(path.startswith("/api/supervision/export/") for path in paths)


def test_kpi_endpoint_query_count_is_flat_in_agencies(data: Dataset) -> None:
    calendar_tables = ("dispatch_calendarday", "dispatch_calendaryear", "dispatch_workingperiod")

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            _get(data.world, "supervisor", url)
        return len([q for q in captured.captured_queries if not any(t in q["sql"] for t in calendar_tables)])

    one = count(f"/api/supervision/kpis/?{PERIOD_QUERY}&agency={data.world.agency_b.pk}")
    everyone = count(f"/api/supervision/kpis/?{PERIOD_QUERY}")
    # All agencies add the ranking (one more KPI pass of three queries); the agency filter adds its check.
    assert everyone - one == 3 - 1


def test_live_lists_query_count_is_flat_in_cards(data: Dataset) -> None:
    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            body = _get(data.world, "supervisor", "/api/supervision/escalations/").json()
        return len(captured.captured_queries), len(body["red"]) + len(body["cases"]) + len(body["reprimands"])

    fire_due_timers(now=at(16, 12))  # only part of the ladder has fired by mid-March
    few_queries, few_cards = count()
    fire_due_timers(now=AS_OF)
    many_queries, many_cards = count()
    assert many_cards > few_cards
    assert many_queries == few_queries
