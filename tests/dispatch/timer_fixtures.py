"""A small timer scenario for tests that need the timer event types (e.g. the socket scope test)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from callcenter.actions import do_create_ticket
from core import clock
from dispatch.actions import do_dispatch_ticket
from dispatch.deadlines.actions import do_publish_calendar_year
from dispatch.deadlines.escalations import fire_due_until
from organisation.actions import do_save_agency
from tests.conftest import World, ticket_payload

CST = ZoneInfo("Asia/Shanghai")


def timer_scenario(world: World) -> None:
    """work_order.escalated (warning and yellow card) for agency B; work_order.deadline_unknown (2100: outside
    every calendar) and work_order.deadlines_recomputed (a provisional 2027 deadline) for agency A;
    calendar.year_published for the centre; and reference.changed (an agency renamed by the administrator)."""
    users = world.users
    for when, agency, phone in (
        (dt.datetime(2026, 3, 2, 10, 0, tzinfo=CST), world.agency_b, "13900000021"),
        (dt.datetime(2099, 12, 31, 10, 0, tzinfo=CST), world.agency_a, "13900000022"),  # 2100: no calendar
        (dt.datetime(2026, 12, 31, 10, 0, tzinfo=CST), world.agency_a, "13900000023"),  # 2027: provisional
    ):
        with clock.pinned_at(when):
            ticket, _created = do_create_ticket(ticket_payload(phone=phone), actor=users["operator"])
            do_dispatch_ticket(ticket.pk, actor=users["dispatcher"], lead_agency_id=agency.pk, override_reason="test")
    fire_due_until(dt.datetime(2026, 3, 4, 0, 0, tzinfo=CST))
    with clock.pinned_at(dt.datetime(2027, 1, 1, 9, 0, tzinfo=CST)):
        do_publish_calendar_year(2027, holidays=[(dt.date(2027, 1, 1), "元旦")], actor=users["admin"])
    world.agency_c.name = f"{world.agency_c.name}（更名）"
    do_save_agency(world.agency_c, actor=users["admin"], changed=["name"])
