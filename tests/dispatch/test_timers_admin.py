"""Admin pages of the calendar and SLA policies save through the actions (caches dropped, checks applied)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from dispatch import calendar
from dispatch.models import CalendarDay, CalendarYear, SlaPolicy, WorkingPeriod
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(world: World) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world.users["admin"])
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
