"""A small city's day for the workbench tests, built only through the real actions: one ticket in each queue
(a return approved by the centre, another still awaiting its decision), two agencies' work side by side (a
shared ticket too), an extension request, supervision cases, and clocks that ran out into yellow and red cards
through the timer worker's real firing path."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.actions import do_create_ticket
from callcenter.models import Ticket
from core import clock
from dispatch.actions import (
    do_approve_return,
    do_approve_work_order,
    do_dispatch_ticket,
    do_reply_work_order,
    do_request_extension,
    do_return_work_order,
    do_send_back_work_order,
    do_sign_work_order,
    do_supervise_work_order,
)
from dispatch.deadlines.escalations import fire_due_until
from dispatch.models import WorkOrder
from tests.conftest import World, ticket_payload

CST = ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 3, 2, 9, 30, tzinfo=CST)
THURSDAY = dt.datetime(2026, 3, 5, 10, 0, tzinfo=CST)
#: After the red card of Monday's unsigned work (five working days after its yellow card on Wednesday 00:00).
LATER = dt.datetime(2026, 3, 11, 9, 0, tzinfo=CST)


@dataclasses.dataclass
class Scene:
    tickets: dict[str, Ticket]
    work_orders: dict[str, WorkOrder]


def _lead(ticket: Ticket, agency_id: int) -> WorkOrder:
    return WorkOrder.objects.filter(ticket=ticket, agency_id=agency_id).order_by("-id").first()  # type: ignore[return-value]


def build_scene(world: World) -> Scene:
    users = world.users
    a, b = world.agency_a.pk, world.agency_b.pk
    tickets: dict[str, Ticket] = {}
    work_orders: dict[str, WorkOrder] = {}

    def ticket(key: str, **payload: Any) -> Ticket:
        created, _ = do_create_ticket(ticket_payload(**payload), actor=users["operator"])
        tickets[key] = created
        return created

    def dispatch(key: str, lead: int, co: list[int] | None = None) -> WorkOrder:
        do_dispatch_ticket(
            tickets[key].pk, actor=users["dispatcher"], lead_agency_id=lead, co_agency_ids=co, override_reason="test"
        )
        work_orders[key] = _lead(tickets[key], lead)
        return work_orders[key]

    with clock.pinned_at(MONDAY):
        ticket(
            "accepted",
            phone="13900000001",
            title="路灯不亮",
            description="文惠路路灯连续三晚不亮，行人夜间出行不便。",
            address="城中区文惠路88号",
            subject="t-vendors",
            urgency="urgent",
            channel="web",
        )
        ticket("to_sign", phone="13900000002", title="垃圾桶满溢", description="小区垃圾桶满溢无人清理。")
        ticket("handling", phone="13900000003", title="占道经营", subject="t-vendors", description="夜市摊贩占道。")
        ticket("returned", phone="13900000004", title="物业不作为", subject="t-property", description="电梯长期故障。")
        ticket("replied", phone="13900000005", title="建筑垃圾", description="工地建筑垃圾乱倒。")
        ticket("sent_back", phone="13900000006", title="清运不及时", description="垃圾清运车每周只来一次。")
        ticket("revisit", phone="13900000007", title="垃圾站异味", description="垃圾站夏天异味很大。")
        ticket("shared", phone="13900000008", title="小区环境差", subject="t-property", description="物业与城管共管。")
        ticket("return_requested", phone="13900000011", title="井盖缺失", description="人行道井盖缺失，存在安全隐患。")
        dispatch("to_sign", a)
        dispatch("handling", a)
        dispatch("returned", b)
        dispatch("replied", a)
        dispatch("sent_back", a)
        dispatch("revisit", a)
        dispatch("shared", b, co=[a])
        dispatch("return_requested", a)
        work_orders["shared_co"] = _lead(tickets["shared"], a)
        for key in ("handling", "replied", "sent_back", "revisit"):
            do_sign_work_order(work_orders[key].pk, actor=users["handler_a"])
        do_return_work_order(
            work_orders["returned"].pk, actor=users["handler_b"], reason="不属于本单位", legal_basis="物业管理条例"
        )
        do_approve_return(work_orders["returned"].pk, actor=users["dispatcher"])
        do_return_work_order(
            work_orders["return_requested"].pk,
            actor=users["handler_a"],
            reason="应由供水公司处理",
            legal_basis="供水条例",
        )
        for key in ("replied", "sent_back", "revisit"):
            do_reply_work_order(work_orders[key].pk, actor=users["handler_a"], reply="已处理", outcome="resolved")
        do_send_back_work_order(work_orders["sent_back"].pk, actor=users["dispatcher"], note="请补充照片")
        do_approve_work_order(work_orders["revisit"].pk, actor=users["dispatcher"])
        do_request_extension(
            work_orders["handling"].pk,
            actor=users["handler_a"],
            reason="需协调执法力量",
            requested_due_at=dt.datetime(2026, 3, 31, 18, 0, tzinfo=CST),
        )
        do_supervise_work_order(work_orders["to_sign"].pk, actor=users["supervisor"], instruction="请尽快签收")
        do_supervise_work_order(work_orders["shared"].pk, actor=users["supervisor"], instruction="请住建局跟进")
    with clock.pinned_at(THURSDAY):
        ticket("late", phone="13900000009", title="夜间施工噪音", description="工地夜间施工。")
        dispatch("late", a)
    fire_due_until(LATER)
    return Scene(tickets, work_orders)
