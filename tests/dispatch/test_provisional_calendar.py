"""The provisional calendar of a year whose holiday schedule is not published, and publishing that year.

The lunar and solar-term dates are checked against borax, a second lunar-calendar library written apart from
lunar_python (which the product uses) and installed only for the tests.
"""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from borax.calendars.lunardate import LunarDate, TermUtils
from django.core.management import call_command
from django.utils import translation

from core import clock
from dispatch.actions import do_dispatch_ticket, do_sign_work_order
from dispatch.deadlines import calendar, provisional
from dispatch.deadlines.actions import do_publish_calendar_year
from dispatch.deadlines.calendar import deadline_after
from dispatch.deadlines.escalations import fire_due_timers
from dispatch.models import Escalation, StageClock, TimelineEntry, Timer, WorkOrder
from organisation.models import AuditEntry
from realtime.audience import audience_of, may_receive
from realtime.models import Event
from tests.conftest import World, ticket_payload

CST = ZoneInfo("Asia/Shanghai")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


D = dt.date

# The statutory holidays by the rules, worked out by hand from published lunar tables (香港天文台 农历对照表).
PROVISIONAL_HOLIDAYS = {
    2027: {
        D(2027, 1, 1): "new_years_day",
        D(2027, 2, 5): "spring_festival",  # 除夕 (the 12th month of 丙午 has 30 days)
        D(2027, 2, 6): "spring_festival",  # 正月初一
        D(2027, 2, 7): "spring_festival",
        D(2027, 2, 8): "spring_festival",
        D(2027, 4, 5): "tomb_sweeping_day",
        D(2027, 5, 1): "labour_day",
        D(2027, 5, 2): "labour_day",
        D(2027, 6, 9): "dragon_boat_festival",
        D(2027, 9, 15): "mid_autumn_festival",
        D(2027, 10, 1): "national_day",
        D(2027, 10, 2): "national_day",
        D(2027, 10, 3): "national_day",
    },
    2028: {
        D(2028, 1, 1): "new_years_day",
        D(2028, 1, 25): "spring_festival",
        D(2028, 1, 26): "spring_festival",
        D(2028, 1, 27): "spring_festival",
        D(2028, 1, 28): "spring_festival",
        D(2028, 4, 4): "tomb_sweeping_day",
        D(2028, 5, 1): "labour_day",
        D(2028, 5, 2): "labour_day",
        D(2028, 5, 28): "dragon_boat_festival",
        # The Mid-Autumn Festival (lunar 8-15) is 3 October, a day of National Day already.
        D(2028, 10, 1): "national_day",
        D(2028, 10, 2): "national_day",
        D(2028, 10, 3): "national_day",
    },
}


@pytest.mark.parametrize("year", sorted(PROVISIONAL_HOLIDAYS))
def test_the_provisional_holidays_of_a_year(year: int) -> None:
    assert provisional.statutory_holidays(year) == PROVISIONAL_HOLIDAYS[year]


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2028, 2035, 2050])
def test_lunar_and_solar_term_dates_agree_with_a_second_library(year: int) -> None:
    holidays = provisional.statutory_holidays(year)
    new_year = LunarDate(year, 1, 1).to_solar_date()
    expected = {
        new_year - dt.timedelta(days=1): "spring_festival",
        new_year: "spring_festival",
        new_year + dt.timedelta(days=2): "spring_festival",
        LunarDate(year, 5, 5).to_solar_date(): "dragon_boat_festival",
        TermUtils.nth_term_day(year, term_name="清明"): "tomb_sweeping_day",
    }
    for day, name in expected.items():
        assert holidays.get(day) == name, day
    mid_autumn = LunarDate(year, 8, 15).to_solar_date()
    assert holidays.get(mid_autumn) in {"mid_autumn_festival", "national_day"}
    # Thirteen days by the rules, fewer only when two festivals fall on one date.
    assert len(holidays) == 13 - (mid_autumn in {D(year, 10, d) for d in (1, 2, 3)})


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_statutory_holiday_is_a_day_off_in_that_years_official_schedule(year: int) -> None:
    holidays = provisional.statutory_holidays(year)
    assert len(holidays) == 13
    for day in holidays:
        assert chinese_calendar.is_holiday(day), day
    # The official schedule adds bridge days and make-up working days that the provisional one leaves out.
    days = [D(year, 1, 1) + dt.timedelta(days=n) for n in range(365)]
    official_weekdays_off = {day for day in days if chinese_calendar.is_holiday(day) and day.weekday() < 5}
    assert official_weekdays_off > {day for day in holidays if day.weekday() < 5}
    assert any(chinese_calendar.is_workday(day) for day in days if day.weekday() >= 5)


