"""The escalation ladder end to end through the real actions: warning, yellow card, red card with 督办;
timers of stopped clocks; extension and redo deadlines; an unpublished year; leases; event audiences."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callcenter.actions import do_create_ticket
from core import clock
from dispatch.actions import (
    do_approve_work_order,
    do_decide_extension,
    do_dispatch_ticket,
    do_redo_ticket,
    do_reply_work_order,
    do_request_extension,
    do_sign_work_order,
)
from dispatch.actions.tickets import do_revisit_ticket
from dispatch.deadlines.actions import do_publish_calendar_year
from dispatch.deadlines.escalations import claim_due_timers, do_fire_timers, fire_due_timers
from dispatch.models import (
    Escalation,
    Reprimand,
    StageClock,
    SupervisionCase,
    TimelineEntry,
    Timer,
    WorkOrder,
)
from realtime.audience import audience_of, may_receive
from realtime.models import Event
from tests.conftest import World, ticket_payload

pytestmark = pytest.mark.django_db
CST = ZoneInfo("Asia/Shanghai")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


def dispatched(world: World, when: str, **payload: Any) -> WorkOrder:
    with clock.pinned_at(at(when)):
        ticket, _created = do_create_ticket(ticket_payload(**payload), actor=world.users["operator"])
        do_dispatch_ticket(
            ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk, override_reason="test"
        )
    return WorkOrder.objects.get(ticket=ticket)


def fire_at(when: str) -> dict[str, int]:
    with clock.pinned_at(at(when)):
        return fire_due_timers().by_level


def running(work_order: WorkOrder, stage: str) -> StageClock:
    return StageClock.objects.get(work_order=work_order, stage=stage, stopped_at__isnull=True)


def test_warning_then_yellow_then_red_card_with_a_supervision_case(world: World) -> None:
    work_order = dispatched(world, "2026-03-02 10:00")  # Monday; sign within 1 working day
    sign = running(work_order, "sign")
    assert sign.due_at == at("2026-03-04 00:00")
    assert sign.warn_at == at("2026-03-03 16:24")  # 0.8 of 38 working hours
    assert fire_at("2026-03-03 16:23") == {}
    assert fire_at("2026-03-03 16:24") == {"warning": 1}
    assert fire_at("2026-03-03 23:59") == {}
    assert fire_at("2026-03-04 00:00") == {"overdue": 1}
    red = Timer.objects.get(clock=sign, level="serious")
    assert red.fire_at == at("2026-03-11 00:00")  # five working days: 03-04..03-06, 03-09, 03-10
    assert fire_at("2026-03-10 23:59") == {}
    assert fire_at("2026-03-11 00:00") == {"serious": 1}
    assert fire_at("2026-03-20 00:00") == {}

    escalations = list(Escalation.objects.filter(clock=sign).order_by("id"))
    assert [(e.level, e.agency_id, e.stage, e.due_at) for e in escalations] == [
        ("warning", world.agency_a.pk, "sign", at("2026-03-04 00:00")),
        ("overdue", world.agency_a.pk, "sign", at("2026-03-04 00:00")),
        ("serious", world.agency_a.pk, "sign", at("2026-03-04 00:00")),
    ]
    assert [e.fired_at for e in escalations] == [at("2026-03-03 16:24"), at("2026-03-04 00:00"), at("2026-03-11 00:00")]
    case = SupervisionCase.objects.get(work_order=work_order)
    assert case.state == "open" and escalations[2].supervision_case_id == case.pk
    # The instruction names the deadline as people write it (local time, no ISO "T" or offset).
    assert "2026-03-04 00:00" in case.instruction and "T00:00" not in case.instruction and "+08" not in case.instruction
    assert Reprimand.objects.filter(agency=world.agency_a, escalation=escalations[2]).count() == 1

    steps = list(
        TimelineEntry.objects.filter(work_order=work_order, action__startswith="escalate_").values_list(
            "action", "created_at", "data__level"
        )
    )
    assert steps == [
        ("escalate_warning", at("2026-03-03 16:24"), "warning"),
        ("escalate_overdue", at("2026-03-04 00:00"), "overdue"),
        ("escalate_serious", at("2026-03-11 00:00"), "serious"),
    ]
    data = TimelineEntry.objects.filter(work_order=work_order, action="escalate_overdue").get().data
    assert data == {"escalation_id": escalations[1].pk, "stage": "sign", "level": "overdue", "due_at": data["due_at"]}
    assert dt.datetime.fromisoformat(data["due_at"]) == at("2026-03-04 00:00")
    events = list(Event.objects.filter(type="work_order.escalated").order_by("id"))
    # Each step fired in its own batch here: one event each, listing one escalation.
    fired: list[list[dict[str, Any]]] = [event.payload["escalations"] for event in events]
    assert [len(listed) for listed in fired] == [1, 1, 1]
    assert dt.datetime.fromisoformat(fired[1][0]["due_at"]) == at("2026-03-04 00:00")
    assert dt.datetime.fromisoformat(events[1].payload["fired_at"]) == at("2026-03-04 00:00")
    assert [listed[0]["level"] for listed in fired] == ["warning", "overdue", "serious"]
    assert [listed[0]["escalation_id"] for listed in fired] == [e.pk for e in escalations]
    assert fired[2][0]["supervision_case_id"] == case.pk
    assert fired[0][0]["work_order_id"] == work_order.pk and events[0].payload["agency_id"] == world.agency_a.pk
    assert events[0].agency_ids == [world.agency_a.pk] and events[0].ticket_id == work_order.ticket_id
    # The agency and the centre receive them; another agency does not.
    for who, expected in (("handler_a", True), ("agencyadmin_a", True), ("supervisor", True), ("handler_b", False)):
        audience = audience_of(world.users[who])
        assert audience is not None and may_receive(audience, events[1]) is expected, who


def test_a_clock_stopped_before_its_timers_never_escalates(world: World) -> None:
    work_order = dispatched(world, "2026-03-02 10:00")
    with clock.pinned_at(at("2026-03-02 11:00")):
        do_sign_work_order(work_order.pk, actor=world.users["handler_a"])
    sign = StageClock.objects.get(work_order=work_order, stage="sign")
    assert set(Timer.objects.filter(clock=sign).values_list("level", "outcome")) == {
        ("warning", "cancelled"),
        ("overdue", "cancelled"),
    }
    handle = running(work_order, "handle")
    assert handle.due_at == at("2026-03-10 00:00")  # the subject's own 5wd
    assert fire_at("2026-03-09 23:00") == {"warning": 1}  # only the handle clock's warning
    assert not Escalation.objects.filter(clock=sign).exists()


def test_a_timer_due_while_the_clock_ran_still_fires_after_the_clock_stopped(world: World) -> None:
    work_order = dispatched(world, "2026-03-02 10:00")
    # Nobody fired the timers in time (worker down); the agency signs late.
    with clock.pinned_at(at("2026-03-04 09:00")):
        do_sign_work_order(work_order.pk, actor=world.users["handler_a"])
    assert fire_at("2026-03-04 09:01") == {"warning": 1, "overdue": 1}
    # The stage ended late but not five working days late: no red card is armed for it.
    assert not Timer.objects.filter(clock__stage="sign", level="serious").exists()


def test_extension_approval_sets_a_new_handle_deadline_with_its_own_ladder(world: World) -> None:
    work_order = dispatched(world, "2026-03-02 10:00")
    with clock.pinned_at(at("2026-03-02 11:00")):
        do_sign_work_order(work_order.pk, actor=world.users["handler_a"])
    old = running(work_order, "handle")
    with clock.pinned_at(at("2026-03-05 10:00")):
        do_request_extension(
            work_order.pk, actor=world.users["handler_a"], reason="需协调", requested_due_at=at("2026-03-17 00:00")
        )
    with clock.pinned_at(at("2026-03-06 10:00")):
        do_decide_extension(work_order.pk, actor=world.users["dispatcher"], approve=True)
    old.refresh_from_db()
    assert old.stopped_by == "approve_extension" and old.due_at == at("2026-03-10 00:00")
    new = running(work_order, "handle")
    assert new.due_at == at("2026-03-17 00:00")
    assert set(Timer.objects.filter(clock=old).values_list("outcome", flat=True)) == {"cancelled"}
    assert fire_at("2026-03-10 00:00") == {}  # the old deadline passes quietly
    assert Timer.objects.get(clock=new, level="overdue").fire_at == at("2026-03-17 00:00")
    assert fire_at("2026-03-17 00:00") == {"warning": 1, "overdue": 1}


def test_redo_starts_a_new_handle_deadline_from_the_policy(world: World) -> None:
    work_order = dispatched(world, "2026-03-02 10:00")
    ticket_id = work_order.ticket_id
    with clock.pinned_at(at("2026-03-02 11:00")):
        do_sign_work_order(work_order.pk, actor=world.users["handler_a"])
        do_reply_work_order(work_order.pk, actor=world.users["handler_a"], reply="已处理", outcome="resolved")
        do_approve_work_order(work_order.pk, actor=world.users["dispatcher"])
        do_revisit_ticket(ticket_id, actor=world.users["operator"], satisfaction="unsatisfied", resolved=False)
    with clock.pinned_at(at("2026-03-12 15:00")):  # Thursday
        do_redo_ticket(ticket_id, actor=world.users["dispatcher"], note="市民不满意")
    handles = list(StageClock.objects.filter(work_order=work_order, stage="handle").order_by("id"))
    assert len(handles) == 2 and handles[0].stopped_by == "reply"
    assert handles[1].started_at == at("2026-03-12 15:00")
    assert handles[1].due_at == at("2026-03-20 00:00")  # 5wd: 03-13, 03-16..03-19


def test_a_year_outside_every_calendar_is_a_deadline_error_until_the_year_is_published(world: World) -> None:
    # The provisional calendar ends with 2099: a deadline reaching 2100 has none until 2100 is published.
    work_order = dispatched(world, "2099-12-31 10:00")
    sign = running(work_order, "sign")
    assert (sign.due_at, sign.due_error) == (None, "calendar_year_unpublished")
    assert not Timer.objects.filter(clock=sign).exists()
    event = Event.objects.get(type="work_order.deadline_unknown")
    assert event.payload["clock_id"] == sign.pk and event.payload["error"] == "calendar_year_unpublished"
    assert event.agency_ids == [world.agency_a.pk]
    with clock.pinned_at(at("2100-01-02 09:00")):
        do_publish_calendar_year(2100, holidays=[(dt.date(2100, 1, 1), "元旦")])
    sign.refresh_from_db()
    # Mon 01-04; still provisional: 2099-12-31 is a day of 2099, which runs on the provisional calendar.
    assert (sign.due_at, sign.due_error, sign.due_provisional) == (at("2100-01-05 00:00"), "", True)
    assert fire_at("2100-01-05 00:00") == {"warning": 1, "overdue": 1}


def test_a_claim_is_taken_again_only_after_its_lease_and_fires_once(world: World) -> None:
    dispatched(world, "2026-03-02 10:00")
    now = at("2026-03-04 00:00")
    token_a, ids_a = claim_due_timers(now=now, lease_seconds=60)
    assert len(ids_a) == 2  # warning and yellow card
    assert claim_due_timers(now=now + dt.timedelta(seconds=59), lease_seconds=60)[1] == []
    token_b, ids_b = claim_due_timers(now=now + dt.timedelta(seconds=61), lease_seconds=60)
    assert sorted(ids_b) == sorted(ids_a)
    # The first worker woke up late: its token is gone, it fires nothing.
    assert do_fire_timers(token_a, ids_a, now=now).fired == 0
    assert do_fire_timers(token_b, ids_b, now=now).fired == 2
    assert do_fire_timers(token_b, ids_b, now=now).fired == 0
    assert Escalation.objects.count() == 2
    # One batch, one agency: one event listing both steps.
    (event,) = Event.objects.filter(type="work_order.escalated")
    assert [step["level"] for step in event.payload["escalations"]] == ["warning", "overdue"]
