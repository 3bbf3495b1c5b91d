"""A hand-built month of work whose every KPI is known by construction (shared by the KPI, API and
export tests). Everything goes through the real actions with the clock pinned.

Period [2026-03-02, 2026-03-07) (Asia/Shanghai). Judged at AS_OF (2026-03-31), after every deadline.

Agency A (cgj), lead on T1..T9:
  WO1 signed on time, replied on time (1 working hour after signing), approved; revisit satisfied, resolved; closed
  WO2 signed late; replied on time; approved; revisit unsatisfied -> redo -> replied on time, approved;
      revisit basically satisfied, resolved
  WO3 signed on time; extension approved; replied on time; approved; awaiting revisit
  WO4 signed on time; never replied (its handling deadline passed: late while still open)
  WO5 never signed (sign deadline passed)
  WO6 returned before signing
  WO7 withdrawn by the centre (cancelled: not in the cohort)
  WO8 dispatched 2026-03-09 00:30 local (16:30 UTC the day before): outside the period
  WO9 signed on time; replied late; approved; revisit unsatisfied, unresolved
Agency B (zjj), lead on T10, T11: both signed and replied on time, approved.
Agency C (sjj), co-handler on T1: signed and replied on time, approved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from callcenter import actions as intake
from callcenter.models import Ticket
from core import clock
from dispatch import actions as dispatching
from dispatch.actions import tickets as ticket_actions
from dispatch.models import Stage, StageClock, WorkOrder
from dispatch.supervision.kpis import Period
from tests.conftest import World, ticket_payload

ZONE = ZoneInfo("Asia/Shanghai")
PERIOD = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 7))
AS_OF = dt.datetime(2026, 3, 31, 12, 0, tzinfo=ZONE)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=ZONE)


@dataclass
class Dataset:
    world: World
    tickets: dict[str, Ticket] = field(default_factory=dict)
    work_orders: dict[str, WorkOrder] = field(default_factory=dict)

    def wo_ids(self, *names: str) -> list[int]:
        return sorted(self.work_orders[name].pk for name in names)

    def ticket_ids(self, *names: str) -> list[int]:
        return sorted(self.tickets[name].pk for name in names)


def _due(work_order: WorkOrder, stage: str) -> dt.datetime:
    running = StageClock.objects.get(work_order=work_order, stage=stage, stopped_at__isnull=True)
    assert running.due_at is not None
    return running.due_at


class _Builder:
    def __init__(self, world: World) -> None:
        self.world = world
        self.data = Dataset(world)
        self.users = world.users

    def ticket(self, name: str, when: dt.datetime, lead: str, co: list[str] | None = None) -> None:
        agencies = {"a": self.world.agency_a, "b": self.world.agency_b, "c": self.world.agency_c}
        with clock.pinned_at(when):
            ticket, _created = intake.do_create_ticket(
                ticket_payload(title=f"{name} 垃圾未清运", phone=f"1381234{len(self.data.tickets):04d}"),
                actor=self.users["operator"],
            )
            dispatching.do_dispatch_ticket(
                ticket.pk,
                actor=self.users["dispatcher"],
                lead_agency_id=agencies[lead].pk,
                co_agency_ids=[agencies[c].pk for c in co or []],
                override_reason="测试指定",
            )
        self.data.tickets[name] = ticket
        for wo in WorkOrder.objects.filter(ticket=ticket).select_related("agency"):
            key = name.replace("T", "WO") if wo.responsibility == "lead" else f"{name}-{wo.agency.code}"
            self.data.work_orders[key] = wo

    def act(self, when: dt.datetime, function, *args, **kwargs):  # type: ignore[no-untyped-def]
        with clock.pinned_at(when):
            return function(*args, **kwargs)

    def sign(self, wo: str, when: dt.datetime, who: str = "handler_a") -> None:
        self.act(when, dispatching.do_sign_work_order, self.data.work_orders[wo].pk, actor=self.users[who])

    def sign_late(self, wo: str, who: str = "handler_a") -> dt.datetime:
        when = _due(self.data.work_orders[wo], Stage.SIGN) + dt.timedelta(hours=1)
        self.sign(wo, when, who)
        return when

    def reply(self, wo: str, when: dt.datetime, who: str = "handler_a") -> None:
        self.act(
            when,
            dispatching.do_reply_work_order,
            self.data.work_orders[wo].pk,
            actor=self.users[who],
            reply="已处理",
            outcome="resolved",
        )

    def reply_late(self, wo: str) -> dt.datetime:
        when = _due(self.data.work_orders[wo], Stage.HANDLE) + dt.timedelta(hours=1)
        self.reply(wo, when)
        return when

    def approve(self, wo: str, when: dt.datetime) -> None:
        self.act(when, dispatching.do_approve_work_order, self.data.work_orders[wo].pk, actor=self.users["dispatcher"])

    def revisit(self, ticket: str, when: dt.datetime, satisfaction: str, resolved: bool | None) -> None:
        self.act(
            when,
            ticket_actions.do_revisit_ticket,
            self.data.tickets[ticket].pk,
            actor=self.users["operator"],
            satisfaction=satisfaction,
            resolved=resolved,
        )


def build(world: World) -> Dataset:
    b = _Builder(world)
    for number in range(1, 8):
        b.ticket(f"T{number}", at(2, 9), "a", co=["c"] if number == 1 else None)
    b.ticket("T9", at(2, 9), "a")
    b.ticket("T10", at(3, 9), "b")
    b.ticket("T11", at(3, 9), "b")

    # WO1 (+ C's co-handling work order on T1)
    b.sign("WO1", at(2, 10))
    b.sign("T1-sjj", at(2, 10), who="handler_c")
    b.reply("WO1", at(2, 11))
    b.reply("T1-sjj", at(2, 11), who="handler_c")
    b.approve("WO1", at(2, 14))
    b.approve("T1-sjj", at(2, 14))
    b.revisit("T1", at(2, 16), "satisfied", True)
    b.act(at(2, 17), ticket_actions.do_close_ticket, b.data.tickets["T1"].pk, actor=world.users["dispatcher"])

    # WO2: late sign, redo
    signed = b.sign_late("WO2")
    b.reply("WO2", signed + dt.timedelta(hours=2))
    b.approve("WO2", signed + dt.timedelta(hours=3))
    b.revisit("T2", signed + dt.timedelta(hours=4), "unsatisfied", False)
    b.act(
        signed + dt.timedelta(hours=5),
        dispatching.do_redo_ticket,
        b.data.tickets["T2"].pk,
        actor=world.users["dispatcher"],
        note="市民不满意",
    )
    b.reply("WO2", signed + dt.timedelta(hours=6))
    b.approve("WO2", signed + dt.timedelta(hours=7))
    b.revisit("T2", signed + dt.timedelta(hours=8), "basically_satisfied", True)

    # WO3: extension
    b.sign("WO3", at(2, 10))
    wo3 = b.data.work_orders["WO3"]
    b.act(
        at(2, 10, 30),
        dispatching.do_request_extension,
        wo3.pk,
        actor=world.users["handler_a"],
        reason="需协调",
        requested_due_at=_due(wo3, Stage.HANDLE) + dt.timedelta(days=3),
    )
    b.act(at(2, 10, 45), dispatching.do_decide_extension, wo3.pk, actor=world.users["dispatcher"], approve=True)
    b.reply("WO3", at(2, 11, 30))
    b.approve("WO3", at(2, 15))

    # WO4: signed, never replied
    b.sign("WO4", at(2, 10))
    # WO5: never signed. WO6: returned before signing.
    b.act(
        at(2, 10),
        dispatching.do_return_work_order,
        b.data.work_orders["WO6"].pk,
        actor=world.users["handler_a"],
        reason="不属于本单位",
        legal_basis="三定方案",
    )
    b.act(at(2, 10), dispatching.do_approve_return, b.data.work_orders["WO6"].pk, actor=world.users["dispatcher"])
    # WO7: withdrawn by the centre.
    b.act(
        at(2, 9, 30),
        dispatching.do_cancel_work_order,
        b.data.work_orders["WO7"].pk,
        actor=world.users["dispatcher"],
        reason="派错",
    )
    # WO8: just after the period, by local date (still the 8th in UTC).
    b.ticket("T8", dt.datetime(2026, 3, 9, 0, 30, tzinfo=ZONE), "a")

    # WO9: late reply, unsatisfied and unresolved, not redone.
    b.sign("WO9", at(2, 10))
    replied = b.reply_late("WO9")
    b.approve("WO9", replied + dt.timedelta(hours=1))
    b.revisit("T9", replied + dt.timedelta(hours=2), "unsatisfied", False)

    # Agency B: two clean work orders.
    for name in ("WO10", "WO11"):
        b.sign(name, at(3, 10), who="handler_b")
        b.reply(name, at(3, 11), who="handler_b")
        b.approve(name, at(3, 14))
    return b.data