def test_the_provisional_calendar_is_weekends_and_statutory_holidays() -> None:
    assert provisional.is_working_day(D(2027, 2, 9))  # Tuesday after the Spring Festival
    assert not provisional.is_working_day(D(2027, 2, 8))  # 初三, a Monday
    assert not provisional.is_working_day(D(2027, 1, 9))  # a Saturday: no make-up days
    assert provisional.holiday_name(D(2027, 6, 9)) == "端午节"
    with translation.override("en"):
        assert provisional.holiday_name(D(2027, 6, 9)) == "Dragon Boat Festival"
    assert not provisional.covers(2100)


@pytest.mark.django_db
def test_fifteen_working_days_from_2026_12_20_end_on_the_provisional_calendar() -> None:
    # Sun 12-20: 12-21..12-25 (5), 12-28..12-31 (9), New Year's Day Fri 01-01 off, 01-04..01-08 (14), Mon 01-11.
    assert deadline_after(at("2026-12-20 10:00"), "15wd") == at("2027-01-12 00:00")
    assert calendar.provisional_years_between(at("2026-12-20 10:00"), at("2027-01-12 00:00")) == [2027]
    # A deadline at midnight after 12-31 depends on no day of 2027.
    assert calendar.provisional_years_between(at("2026-12-01 10:00"), at("2027-01-01 00:00")) == []
    assert calendar.holiday_name(D(2027, 1, 1)) == "元旦"
    assert calendar.holiday_name(D(2026, 10, 2)) == "国庆节"  # chinesecalendar's name, translated


# --- publishing the year ---------------------------------------------------------------------------


def signed_on_new_years_eve(world: World) -> StageClock:
    """A work order signed on Thu 2026-12-31 10:00: its sign clock (1wd) is provisional, due Tue 01-05 00:00
    (01-01 New Year's Day, 01-02/03 a weekend, Mon 01-04 the working day), warning at 0.8 of 38 working hours."""
    with clock.pinned_at(at("2026-12-31 10:00")):
        from callcenter.actions import do_create_ticket

        ticket, _created = do_create_ticket(ticket_payload(), actor=world.users["operator"])
        do_dispatch_ticket(
            ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk, override_reason="test"
        )
    work_order = WorkOrder.objects.get(ticket=ticket)
    sign = StageClock.objects.get(work_order=work_order, stage="sign")
    assert (sign.due_at, sign.warn_at, sign.due_provisional) == (at("2027-01-05 00:00"), at("2027-01-04 16:24"), True)
    return sign


def fire_at(when: str) -> dict[str, int]:
    with clock.pinned_at(at(when)):
        return fire_due_timers().by_level


def timers(sign: StageClock) -> dict[str, dt.datetime]:
    return dict(Timer.objects.filter(clock=sign, done_at__isnull=True).values_list("level", "fire_at"))


