"""Red cards fall due N working days after the yellow card's deadline, however late the worker arms them: they
agree with ``calendar.after_working_days`` to the microsecond, across weekends, holidays and make-up working
days, on both databases."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from callcenter.actions import do_create_ticket
from core import clock
from dispatch.deadlines.calendar import after_working_days
from dispatch.deadlines.escalations import fire_due_timers
from dispatch.models import Escalation, StageClock, TimelineEntry, Timer, WorkOrder
from tests.conftest import World, ticket_payload

pytestmark = pytest.mark.django_db
CST = ZoneInfo("Asia/Shanghai")
SERIOUS_AFTER = 5  # the default ladder's working days from yellow to red
A_WEEK = 7  # days: a worker down for longer than this still arms the same red cards

# Deadlines around the 2026 Spring Festival (make-up working Saturday 02-14) and National Day (make-up working
# Saturday 10-10), at midnight and inside days.
DEADLINES = [
    "2026-02-10 15:30",  # a Tuesday afternoon: the same time of day five working days on
    "2026-02-13 00:00",  # a Friday at midnight
    "2026-02-14 09:15",  # the make-up working Saturday
    "2026-02-15 11:00",  # a holiday: counted from the next working day
    "2026-02-21 00:00",  # a holiday Saturday at midnight
    "2026-09-30 17:45",  # the working day before National Day
    "2026-10-03 08:00",  # inside National Day
    "2026-10-10 23:59:59.500000",  # the make-up Saturday, half a second before midnight
]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


def yellow_card_due(world: World, due: dt.datetime, number: str) -> StageClock:
    """A running sign clock of agency A whose yellow-card timer falls due at ``due``."""
    with clock.pinned_at(due - dt.timedelta(days=1)):
        ticket, _created = do_create_ticket(ticket_payload(), actor=world.users["operator"])
    work_order = WorkOrder.objects.create(
        ticket=ticket, number=number, agency=world.agency_a, responsibility="lead", created_at=due
    )
    sign = StageClock.objects.create(
        ticket=ticket, work_order=work_order, stage="sign", started_at=due - dt.timedelta(hours=1), due_at=due
    )
    Timer.objects.create(clock=sign, level="overdue", fire_at=due)
    return sign


def red_card_of(sign: StageClock) -> dt.datetime:
    return Timer.objects.get(clock=sign, level="serious").fire_at


@pytest.mark.parametrize("late", [dt.timedelta(0), dt.timedelta(seconds=1)], ids=["on time", "a second late"])
def test_red_cards_fall_due_n_working_days_after_the_deadline(world: World, late: dt.timedelta) -> None:
    for index, text in enumerate(DEADLINES):
        due = at(text)
        sign = yellow_card_due(world, due, f"R{index:04d}")
        with clock.pinned_at(due + late):
            assert fire_due_timers().by_level["overdue"] == 1, text
        assert red_card_of(sign) == after_working_days(due, SERIOUS_AFTER), text


def test_a_worker_late_by_more_than_a_week_still_arms_the_same_red_cards(world: World) -> None:
    dues = [at("2026-02-13 00:00"), at("2026-02-14 09:15"), at("2026-09-30 17:45")]
    signs = [yellow_card_due(world, due, f"L{index:04d}") for index, due in enumerate(dues)]
    # The worker was down: everything fires in one batch long after the deadlines.
    with clock.pinned_at(dues[-1] + dt.timedelta(days=A_WEEK + 3)):
        assert fire_due_timers().by_level["overdue"] == 3
    assert [red_card_of(sign) for sign in signs] == [after_working_days(due, SERIOUS_AFTER) for due in dues]


def test_one_batch_mixing_recent_and_week_old_deadlines(world: World) -> None:
    recent, old = at("2026-10-10 14:00"), at("2026-09-18 10:00")
    fire = recent + dt.timedelta(minutes=5)
    assert fire - old > dt.timedelta(days=A_WEEK + 1)
    recent_sign, old_sign = yellow_card_due(world, recent, "M0001"), yellow_card_due(world, old, "M0002")
    with clock.pinned_at(fire):
        assert fire_due_timers().by_level["overdue"] == 2
    assert red_card_of(recent_sign) == after_working_days(recent, SERIOUS_AFTER)
    assert red_card_of(old_sign) == after_working_days(old, SERIOUS_AFTER)
    assert Timer.objects.filter(level="serious").count() == 2


def test_a_red_card_in_an_unpublished_year_falls_on_the_provisional_calendar(world: World) -> None:
    # Five working days after 2026-12-29: 12-30, 12-31, then 2027 (provisional): 01-01 is New Year's Day.
    due = at("2026-12-29 10:00")
    sign = yellow_card_due(world, due, "P0001")
    with clock.pinned_at(due):
        assert fire_due_timers().by_level["overdue"] == 1
    assert red_card_of(sign) == at("2027-01-06 10:00")
    step = TimelineEntry.objects.get(action="escalate_overdue", work_order=sign.work_order)
    assert "serious_error" not in step.data


def test_a_red_card_past_every_calendar_is_an_error_on_the_yellow_card(world: World) -> None:
    # Five working days after 2099-12-29 lie in 2100, which no calendar knows.
    due = at("2099-12-29 10:00")
    sign = yellow_card_due(world, due, "U0001")
    with clock.pinned_at(due):
        assert fire_due_timers().by_level["overdue"] == 1
    assert not Timer.objects.filter(clock=sign, level="serious").exists()
    escalation = Escalation.objects.get(clock=sign, level="overdue")
    step = TimelineEntry.objects.get(action="escalate_overdue", work_order=sign.work_order)
    assert step.data["escalation_id"] == escalation.pk
    assert step.data["serious_error"] == "calendar_year_unpublished"


def test_a_stage_stopped_before_its_red_card_would_fall_due_arms_none(world: World) -> None:
    due = at("2026-03-03 10:00")
    sign = yellow_card_due(world, due, "S0001")
    # The clock stopped two days after the deadline (late, but not five working days late).
    StageClock.objects.filter(pk=sign.pk).update(stopped_at=due + dt.timedelta(days=2), stopped_by="sign")
    with clock.pinned_at(due + dt.timedelta(days=3)):
        assert fire_due_timers().by_level["overdue"] == 1
    assert not Timer.objects.filter(clock=sign, level="serious").exists()


@pytest.mark.parametrize("late", [dt.timedelta(0), dt.timedelta(days=A_WEEK + 3)], ids=["on_time", "a_week_late"])
def test_the_yellow_cards_timer_row_becomes_the_red_cards_timer(world: World, late: dt.timedelta) -> None:
    due = at("2026-03-03 10:00")
    sign = yellow_card_due(world, due, "Y0001")
    yellow_timer = Timer.objects.get(clock=sign, level="overdue")
    with clock.pinned_at(due + late):
        # One batch: a worker late by more than five working days fires the red card in its next batch.
        assert fire_due_timers(max_batches=1).by_level == {"overdue": 1}
    red_timer = Timer.objects.get(clock=sign)
    assert red_timer.pk == yellow_timer.pk
    assert (red_timer.level, red_timer.done_at, red_timer.outcome) == ("serious", None, "")
    assert red_timer.fire_at == after_working_days(due, SERIOUS_AFTER)
    assert Escalation.objects.filter(clock=sign, level="overdue").count() == 1
    # The red card then fires from the same row, once.
    with clock.pinned_at(red_timer.fire_at + late):
        assert fire_due_timers().by_level == {"serious": 1}
    red_timer.refresh_from_db()
    assert (red_timer.level, red_timer.outcome) == ("serious", "fired")
    assert list(Escalation.objects.filter(clock=sign).values_list("level", flat=True)) == ["overdue", "serious"]


@pytest.mark.parametrize("late", [dt.timedelta(0), dt.timedelta(days=A_WEEK + 3)], ids=["on_time", "a_week_late"])
def test_a_clock_that_somehow_has_a_red_card_timer_already_keeps_it_and_the_batch_still_fires(
    world: World, late: dt.timedelta
) -> None:
    due = at("2026-03-03 10:00")
    stray, normal = yellow_card_due(world, due, "D0001"), yellow_card_due(world, due, "D0002")
    stray_red = Timer.objects.create(clock=stray, level="serious", fire_at=due + dt.timedelta(days=30))
    with clock.pinned_at(due + late):
        assert fire_due_timers(max_batches=1).by_level == {"overdue": 2}
    assert list(Timer.objects.filter(clock=stray).order_by("id").values_list("level", "outcome", "fire_at")) == [
        ("overdue", "fired", due),
        ("serious", "", stray_red.fire_at),
    ]
    assert red_card_of(normal) == after_working_days(due, SERIOUS_AFTER)


def test_a_timer_whose_step_has_fired_already_adds_nothing_and_the_rest_of_its_batch_fires(world: World) -> None:
    """The escalation's unique (clock, level) has the last word: a pending timer for a step that has already
    fired (nothing creates one) is marked done without a second escalation, timeline row or event entry, in
    the same batch as a timer that fires normally."""
    from realtime.models import Event

    due = at("2026-03-03 10:00")
    again = yellow_card_due(world, due, "A0001")
    with clock.pinned_at(due):
        assert fire_due_timers().by_level == {"overdue": 1}
    later = due + dt.timedelta(hours=1)
    repeated = Timer.objects.create(clock=again, level="overdue", fire_at=later)
    fresh = yellow_card_due(world, later, "A0002")
    events_before = set(Event.objects.filter(type="work_order.escalated").values_list("id", flat=True))

    with clock.pinned_at(later):
        result = fire_due_timers(max_batches=1)

    assert (result.claimed, result.by_level) == (2, {"overdue": 1})
    repeated.refresh_from_db()
    assert (repeated.done_at, repeated.outcome) == (later, "fired")
    assert Escalation.objects.filter(clock=again, level="overdue").count() == 1
    steps = TimelineEntry.objects.filter(action="escalate_overdue")
    assert steps.filter(work_order=again.work_order_id).count() == 1
    assert steps.filter(work_order=fresh.work_order_id).count() == 1
    new_events = Event.objects.filter(type="work_order.escalated").exclude(id__in=events_before)
    listed = [item["clock_id"] for event in new_events for item in event.payload["escalations"]]
    assert listed == [fresh.pk]
    assert red_card_of(fresh) == after_working_days(later, SERIOUS_AFTER)
    assert red_card_of(again) == after_working_days(due, SERIOUS_AFTER)
