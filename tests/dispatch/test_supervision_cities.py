"""Two cities side by side on the e-supervision board: each city's supervisor reads its own cards, cases,
reprimands, KPIs, ranking, drill-down, trend and exports; another city's agency as a filter is a foreign object
(404); a supervisor named to no city reads both."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from callcenter import actions as intake
from callcenter.models import Ticket
from core import clock
from dispatch import actions as dispatching
from dispatch.deadlines.escalations import fire_due_timers
from dispatch.models import StageClock, WorkOrder
from organisation.actions import do_save_city, do_upsert_agency, do_upsert_user
from organisation.models import Agency, City, Role, User
from tests.conftest import World, ticket_payload
from tests.dispatch.supervision_data import AS_OF, ZONE, at
from tests.second_factor import verified_login

PERIOD_QUERY = "from=2026-03-02&to=2026-03-07"


@dataclass
class TwoCities:
    world: World
    guilin_agency: Agency
    users: dict[str, User]
    tickets: dict[str, Ticket]
    work_orders: dict[str, WorkOrder]

    def get(self, who: str, url: str, status: int = 200) -> Any:
        client = APIClient()
        client.force_authenticate(self.users[who])
        with clock.pinned_at(AS_OF):
            response = client.get(url)
        assert response.status_code == status, (who, url, response.content[:300])
        return response


def _open_ticket(operator: User, dispatcher: User, supervisor: User, agency: Agency, **payload: Any) -> Ticket:
    """A ticket dispatched on 2 March and never signed (red by AS_OF), with a supervision case on its work order."""
    with clock.pinned_at(at(2, 9)):
        ticket, _created = intake.do_create_ticket(ticket_payload(**payload), actor=operator)
        dispatching.do_dispatch_ticket(
            ticket.pk, actor=dispatcher, lead_agency_id=agency.pk, override_reason="测试指定"
        )
        dispatching.do_supervise_work_order(ticket.work_orders.get().pk, actor=supervisor, instruction="尽快签收")
    return ticket


@pytest.fixture
def cities(world: World) -> TwoCities:
    # Liuzhou is created first: the default city, holding the world's agencies and staff (they name no city).
    liuzhou = do_save_city(City(code="liuzhou", name="柳州市"), actor=None, changed=["code"])
    guilin = do_save_city(City(code="guilin", name="桂林市", name_en="Guilin"), actor=None, changed=["code"])
    do_upsert_agency(code="gl-centre", name="桂林12345热线", kind="centre", function="hotline", city=guilin)
    guilin_agency = do_upsert_agency(
        code="gl-cgj", name="桂林市城管局", kind="department", function="urban_management", city=guilin
    )
    users = dict(world.users)
    for name, roles in (
        ("gl-operator", [Role.OPERATOR]),
        ("gl-dispatcher", [Role.DISPATCHER]),
        ("gl-supervisor", [Role.SUPERVISOR]),
    ):
        users[name] = do_upsert_user(username=name, password=None, roles=roles, agency_code="gl-centre")
    users["lz-supervisor"] = do_upsert_user(
        username="lz-supervisor", password=None, roles=[Role.SUPERVISOR], agency_code="centre"
    )
    users["lz-supervisor"].city = liuzhou
    users["lz-supervisor"].save(update_fields=["city"])
    assert users["gl-supervisor"].home_city_id == guilin.pk and users["supervisor"].home_city_id is None

    tickets = {
        "liuzhou": _open_ticket(
            users["operator"], users["dispatcher"], users["supervisor"], world.agency_a, phone="13812340001"
        ),
        "guilin": _open_ticket(
            users["gl-operator"],
            users["gl-dispatcher"],
            users["gl-supervisor"],
            guilin_agency,
            # No map location (this test loads no Guilin layer): the ticket is the accepting centre's, Guilin's.
            phone="13812340002",
            address="桂林市秀峰区中山中路1号",
            latitude=None,
            longitude=None,
        ),
    }
    assert tickets["liuzhou"].city_id in (None, liuzhou.pk) and tickets["guilin"].city_id == guilin.pk
    # A ticket from before cities names none: it belongs to the default city (Liuzhou).
    Ticket.objects.filter(pk=tickets["liuzhou"].pk).update(city=None)
    # Guilin alone has a deadline on the provisional calendar: dispatched on New Year's Eve, its sign clock runs
    # into 2027, whose holidays are not published.
    with clock.pinned_at(dt.datetime(2026, 12, 31, 10, 0, tzinfo=ZONE)):
        late, _created = intake.do_create_ticket(
            ticket_payload(phone="13812340003", latitude=None, longitude=None), actor=users["gl-operator"]
        )
        dispatching.do_dispatch_ticket(
            late.pk, actor=users["gl-dispatcher"], lead_agency_id=guilin_agency.pk, override_reason="测试指定"
        )
    assert StageClock.objects.get(ticket=late, stage="sign").due_provisional
    fire_due_timers(now=AS_OF)  # red cards, and the reprimand list, for both never-signed work orders
    work_orders = {city: ticket.work_orders.get() for city, ticket in tickets.items()}
    return TwoCities(world, guilin_agency, users, tickets, work_orders)


def _cards(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [card for key in ("red", "yellow", "warning") for card in body[key]]


def _csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.mark.parametrize(("who", "city"), [("gl-supervisor", "guilin"), ("lz-supervisor", "liuzhou")])
def test_each_city_reads_only_its_own_live_lists(cities: TwoCities, who: str, city: str) -> None:
    ticket, work_order = cities.tickets[city], cities.work_orders[city]
    body = cities.get(who, "/api/supervision/escalations/").json()
    assert body["red"] and {card["ticket_id"] for card in _cards(body)} == {ticket.pk}
    assert {row["agency_id"] for row in body["by_agency_stage"]} == {work_order.agency_id}
    assert [case["work_order_id"] for case in body["cases"]] == [work_order.pk]
    assert body["reprimands"] and {entry["agency"]["id"] for entry in body["reprimands"]} == {work_order.agency_id}
    assert body["provisional_deadlines"] == (
        {"count": 1, "years": [2027]} if city == "guilin" else {"count": 0, "years": []}
    )

    # The ticket's number in the cards' fifth column, the work order's in the second of cases and reprimands.
    for table, column, number in (
        ("escalations", 4, ticket.number),
        ("cases", 1, work_order.number),
        ("reprimands", 1, work_order.number),
    ):
        rows = _csv(cities.get(who, f"/api/supervision/export/{table}.csv"))[1:]
        assert rows and {row[column] for row in rows} == {number}, table


@pytest.mark.parametrize(("who", "city"), [("gl-supervisor", "guilin"), ("lz-supervisor", "liuzhou")])
def test_each_city_reads_only_its_own_agencies_figures(cities: TwoCities, who: str, city: str) -> None:
    work_order = cities.work_orders[city]
    code = work_order.agency.code
    kpis = cities.get(who, f"/api/supervision/kpis/?{PERIOD_QUERY}&min_volume=0").json()
    assert [row["agency"]["code"] for row in kpis["agencies"]] == [code]
    assert [entry["agency"]["code"] for entry in kpis["ranking"]["ranking"]] == [code]
    ranking = cities.get(who, f"/api/supervision/ranking/?{PERIOD_QUERY}").json()
    assert [entry["code"] for entry in ranking["excluded"]] == [code]  # below the default minimum volume
    drill = cities.get(who, f"/api/supervision/kpis/drilldown/?{PERIOD_QUERY}&metric=volume").json()
    assert [item["work_order_id"] for item in drill["items"]] == [work_order.pk]
    days = cities.get(who, f"/api/supervision/trend/?{PERIOD_QUERY}").json()["days"]
    assert [day["volume"] for day in days] == [1, 0, 0, 0, 0]

    exports = {
        "kpis": (PERIOD_QUERY, 0, code),
        "ranking": (f"{PERIOD_QUERY}&min_volume=0", 1, code),
        "drilldown": (f"{PERIOD_QUERY}&metric=volume", 0, work_order.number),
        "trend": (PERIOD_QUERY, 1, None),
    }
    for table, (query, column, expected) in exports.items():
        rows = _csv(cities.get(who, f"/api/supervision/export/{table}.csv?{query}"))[1:]
        if expected is None:
            assert [row[column] for row in rows] == ["1", "0", "0", "0", "0"], table
        else:
            assert [row[column] for row in rows] == [expected], table


def test_a_supervisor_named_to_no_city_reads_both(cities: TwoCities) -> None:
    both_tickets = {ticket.pk for ticket in cities.tickets.values()}
    both_codes = ["cgj", "gl-cgj"]
    body = cities.get("supervisor", "/api/supervision/escalations/").json()
    assert {card["ticket_id"] for card in _cards(body)} == both_tickets
    assert {case["work_order_id"] for case in body["cases"]} == {wo.pk for wo in cities.work_orders.values()}
    assert sorted({entry["agency"]["code"] for entry in body["reprimands"]}) == both_codes
    assert body["provisional_deadlines"] == {"count": 1, "years": [2027]}
    kpis = cities.get("supervisor", f"/api/supervision/kpis/?{PERIOD_QUERY}&min_volume=0").json()
    assert sorted(row["agency"]["code"] for row in kpis["agencies"]) == both_codes
    assert sorted(entry["agency"]["code"] for entry in kpis["ranking"]["ranking"]) == both_codes
    drill = cities.get("supervisor", f"/api/supervision/kpis/drilldown/?{PERIOD_QUERY}&metric=volume").json()
    assert drill["count"] == 2
    days = cities.get("supervisor", f"/api/supervision/trend/?{PERIOD_QUERY}").json()["days"]
    assert days[0]["volume"] == 2
    # Naming either city's agency is fine for them.
    only = cities.get("supervisor", f"/api/supervision/kpis/?{PERIOD_QUERY}&agency={cities.guilin_agency.pk}")
    assert [row["agency"]["code"] for row in only.json()["agencies"]] == ["gl-cgj"]


@pytest.mark.parametrize(("who", "foreign"), [("gl-supervisor", "liuzhou"), ("lz-supervisor", "guilin")])
def test_another_citys_agency_as_a_filter_is_a_foreign_object(cities: TwoCities, who: str, foreign: str) -> None:
    agency = cities.work_orders[foreign].agency_id
    for url in (
        f"/api/supervision/kpis/?{PERIOD_QUERY}&agency={agency}",
        f"/api/supervision/kpis/drilldown/?{PERIOD_QUERY}&metric=volume&agency={agency}",
        f"/api/supervision/ranking/?{PERIOD_QUERY}&agency={agency}",
        f"/api/supervision/trend/?{PERIOD_QUERY}&agency={agency}",
        f"/api/supervision/escalations/?agency={agency}",
        f"/api/supervision/export/kpis.csv?{PERIOD_QUERY}&agency={agency}",
        f"/api/supervision/export/cases.xlsx?agency={agency}",
    ):
        cities.get(who, url, status=404)
    # An agency that does not exist at all stays bad input, naming the field.
    assert "agency" in cities.get(who, "/api/supervision/kpis/?agency=999999", status=400).json()["fields"]
    own = cities.work_orders["guilin" if foreign == "liuzhou" else "liuzhou"].agency_id
    assert cities.get(who, f"/api/supervision/escalations/?agency={own}").json()["red"]


def test_the_board_page_offers_only_the_viewers_citys_agencies(cities: TwoCities) -> None:
    def agency_codes(who: str) -> list[str]:
        browser = Client()
        verified_login(browser, cities.users[who])
        page = browser.get("/supervision/")
        assert page.status_code == 200
        return sorted(agency["code"] for agency in page.context["screen_config"]["agencies"])

    assert agency_codes("gl-supervisor") == ["gl-centre", "gl-cgj"]
    assert "gl-cgj" not in agency_codes("lz-supervisor")
    assert {"cgj", "gl-cgj"} <= set(agency_codes("supervisor"))


def test_the_workbench_counts_only_the_viewers_citys_deadlines(cities: TwoCities) -> None:
    """The workbench's overdue, yellow and red queues (running stage clocks) follow the viewer's city as its
    ticket queues do: Guilin's dispatcher never counts Liuzhou's red card, nor the other way round."""
    from dispatch.workbench.queues import counts, running_clocks

    guilin = set(Ticket.objects.filter(city__code="guilin").values_list("pk", flat=True))
    liuzhou = cities.tickets["liuzhou"].pk
    with clock.pinned_at(AS_OF):
        seen = {who: set(running_clocks(cities.users[who]).values_list("ticket_id", flat=True)) for who in cities.users}
        red = {who: {q["name"]: q["count"] for q in counts(cities.users[who])}.get("red") for who in cities.users}
    assert seen["gl-dispatcher"] and seen["gl-dispatcher"] <= guilin
    assert liuzhou in seen["lz-supervisor"] and not seen["lz-supervisor"] & guilin
    assert {liuzhou, *guilin} <= seen["supervisor"]  # named to no city: every city's
    assert (red["gl-dispatcher"], red["lz-supervisor"], red["supervisor"]) == (1, 1, 2)


def test_a_citys_centre_cannot_open_another_citys_files(cities: TwoCities, settings: Any, tmp_path: Any) -> None:
    """A file is read through the ticket it belongs to: Guilin's operator gets 404 for a Liuzhou ticket's photo, as
    for the ticket itself; Liuzhou's staff and staff named to no city open it."""
    from dispatch.attachments import actions as attach
    from tests.dispatch.test_attachments import png_with_text, upload

    settings.MEDIA_ROOT = str(tmp_path / "media")
    ticket = cities.tickets["liuzhou"]
    photo = upload("现场.png", png_with_text())
    attachment = attach.do_attach_to_ticket(ticket.pk, photo, actor=cities.users["operator"])
    for who, status in (("gl-operator", 404), ("gl-dispatcher", 404), ("lz-supervisor", 200), ("operator", 200)):
        cities.get(who, f"/api/attachments/{attachment.pk}/file/", status)
        listed = cities.get(who, f"/api/tickets/{ticket.pk}/attachments/", status)
        if status == 200:
            assert attachment.pk in {row["id"] for row in listed.json()}


def test_a_caller_history_holds_only_the_viewers_citys_tickets(cities: TwoCities) -> None:
    """The screen pop of one caller who called both cities: each city's centre reads its own tickets only."""
    Ticket.objects.filter(pk=cities.tickets["guilin"].pk).update(caller=cities.tickets["liuzhou"].caller)
    both = {cities.tickets["liuzhou"].pk, cities.tickets["guilin"].pk}

    def history(who: str) -> set[int]:
        client = APIClient()
        client.force_authenticate(cities.users[who])
        response = client.post("/api/callers/history/", {"phone": "13812340001"}, format="json")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["tickets"]} & both

    assert history("gl-dispatcher") == {cities.tickets["guilin"].pk}
    assert history("lz-supervisor") == {cities.tickets["liuzhou"].pk}
    assert history("supervisor") == both  # named to no city