@pytest.mark.django_db
def test_a_make_up_day_that_would_pull_a_deadline_earlier_keeps_the_announced_one(world: World) -> None:
    sign = signed_on_new_years_eve(world)
    before = timers(sign)
    with clock.pinned_at(at("2027-01-01 09:00")):
        # Sat 01-02 a make-up working day: officially the sign deadline would be 01-03 00:00.
        do_publish_calendar_year(
            2027,
            holidays=[(D(2027, 1, 1), "元旦")],
            working_days=[(D(2027, 1, 2), "元旦调休")],
            actor=world.users["admin"],
        )
    sign.refresh_from_db()
    assert (sign.due_at, sign.warn_at, sign.due_provisional) == (at("2027-01-05 00:00"), at("2027-01-04 16:24"), False)
    assert timers(sign) == before
    step = TimelineEntry.objects.get(action="deadline_recomputed", work_order=sign.work_order)
    assert step.data["moved"] is False and step.data["due_at"] == at("2027-01-05 00:00").isoformat()
    (event,) = Event.objects.filter(type="work_order.deadlines_recomputed")
    assert event.payload["year"] == 2027 and event.agency_ids == [world.agency_a.pk]
    assert [(d["clock_id"], d["moved"], d["provisional"]) for d in event.payload["deadlines"]] == [
        (sign.pk, False, False)
    ]
    assert fire_at("2027-01-04 16:24") == {"warning": 1}
    assert fire_at("2027-01-05 00:00") == {"overdue": 1}


@pytest.mark.django_db
def test_a_later_official_deadline_replaces_the_provisional_one_and_its_timers_fire_once(world: World) -> None:
    sign = signed_on_new_years_eve(world)
    timer_ids = set(Timer.objects.filter(clock=sign).values_list("id", flat=True))
    with clock.pinned_at(at("2027-01-01 09:00")):
        published = do_publish_calendar_year(
            2027,
            holidays=[(D(2027, 1, 1), "元旦"), (D(2027, 1, 4), "元旦")],
            note="国办发明电〔2026〕号",
            actor=world.users["admin"],
        )
    assert published.row.year == 2027 and published.recomputed.moved == 1
    sign.refresh_from_db()
    # Mon 01-04 off too: Tue 01-05 is the working day; 0.8 of 14 + 24 working hours after the start.
    assert (sign.due_at, sign.warn_at, sign.due_provisional) == (at("2027-01-06 00:00"), at("2027-01-05 16:24"), False)
    assert timers(sign) == {"warning": at("2027-01-05 16:24"), "overdue": at("2027-01-06 00:00")}
    assert set(Timer.objects.filter(clock=sign).values_list("id", flat=True)) == timer_ids  # re-timed, not added
    assert fire_at("2027-01-05 00:00") == {}  # the provisional deadline passes quietly
    assert fire_at("2027-01-05 16:24") == {"warning": 1}
    assert fire_at("2027-01-06 00:00") == {"overdue": 1}
    assert Timer.objects.get(clock=sign, level="serious").fire_at == at("2027-01-13 00:00")
    assert fire_at("2027-01-13 00:00") == {"serious": 1}
    assert fire_at("2027-03-01 00:00") == {}
    assert sorted(Escalation.objects.filter(clock=sign).values_list("level", flat=True)) == [
        "overdue",
        "serious",
        "warning",
    ]
    # Audited, with an event for the centre and one for the agency, which reaches that agency only.
    audit = AuditEntry.objects.get(action="publish_calendar_year")
    assert audit.actor == world.users["admin"] and audit.reason == "国办发明电〔2026〕号"
    assert audit.fields == [{"holidays": 2, "working_days": 0, "year": 2027, "recomputed": 1, "moved": 1, "kept": 0}]
    summary = Event.objects.get(type="calendar.year_published")
    assert summary.payload == {"year": 2027, "recomputed": 1, "moved": 1, "kept": 0}
    recomputed = Event.objects.get(type="work_order.deadlines_recomputed")
    assert recomputed.payload["deadlines"][0]["previous_due_at"] == at("2027-01-05 00:00").isoformat()
    handler_a, handler_b = audience_of(world.users["handler_a"]), audience_of(world.users["handler_b"])
    assert handler_a is not None and handler_b is not None
    assert may_receive(handler_a, recomputed) and not may_receive(handler_b, recomputed)
    assert not may_receive(handler_a, summary)


