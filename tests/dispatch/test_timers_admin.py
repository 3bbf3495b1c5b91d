"""Admin pages of the calendar and SLA policies save through the actions (caches dropped, checks applied)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from core import clock
from dispatch.deadlines import calendar
from dispatch.models import CalendarDay, CalendarYear, SlaPolicy, WorkingPeriod
from tests.conftest import World, english_client
from tests.second_factor import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(world: World) -> Client:
    client = english_client()
    verified_login(client, world.users["admin"])
    return client


def test_every_timer_page_opens(admin_client: Client) -> None:
    for model in ("calendarday", "calendaryear", "workingperiod", "slapolicy", "timer", "escalation", "reprimand"):
        assert admin_client.get(f"/admin/dispatch/{model}/").status_code == 200, model
    for model in ("calendarday", "calendaryear", "workingperiod", "slapolicy"):
        assert admin_client.get(f"/admin/dispatch/{model}/add/").status_code == 200, model


def test_saving_a_day_in_the_admin_changes_working_days_at_once(admin_client: Client) -> None:
    assert calendar.is_working_day(dt.date(2026, 3, 9)) is True
    response = admin_client.post(
        "/admin/dispatch/calendarday/add/", {"date": "2026-03-09", "is_working_day": "", "name": "closure"}
    )
    assert response.status_code == 302, response.content
    assert CalendarDay.objects.get().is_working_day is False
    assert calendar.is_working_day(dt.date(2026, 3, 9)) is False


def test_publishing_a_year_and_office_hours_in_the_admin(admin_client: Client) -> None:
    assert admin_client.post("/admin/dispatch/calendaryear/add/", {"year": "2027", "note": ""}).status_code == 302
    assert CalendarYear.objects.filter(year=2027).exists() and calendar.year_is_official(2027)
    response = admin_client.post("/admin/dispatch/workingperiod/add/", {"start": "08:30", "end": "12:00"})
    assert response.status_code == 302
    assert list(WorkingPeriod.objects.values_list("start", "end")) == [(dt.time(8, 30), dt.time(12, 0))]


def test_an_sla_policy_with_a_bad_limit_is_refused_by_the_admin_form(admin_client: Client) -> None:
    form = {"name": "x", "urgency": "", "handle_limit": "ten days", "active": "on"}
    response = admin_client.post("/admin/dispatch/slapolicy/add/", form)
    assert response.status_code == 200 and b"A time limit like" in response.content
    assert not SlaPolicy.objects.exists()
    response = admin_client.post("/admin/dispatch/slapolicy/add/", {**form, "handle_limit": "10wd"})
    assert response.status_code == 302
    assert SlaPolicy.objects.get().handle_limit == "10wd"


def test_bulk_delete_in_the_admin_goes_through_the_actions(admin_client: Client) -> None:
    for date in ("2026-03-09", "2026-03-10"):
        admin_client.post("/admin/dispatch/calendarday/add/", {"date": date, "is_working_day": "", "name": "closure"})
    assert calendar.is_working_day(dt.date(2026, 3, 10)) is False
    days = [str(pk) for pk in CalendarDay.objects.values_list("pk", flat=True)]
    response = admin_client.post(
        "/admin/dispatch/calendarday/", {"action": "delete_selected", "_selected_action": days, "post": "yes"}
    )
    assert response.status_code == 302, response.content
    assert not CalendarDay.objects.exists()
    assert calendar.is_working_day(dt.date(2026, 3, 10)) is True  # the action dropped the cached calendar
    admin_client.post("/admin/dispatch/calendaryear/add/", {"year": "2027", "note": ""})
    years = [str(pk) for pk in CalendarYear.objects.filter(year=2027).values_list("pk", flat=True)]
    response = admin_client.post(
        "/admin/dispatch/calendaryear/", {"action": "delete_selected", "_selected_action": years, "post": "yes"}
    )
    assert response.status_code == 302, response.content
    assert not calendar.year_is_official(2027)


def test_the_publish_form_offers_the_next_unpublished_year_with_its_statutory_holidays(admin_client: Client) -> None:
    with clock.pinned_at(dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)):
        page = admin_client.get("/admin/dispatch/calendaryear/add/").content.decode()
    assert 'value="2027"' in page
    assert "2027-02-05 Spring Festival" in page and "2027-06-09 Dragon Boat Festival" in page


def test_publishing_a_year_in_the_admin_with_its_days_recomputes_provisional_deadlines(
    admin_client: Client, world: World
) -> None:
    from tests.dispatch.test_provisional_calendar import signed_on_new_years_eve

    sign = signed_on_new_years_eve(world)
    bad = {"year": "2027", "note": "", "holidays": "2027-01-01 元旦\n01/04/2027 元旦", "working_days": ""}
    with clock.pinned_at(dt.datetime(2027, 1, 1, 9, 0, tzinfo=dt.UTC)):
        response = admin_client.post("/admin/dispatch/calendaryear/add/", bad)
        assert response.status_code == 200 and b"Line 2: a date as YYYY-MM-DD" in response.content
        assert not CalendarYear.objects.exists()
        good = {**bad, "holidays": "2027-01-01 元旦\n2027-01-04 元旦", "working_days": "2027-01-09 调休"}
        response = admin_client.post("/admin/dispatch/calendaryear/add/", good, follow=True)
    assert b"1 open deadlines recomputed, 1 moved later, 0 kept" in response.content
    assert calendar.year_is_official(2027)
    assert CalendarDay.objects.get(date=dt.date(2027, 1, 9)).is_working_day
    sign.refresh_from_db()
    assert not sign.due_provisional and sign.due_at is not None and sign.due_at.date() == dt.date(2027, 1, 5)
