"""Run inside the drill's cluster (``manage.py shell -c``): seed users and timers, read back the log.

    DRILL_ACTION=seed DRILL_USERS=10 DRILL_TIMERS=40 DRILL_SPREAD=60 \\
        manage.py shell -c "from tests.ops import drill_setup; drill_setup.main()"
    DRILL_ACTION=visible DRILL_NAMES=a,b ...       -> prints {"a": [event ids...], ...}
    DRILL_ACTION=facts ...                         -> prints counts the drill checks

The timers are a fixture shortcut, as in tests/dispatch/test_timer_workers.py: running sign clocks of one
ticket, each with a yellow-card timer, due at moments spread over the drill.
"""

from __future__ import annotations

import datetime as dt
import json
import os

from django.db import connection

from callcenter.actions import do_create_ticket
from core import clock
from dispatch.models import StageClock, Timer, WorkOrder
from organisation.actions import do_upsert_user
from organisation.models import Role, User
from realtime.audience import audience_of
from realtime.queries import events_for

PASSWORD = "drill-Passw0rd-12345"
DRILL_TITLES = "title LIKE '演练受理-%%'"
DRILL_ESCALATIONS = (
    "SELECT e.id::text FROM dispatch_escalation e JOIN dispatch_workorder w ON w.id = e.work_order_id "
    "WHERE w.number LIKE 'D%%'"
)
LISTED_ESCALATIONS = (
    "SELECT {what} FROM realtime_event e, jsonb_array_elements(e.payload -> 'escalations') AS item "
    f"WHERE e.type = 'work_order.escalated' AND item ->> 'escalation_id' IN ({DRILL_ESCALATIONS})"
)


def main() -> None:
    action = os.environ["DRILL_ACTION"]
    if action == "seed":
        users, timers = int(os.environ["DRILL_USERS"]), int(os.environ["DRILL_TIMERS"])
        print(json.dumps(seed(users, timers, float(os.environ["DRILL_SPREAD"]))))
    elif action == "visible":
        print(json.dumps(visible(os.environ["DRILL_NAMES"].split(","))))
    elif action == "facts":
        print(json.dumps(facts()))


def seed(users: int, timers: int, spread: float) -> dict[str, object]:
    operator = User.objects.get(username="operator")
    handler = User.objects.get(username="handler")
    centre_code = operator.agency.code if operator.agency else None
    agency = handler.agency
    assert agency is not None
    names: dict[str, list[str]] = {"centre": [], "agency": []}
    for index in range(users):
        centre = index % 2 == 0
        username = f"drill-{'op' if centre else 'h'}-{index}"
        do_upsert_user(
            username=username,
            password=PASSWORD,
            roles=[Role.OPERATOR if centre else Role.AGENCY_HANDLER],
            agency_code=centre_code if centre else agency.code,
        )
        names["centre" if centre else "agency"].append(username)
    now = clock.now()
    with clock.pinned_at(now - dt.timedelta(days=1)):
        ticket, _created = do_create_ticket(_payload(), actor=operator)
    work_orders = WorkOrder.objects.bulk_create(
        [
            WorkOrder(ticket=ticket, number=f"D{i:06d}", agency=agency, responsibility="co", created_at=now)
            for i in range(timers)
        ]
    )
    due = [now + dt.timedelta(seconds=10 + spread * i / max(timers - 1, 1)) for i in range(timers)]
    clocks = StageClock.objects.bulk_create(
        [
            StageClock(ticket=ticket, work_order=wo, stage="sign", started_at=now - dt.timedelta(hours=1), due_at=at)
            for wo, at in zip(work_orders, due, strict=True)
        ]
    )
    Timer.objects.bulk_create([Timer(clock=c, level="overdue", fire_at=at) for c, at in zip(clocks, due, strict=True)])
    return {
        "users": names,
        "password": PASSWORD,
        "agency_id": agency.pk,
        "seed_ticket": ticket.pk,
        "last_due": due[-1].isoformat(),
    }


def _payload() -> dict[str, object]:
    return {
        "channel": "phone",
        "phone": "13812341234",
        "caller_name": "演练",
        "appeal_type": "complaint",
        "subject": "garbage-collection",
        "urgency": "normal",
        "title": "演练计时",
        "description": "故障演练的计时工单。",
        "address": "柳州市城中区文惠路12号",
        "latitude": 24.3126,
        "longitude": 109.4112,
    }


def visible(usernames: list[str]) -> dict[str, list[int]]:
    result = {}
    for user in User.objects.filter(username__in=usernames):
        audience = audience_of(user)
        assert audience is not None
        result[user.username] = list(events_for(audience).order_by("id").values_list("id", flat=True))
    return result


def _one(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])


def facts() -> dict[str, object]:
    drill_work_orders = "JOIN dispatch_workorder w ON w.id = e.work_order_id WHERE w.number LIKE 'D%%'"
    return {
        "escalations": _one(f"SELECT COUNT(*) FROM dispatch_escalation e {drill_work_orders}"),
        "escalated_clocks": _one(f"SELECT COUNT(DISTINCT e.clock_id) FROM dispatch_escalation e {drill_work_orders}"),
        "escalations_in_events": _one(LISTED_ESCALATIONS.format(what="COUNT(*)")),
        "distinct_escalations_in_events": _one(
            LISTED_ESCALATIONS.format(what="COUNT(DISTINCT item ->> 'escalation_id')")
        ),
        "pending_timers": _one(
            "SELECT COUNT(*) FROM dispatch_timer t JOIN dispatch_stageclock c ON c.id = t.clock_id "
            "JOIN dispatch_workorder w ON w.id = c.work_order_id "
            "WHERE w.number LIKE 'D%%' AND t.level = 'overdue' AND t.done_at IS NULL"
        ),
        "drill_tickets": _one(f"SELECT COUNT(*) FROM callcenter_ticket WHERE {DRILL_TITLES}"),
        "distinct_drill_tickets": _one(f"SELECT COUNT(DISTINCT title) FROM callcenter_ticket WHERE {DRILL_TITLES}"),
        "max_event": _one("SELECT COALESCE(MAX(id), 0) FROM realtime_event"),
    }