@pytest.mark.django_db
def test_a_warning_out_already_is_not_given_again_when_the_deadline_moves(world: World) -> None:
    sign = signed_on_new_years_eve(world)
    assert fire_at("2027-01-04 16:24") == {"warning": 1}
    with clock.pinned_at(at("2027-01-04 17:00")):
        do_publish_calendar_year(2027, holidays=[(D(2027, 1, 1), "元旦"), (D(2027, 1, 4), "元旦")])
    sign.refresh_from_db()
    assert (sign.due_at, sign.warn_at) == (at("2027-01-06 00:00"), at("2027-01-04 16:24"))
    assert fire_at("2027-01-05 23:59") == {}
    assert fire_at("2027-01-06 00:00") == {"overdue": 1}
    assert Escalation.objects.filter(clock=sign, level="warning").count() == 1


@pytest.mark.django_db
def test_a_deadline_already_past_stays_and_only_its_red_card_moves_later(world: World) -> None:
    sign = signed_on_new_years_eve(world)
    assert fire_at("2027-01-05 00:00") == {"warning": 1, "overdue": 1}
    # Five working days from Tue 01-05 00:00: 01-05..01-08, 01-11.
    assert timers(sign) == {"serious": at("2027-01-12 00:00")}
    with clock.pinned_at(at("2027-01-06 09:00")):
        do_publish_calendar_year(
            2027, holidays=[(D(2027, 1, 1), "元旦"), (D(2027, 1, 4), "元旦"), (D(2027, 1, 7), "x")]
        )
    sign.refresh_from_db()
    assert sign.due_at == at("2027-01-05 00:00") and not sign.due_provisional
    assert timers(sign) == {"serious": at("2027-01-13 00:00")}
    assert fire_at("2027-01-12 00:00") == {}
    assert fire_at("2027-01-13 00:00") == {"serious": 1}


@pytest.mark.django_db
def test_a_signed_work_order_gets_a_provisional_handle_deadline_in_the_api(world: World) -> None:
    sign = signed_on_new_years_eve(world)
    with clock.pinned_at(at("2027-01-04 10:00")):
        do_sign_work_order(sign.work_order_id, actor=world.users["handler_a"])  # type: ignore[arg-type]
    handle = StageClock.objects.get(work_order_id=sign.work_order_id, stage="handle")
    assert handle.due_provisional
    body = world.client("handler_a").get(f"/api/work-orders/{sign.work_order_id}/").json()
    running = [c for c in body["clocks"] if c["stage"] == "handle"]
    assert running[0]["due_provisional"] is True


@pytest.mark.django_db(transaction=True)
def test_clocks_left_without_a_deadline_get_a_provisional_one_when_a_timer_worker_starts(world: World) -> None:
    # A clock started before the provisional calendar existed: no deadline, no timers, only the error.
    sign = signed_on_new_years_eve(world)
    StageClock.objects.filter(pk=sign.pk).update(
        due_at=None, warn_at=None, due_provisional=False, due_error="calendar_year_unpublished"
    )
    Timer.objects.filter(clock=sign).delete()
    out = io.StringIO()
    call_command("run_timers", "--once", "--now", "2027-01-01T09:00:00+08:00", stdout=out)
    assert "1 running clocks without a deadline got one" in out.getvalue()
    sign.refresh_from_db()
    assert (sign.due_at, sign.due_error, sign.due_provisional) == (at("2027-01-05 00:00"), "", True)
    assert timers(sign) == {"warning": at("2027-01-04 16:24"), "overdue": at("2027-01-05 00:00")}
    (event,) = Event.objects.filter(type="work_order.deadlines_recomputed")
    assert event.payload["year"] is None and event.payload["deadlines"][0]["previous_due_at"] is None
    assert fire_at("2027-01-05 00:00") == {"warning": 1, "overdue": 1}
    call_command("run_timers", "--once", "--now", "2027-01-05T09:00:00+08:00", stdout=out)
    assert Event.objects.filter(type="work_order.deadlines_recomputed").count() == 1  # nothing left to fill
