"""Deadlines to the minute, table by table (in the spirit of Zammad's escalation examples).

2026 schedule (State Council): Spring Festival off 02-15..02-23 with make-up Saturdays 02-14 and 02-28;
National Day off 10-01..10-07 with make-up Saturday 10-10. "wd" limits end at midnight after the last
working day counted from the next working day; working hours below are 08:30-12:00 and 14:30-18:00.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from dispatch.deadlines import calendar
from dispatch.deadlines.actions import (
    do_delete_calendar_day,
    do_publish_calendar_year,
    do_save_calendar_day,
    do_save_sla_policy,
    do_set_working_periods,
)
from dispatch.deadlines.calendar import CalendarYearUnknown, deadline_after, working_hours_between
from dispatch.deadlines.policies import deadline_for, serious_at

pytestmark = pytest.mark.django_db
CST = ZoneInfo("Asia/Shanghai")
OFFICE_HOURS = ["08:30-12:00", "14:30-18:00"]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


# start, limit, counted from next working day, expected deadline
WORKING_DAY_TABLE = [
    # weekends
    ("2026-03-06 10:00", "1wd", False, "2026-03-10 00:00"),  # Fri -> Mon is the day counted
    ("2026-03-07 10:00", "1wd", False, "2026-03-10 00:00"),  # Sat -> Mon
    ("2026-03-09 00:00", "2wd", False, "2026-03-12 00:00"),  # Mon midnight -> Tue, Wed
    # Spring Festival with its make-up Saturdays
    ("2026-02-12 15:00", "1wd", False, "2026-02-14 00:00"),  # Thu -> Fri 02-13
    ("2026-02-13 09:00", "1wd", False, "2026-02-15 00:00"),  # Fri -> Sat 02-14 is a working day
    ("2026-02-14 10:00", "1wd", False, "2026-02-25 00:00"),  # Sat -> holiday until 02-23 -> Tue 02-24
    ("2026-02-13 09:00", "3wd", False, "2026-02-26 00:00"),  # 02-14, 02-24, 02-25
    ("2026-02-27 09:00", "1wd", False, "2026-03-01 00:00"),  # Fri -> Sat 02-28 make-up day
    ("2026-02-02 10:00", "15wd", False, "2026-03-01 00:00"),
    # National Day with its make-up Saturday
    ("2026-09-30 10:00", "1wd", False, "2026-10-09 00:00"),  # -> Thu 10-08
    ("2026-09-30 10:00", "3wd", False, "2026-10-11 00:00"),  # 10-08, 10-09, Sat 10-10
    ("2026-10-09 17:00", "2wd", False, "2026-10-13 00:00"),  # Sat 10-10, Mon 10-12
    # clock hours and minutes ignore the calendar ...
    ("2026-02-14 23:00", "2h", False, "2026-02-15 01:00"),
    ("2026-10-01 08:00", "30m", False, "2026-10-01 08:30"),
    # ... unless counted from the next working day (working hours off: from its midnight)
    ("2026-02-13 18:00", "24h", True, "2026-02-15 00:00"),  # from Sat 02-14 00:00
    ("2026-09-30 16:00", "2h", True, "2026-10-08 02:00"),
    ("2026-10-09 17:00", "90m", True, "2026-10-10 01:30"),
]


@pytest.mark.parametrize(("start", "limit", "from_next", "expected"), WORKING_DAY_TABLE)
def test_deadline_table(start: str, limit: str, from_next: bool, expected: str) -> None:
    assert deadline_after(at(start), limit, from_next_working_day=from_next) == at(expected)


WORKING_HOURS_TABLE = [
    ("2026-02-13 17:00", "4wh", False, "2026-02-14 11:30"),  # Fri 1h, make-up Sat 3h
    ("2026-10-09 11:00", "8wh", False, "2026-10-10 12:00"),  # Fri 1h + 3.5h, Sat 3.5h
    ("2026-09-30 17:30", "1wh", False, "2026-10-08 09:00"),  # 0.5h before the holiday, 0.5h after
    ("2026-03-06 12:30", "1wh", False, "2026-03-06 15:30"),  # the lunch break does not count
    ("2026-09-30 16:00", "2h", True, "2026-10-08 10:30"),  # from the start of office hours on 10-08
    ("2026-02-13 18:00", "24h", True, "2026-02-15 08:30"),
]


@pytest.mark.parametrize(("start", "limit", "from_next", "expected"), WORKING_HOURS_TABLE)
@override_settings(HOTLINE={"WORKING_HOURS": OFFICE_HOURS})
def test_working_hours_table(start: str, limit: str, from_next: bool, expected: str) -> None:
    assert deadline_after(at(start), limit, from_next_working_day=from_next) == at(expected)


def test_working_hours_between_counts_office_hours_or_whole_working_days() -> None:
    start, end = at("2026-02-13 17:00"), at("2026-02-24 10:00")
    assert working_hours_between(start, end) == 7 + 24 + 10  # Fri evening, make-up Sat, Tue morning
    with override_settings(HOTLINE={"WORKING_HOURS": OFFICE_HOURS}):
        calendar.invalidate()
        assert working_hours_between(start, end) == 1 + 7 + 1.5
    assert working_hours_between(end, start) == 0


def test_working_periods_in_the_database_win_over_settings() -> None:
    do_set_working_periods([("09:00", "12:00")])
    with override_settings(HOTLINE={"WORKING_HOURS": OFFICE_HOURS}):
        assert deadline_after(at("2026-03-06 11:00"), "2wh") == at("2026-03-09 10:00")
    do_set_working_periods([])
    assert calendar.working_periods() == ()


def test_an_unpublished_year_runs_on_the_provisional_calendar() -> None:
    # 2027-01-01 (Fri) is New Year's Day, 01-02 and 01-03 a weekend: Thu 12-31 -> Mon 01-04.
    assert deadline_after(at("2026-12-31 10:00"), "1wd") == at("2027-01-05 00:00")
    assert working_hours_between(at("2026-12-31 10:00"), at("2027-01-05 10:00")) == 14 + 24 + 10
    # Clock hours need no calendar.
    assert deadline_after(at("2026-12-31 23:00"), "2h") == at("2027-01-01 01:00")


def test_a_year_outside_every_calendar_is_an_error_not_a_guess() -> None:
    with pytest.raises(CalendarYearUnknown):
        deadline_after(at("2099-12-31 10:00"), "1wd")
    with pytest.raises(CalendarYearUnknown):
        working_hours_between(at("2099-12-31 10:00"), at("2100-01-05 10:00"))


def test_a_database_override_makes_a_holiday_a_working_day_and_a_working_day_a_holiday() -> None:
    do_save_calendar_day(dt.date(2026, 3, 9), is_working_day=False, name="test closure")
    assert deadline_after(at("2026-03-06 10:00"), "1wd") == at("2026-03-11 00:00")
    do_save_calendar_day(dt.date(2026, 3, 7), is_working_day=True, name="make-up day")
    assert deadline_after(at("2026-03-06 10:00"), "1wd") == at("2026-03-08 00:00")
    do_save_calendar_day(dt.date(2026, 2, 16), is_working_day=True, name="emergency duty")
    assert deadline_after(at("2026-02-14 10:00"), "1wd") == at("2026-02-17 00:00")
    do_delete_calendar_day(dt.date(2026, 2, 16))
    assert deadline_after(at("2026-02-14 10:00"), "1wd") == at("2026-02-25 00:00")


def test_a_year_published_in_the_database_becomes_known() -> None:
    do_publish_calendar_year(
        2027,
        holidays=[(dt.date(2027, 1, 1), "New Year"), (dt.date(2027, 1, 4), "New Year")],
        working_days=[(dt.date(2027, 1, 9), "make-up day")],
    )
    assert deadline_after(at("2026-12-31 10:00"), "1wd") == at("2027-01-06 00:00")  # Tue 01-05
    assert deadline_after(at("2027-01-08 10:00"), "1wd") == at("2027-01-10 00:00")  # make-up Sat 01-09
    assert calendar.year_is_official(2027) and not calendar.year_is_official(2028)
    assert deadline_after(at("2028-01-03 10:00"), "1wd") == at("2028-01-05 00:00")  # provisional: Tue 01-04


def test_red_card_comes_five_working_days_after_the_deadline() -> None:
    assert serious_at(at("2026-03-09 00:00")) == at("2026-03-14 00:00")  # Mon..Fri
    assert serious_at(at("2026-03-09 10:00")) == at("2026-03-16 10:00")
    assert serious_at(at("2026-03-09 15:30")) == at("2026-03-16 15:30")  # same day, cached shift
    assert serious_at(at("2026-03-07 15:30")) == at("2026-03-14 00:00")  # from a Saturday: Mon..Fri
    assert serious_at(at("2026-02-14 00:00")) == at("2026-02-28 00:00")  # Sat 02-14, 02-24..02-27
    assert serious_at(at("2026-09-30 15:00")) == at("2026-10-13 15:00")  # Wed 9h, 10-08..10-12, 15h of 10-13


# --- policies ---------------------------------------------------------------------------------------


def _ticket(world: Any, *, subject: str = "t-garbage", appeal_type: str = "complaint", urgency: str = "normal") -> Any:
    from organisation.models import AppealType, Subject

    subject_row = Subject.objects.get(code=subject)
    appeal = AppealType.objects.get(code=appeal_type)
    return SimpleNamespace(
        subject=subject_row,
        subject_id=subject_row.pk,
        appeal_type_id=appeal.pk,
        urgency=urgency,
    )


def test_policy_lookup_falls_back_from_exact_to_subject_to_appeal_type_to_defaults(world: Any) -> None:
    from organisation.models import AppealType, Subject

    garbage = Subject.objects.get(code="t-garbage")
    complaint = AppealType.objects.get(code="complaint")
    start = at("2026-03-02 10:00")  # Monday
    # No policy: the subject's own limit (5wd), then GLOSSARY's default for review.
    assert deadline_for(_ticket(world), "handle", start).due_at == at("2026-03-10 00:00")
    assert deadline_for(_ticket(world), "review", start).due_at == at("2026-03-04 00:00")
    do_save_sla_policy(appeal_type_id=complaint.pk, handle_limit="10wd")
    assert deadline_for(_ticket(world), "handle", start).due_at == at("2026-03-17 00:00")
    assert deadline_for(_ticket(world, appeal_type="help"), "handle", start).due_at == at("2026-03-10 00:00")
    do_save_sla_policy(subject_id=garbage.pk, handle_limit="3wd")
    assert deadline_for(_ticket(world), "handle", start).due_at == at("2026-03-06 00:00")
    exact = do_save_sla_policy(
        appeal_type_id=complaint.pk, subject_id=garbage.pk, urgency="normal", handle_limit="2wd", sign_limit=""
    )
    chosen = deadline_for(_ticket(world), "handle", start)
    assert (chosen.due_at, chosen.policy_id, chosen.limit) == (at("2026-03-05 00:00"), exact.pk, "2wd")
    # The exact policy names no sign limit: the sign limit falls through to the subject's own (1wd).
    assert deadline_for(_ticket(world), "sign", start).due_at == at("2026-03-04 00:00")
    # Urgent work is not matched by the normal-urgency policy; the subject+any-urgency one applies.
    assert deadline_for(_ticket(world, urgency="urgent"), "handle", start).due_at == at("2026-03-06 00:00")


def test_warning_point_is_a_fraction_of_working_time_or_a_fixed_lead(world: Any) -> None:
    from organisation.models import Subject

    garbage = Subject.objects.get(code="t-garbage")
    start = at("2026-03-06 12:00")  # Friday noon; 5wd -> Sat 03-14 00:00
    deadline = deadline_for(_ticket(world), "handle", start)
    assert deadline.due_at == at("2026-03-14 00:00")
    # 0.8 of 12h (Fri) + 5 x 24h = 105.6 working hours -> Thu 03-12 at 21:36
    assert deadline.warn_at == at("2026-03-12 21:36")
    do_save_sla_policy(subject_id=garbage.pk, warning_lead="2h")
    assert deadline_for(_ticket(world), "handle", start).warn_at == at("2026-03-13 22:00")
    do_save_sla_policy(subject_id=garbage.pk, warning_lead="", warning_fraction=0.5)
    assert deadline_for(_ticket(world, urgency="urgent"), "sign", at("2026-03-06 12:00")).warn_at == at(
        "2026-03-06 13:00"
    )


def test_counted_from_the_next_working_day_by_policy(world: Any) -> None:
    from organisation.models import Subject

    garbage = Subject.objects.get(code="t-garbage")
    do_save_sla_policy(subject_id=garbage.pk, urgency="urgent", handle_limit="24h", from_next_working_day=True)
    deadline = deadline_for(_ticket(world, urgency="urgent"), "handle", at("2026-02-13 18:00"))
    assert deadline.due_at == at("2026-02-15 00:00")


def test_an_unpublished_year_gives_a_provisional_deadline(world: Any) -> None:
    deadline = deadline_for(_ticket(world), "handle", at("2026-12-30 10:00"))
    assert deadline.error == "" and deadline.provisional
    assert deadline_for(_ticket(world), "handle", at("2026-11-30 10:00")).provisional is False
    # A clock-time limit does not depend on the calendar, whatever the year.
    assert deadline_for(_ticket(world, urgency="urgent"), "handle", at("2026-12-31 10:00")).provisional is False


def test_a_year_outside_every_calendar_gives_a_deadline_error_not_a_deadline(world: Any) -> None:
    deadline = deadline_for(_ticket(world), "handle", at("2099-12-30 10:00"))
    assert (deadline.due_at, deadline.warn_at, deadline.error) == (None, None, "calendar_year_unpublished")
