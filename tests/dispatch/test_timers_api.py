"""The API of the working calendar, SLA policies and a work order's timers: access rules, field errors."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from callcenter.actions import do_create_ticket
from core import clock
from dispatch.actions import do_dispatch_ticket
from dispatch.deadlines.escalations import fire_due_timers
from dispatch.models import CalendarDay, SlaPolicy, WorkOrder
from organisation.models import Subject
from tests.conftest import World, ticket_payload

pytestmark = pytest.mark.django_db
CST = ZoneInfo("Asia/Shanghai")


def test_calendar_of_a_year_lists_official_and_overridden_days(world: World) -> None:
    client = world.client("handler_a")
    body = client.get("/api/calendar/days/?year=2026").json()
    assert body["known"] is True and body["published_in_database"] is False
    days = {d["date"]: d for d in body["days"]}
    assert days["2026-02-14"] == {
        "date": "2026-02-14",
        "is_working_day": True,
        "name": "春节",  # chinesecalendar's name, in the request's language
        "source": "official",
    }
    assert days["2026-10-10"]["is_working_day"] is True and days["2026-10-01"]["is_working_day"] is False
    assert "2026-03-09" not in days  # an ordinary Monday
    unpublished = client.get("/api/calendar/days/?year=2027", HTTP_ACCEPT_LANGUAGE="en").json()
    assert (unpublished["known"], unpublished["provisional"]) == (False, True)
    provisional = {d["date"]: (d["name"], d["source"]) for d in unpublished["days"]}
    assert provisional["2027-02-08"] == ("Spring Festival", "provisional")  # 初三, a Monday
    assert "2027-02-06" not in provisional  # a Saturday already: nothing differs from the week
    bad = client.get("/api/calendar/days/?year=abc")
    assert bad.status_code == 400 and "year" in bad.json()["fields"]


def test_only_administrators_change_the_calendar(world: World) -> None:
    body = {"date": "2026-03-09", "is_working_day": False, "name": "closure"}
    for who in ("dispatcher", "supervisor", "handler_a"):
        assert world.client(who).post("/api/calendar/days/", body, format="json").status_code == 403
    assert not CalendarDay.objects.exists()
    admin = world.client("admin")
    created = admin.post("/api/calendar/days/", body, format="json")
    assert created.status_code == 201, created.content
    days = {d["date"]: d for d in admin.get("/api/calendar/days/?year=2026").json()["days"]}
    assert days["2026-03-09"]["source"] == "database" and days["2026-03-09"]["is_working_day"] is False
    changed = admin.put("/api/calendar/days/2026-03-09/", {**body, "is_working_day": True}, format="json")
    assert changed.status_code == 200 and CalendarDay.objects.get().is_working_day is True
    mismatch = admin.put("/api/calendar/days/2026-03-10/", body, format="json")
    assert mismatch.status_code == 400 and "date" in mismatch.json()["fields"]
    assert admin.delete("/api/calendar/days/2026-03-09/").status_code == 204
    assert admin.delete("/api/calendar/days/2026-03-09/").status_code == 404
    for broken in ({"date": "2026-13-01", "is_working_day": True}, {"date": "2026-03-09"}, {"is_working_day": "x"}):
        response = admin.post("/api/calendar/days/", broken, format="json")
        assert response.status_code == 400 and response.json()["fields"], broken
    assert not CalendarDay.objects.exists()


def test_publishing_a_year_makes_it_known(world: World) -> None:
    admin = world.client("admin")
    body = {
        "year": 2027,
        "holidays": [{"date": "2027-01-01", "name": "元旦"}],
        "working_days": [{"date": "2027-01-09", "name": "调休"}],
    }
    assert world.client("supervisor").post("/api/calendar/years/", body, format="json").status_code == 403
    published = admin.post("/api/calendar/years/", body, format="json")
    assert published.status_code == 201, published.content
    assert published.json()["known"] is True
    assert [d["date"] for d in published.json()["days"]] == ["2027-01-01", "2027-01-09"]
    wrong_year = admin.post("/api/calendar/years/", {"year": 2028, "holidays": [{"date": "2027-05-01"}]}, format="json")
    assert wrong_year.status_code == 400 and "holidays" in wrong_year.json()["fields"]
    assert admin.delete("/api/calendar/years/2027/").status_code == 204
    assert admin.get("/api/calendar/days/?year=2027").json()["known"] is False


def test_working_hours_are_set_by_administrators_and_validated(world: World) -> None:
    admin = world.client("admin")
    assert admin.get("/api/calendar/working-hours/").json() == {"periods": []}
    for broken in ([["12:00", "08:30"]], [["08:30", "12:00"], ["11:00", "13:00"]], [["8h", "12:00"]], "x"):
        response = admin.put("/api/calendar/working-hours/", {"periods": broken}, format="json")
        assert response.status_code == 400, broken
    office = [["08:30", "12:00"], ["14:30", "18:00"]]
    assert (
        world.client("handler_a").put("/api/calendar/working-hours/", {"periods": office}, format="json").status_code
        == 403
    )
    response = admin.put("/api/calendar/working-hours/", {"periods": office}, format="json")
    assert response.status_code == 200 and response.json() == {"periods": office}


def test_sla_policies_read_by_all_edited_by_administrators(world: World) -> None:
    garbage = Subject.objects.get(code="t-garbage").pk
    body = {"subject": garbage, "urgency": "normal", "handle_limit": "10wd", "warning_lead": "4h"}
    assert world.client("dispatcher").post("/api/sla-policies/", body, format="json").status_code == 403
    admin = world.client("admin")
    created = admin.post("/api/sla-policies/", body, format="json")
    assert created.status_code == 201, created.content
    policy_id = created.json()["id"]
    listed = world.client("handler_a").get("/api/sla-policies/").json()
    assert [(p["id"], p["handle_limit"], p["warning_lead"]) for p in listed] == [(policy_id, "10wd", "4h")]
    for broken, field in (
        ({**body, "handle_limit": "ten days"}, "handle_limit"),
        ({**body, "urgency": "whenever"}, "urgency"),
        ({**body, "warning_fraction": 1.5}, "warning_fraction"),
        ({**body, "warning_lead": "1wd"}, "warning_lead"),
        ({**body, "subject": 999999}, "subject_id"),
        ({**body, "colour": "red"}, "colour"),
    ):
        response = admin.put(f"/api/sla-policies/{policy_id}/", broken, format="json")
        assert response.status_code == 400 and field in response.json()["fields"], (broken, response.content)
    assert SlaPolicy.objects.get().handle_limit == "10wd"
    replaced = admin.put(f"/api/sla-policies/{policy_id}/", {**body, "handle_limit": "7wd"}, format="json")
    assert replaced.status_code == 200 and replaced.json()["handle_limit"] == "7wd"
    assert admin.delete(f"/api/sla-policies/{policy_id}/").status_code == 204
    assert admin.get(f"/api/sla-policies/{policy_id}/").status_code == 404


def test_timers_of_a_work_order_follow_its_visibility_and_show_the_escalation_level(world: World) -> None:
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=CST)
    with clock.pinned_at(start):
        ticket, _created = do_create_ticket(ticket_payload(), actor=world.users["operator"])
        do_dispatch_ticket(
            ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk, override_reason="test"
        )
    work_order = WorkOrder.objects.get(ticket=ticket)
    url = f"/api/work-orders/{work_order.pk}/timers/"
    assert world.client("handler_b").get(url).status_code == 404
    body = world.client("handler_a").get(url).json()
    assert body["escalation_level"] is None
    [sign] = body["clocks"]
    assert sign["stage"] == "sign" and sign["time_limit"] == "1wd"
    assert [(t["level"], t["outcome"]) for t in sign["timers"]] == [("warning", ""), ("overdue", "")]
    with clock.pinned_at(dt.datetime(2026, 3, 4, 0, 0, tzinfo=CST)):
        fire_due_timers()
    body = world.client("supervisor").get(url).json()
    assert body["escalation_level"] == "overdue"
    assert [e["level"] for e in body["clocks"][0]["escalations"]] == ["warning", "overdue"]
    # The yellow card's timer row is re-armed as the red card's: the fired yellow card is its escalation.
    assert [(t["level"], t["outcome"], t["done_at"] is None) for t in body["clocks"][0]["timers"]] == [
        ("warning", "fired", False),
        ("serious", "", True),
    ]
    detail = world.client("handler_a").get(f"/api/work-orders/{work_order.pk}/").json()
    assert detail["escalation_level"] == "overdue"
    listed = world.client("handler_a").get("/api/work-orders/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["escalation_level"] for row in rows if row["id"] == work_order.pk] == ["overdue"]
