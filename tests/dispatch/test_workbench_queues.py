"""The workbench's queues: each count equals the database, for the centre and for an agency, after a day of
real actions and again after each further action; rows come by deadline with the clock that matters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from callcenter.models import Ticket
from core import clock
from dispatch.actions import (
    do_approve_work_order,
    do_decide_extension,
    do_redispatch_ticket,
    do_reject_return,
    do_reply_work_order,
    do_revisit_ticket,
    do_sign_work_order,
)
from dispatch.actions.work_orders import do_answer_supervision
from dispatch.models import (
    Escalation,
    ExtensionRequest,
    StageClock,
    SupervisionCase,
    TimelineEntry,
    WorkOrder,
)
from tests.conftest import World
from tests.dispatch.workbench_scene import LATER, MONDAY, build_scene
from tests.second_factor import verified_login

pytestmark = pytest.mark.django_db
RANK = {"warning": 1, "overdue": 2, "serious": 3}


def api_counts(world: World, who: str) -> dict[str, int]:
    response = world.client(who).get("/api/queues/")
    assert response.status_code == 200, response.content
    return {queue["name"]: queue["count"] for queue in response.json()["queues"]}


def _highest(clock_ids: list[int]) -> dict[int, str]:
    levels: dict[int, str] = {}
    for clock_id, level in Escalation.objects.filter(clock_id__in=clock_ids).values_list("clock_id", "level"):
        if RANK[level] > RANK.get(levels.get(clock_id, ""), 0):
            levels[clock_id] = level
    return levels


def _sent_back(work_orders: list[WorkOrder]) -> int:
    count = 0
    for wo in work_orders:
        entries = TimelineEntry.objects.filter(work_order=wo, to_state="handling").exclude(from_state="handling")
        latest = entries.order_by("-id").first()
        count += bool(wo.state == "handling" and latest and latest.action in ("send_back", "redo"))
    return count


def db_counts(agency_id: int | None) -> dict[str, int]:
    """The same numbers computed another way: plain filters and Python over the rows."""
    now = clock.now()
    work_orders = WorkOrder.objects.all() if agency_id is None else WorkOrder.objects.filter(agency_id=agency_id)
    clocks = StageClock.objects.filter(stopped_at__isnull=True)
    if agency_id is not None:
        clocks = clocks.filter(work_order__agency_id=agency_id, stage__in=["sign", "handle"])
    running = list(clocks)
    levels = _highest([c.pk for c in running])
    counts = {
        "extensions": ExtensionRequest.objects.filter(state="pending", work_order__in=work_orders).count(),
        "supervision": SupervisionCase.objects.filter(state="open", work_order__in=work_orders).count(),
        "return_requests": work_orders.filter(state="return_requested").count(),
        "overdue": sum(1 for c in running if c.due_at is not None and c.due_at < now),
        "yellow": sum(1 for c in running if levels.get(c.pk) == "overdue"),
        "red": sum(1 for c in running if levels.get(c.pk) == "serious"),
    }
    if agency_id is None:
        counts.update(
            to_dispatch=Ticket.objects.filter(state="accepted").count(),
            returned=Ticket.objects.filter(state="returned").count(),
            to_revisit=Ticket.objects.filter(state="pending_revisit").count(),
            to_review=WorkOrder.objects.filter(state="replied").count(),
        )
    else:
        counts.update(
            to_sign=work_orders.filter(state="pending_sign").count(),
            handling=work_orders.filter(state="handling").count(),
            sent_back=_sent_back(list(work_orders)),
        )
    return counts


def check_counts(world: World) -> dict[str, dict[str, int]]:
    dispatcher, supervisor = api_counts(world, "dispatcher"), api_counts(world, "supervisor")
    centre = db_counts(None)
    assert dispatcher == {k: centre[k] for k in dispatcher}
    assert set(dispatcher) == {
        "to_dispatch", "returned", "return_requests", "to_review", "extensions", "to_revisit", "overdue", "yellow",
        "red",
    }  # fmt: skip
    assert supervisor == {k: centre[k] for k in ("extensions", "supervision", "overdue", "yellow", "red")}
    agencies = {}
    for who, agency in (("handler_a", world.agency_a), ("handler_b", world.agency_b), ("handler_c", world.agency_c)):
        counted = api_counts(world, who)
        assert counted == db_counts(agency.pk), who
        agencies[who] = counted
    assert api_counts(world, "agencyadmin_a") == agencies["handler_a"]
    return {"centre": centre, **agencies}


def test_counts_equal_the_database_after_every_action(world: World) -> None:
    scene = build_scene(world)
    users = world.users
    with clock.pinned_at(LATER):
        seen = check_counts(world)
        # Not vacuous: the scene put something in each queue.
        assert seen["centre"] == {
            "to_dispatch": 1,
            "returned": 1,
            "return_requests": 1,
            "to_review": 1,
            "extensions": 1,
            "to_revisit": 1,
            "supervision": seen["centre"]["supervision"],
            "overdue": seen["centre"]["overdue"],
            "yellow": seen["centre"]["yellow"],
            "red": seen["centre"]["red"],
        }
        assert seen["centre"]["overdue"] >= 3 and seen["centre"]["yellow"] >= 1 and seen["centre"]["red"] >= 1
        assert seen["centre"]["supervision"] >= 2  # the supervisor's two, and those red cards opened
        a = seen["handler_a"]
        assert (a["to_sign"], a["handling"], a["sent_back"], a["extensions"], a["return_requests"]) == (3, 2, 1, 1, 1)
        assert a["supervision"] >= 1
        assert a["red"] >= 1 and a["yellow"] >= 1
        assert seen["handler_c"] == dict.fromkeys(seen["handler_c"], 0)

        steps: list[Any] = [
            lambda: do_sign_work_order(scene.work_orders["to_sign"].pk, actor=users["handler_a"]),
            lambda: do_answer_supervision(scene.work_orders["to_sign"].pk, actor=users["handler_a"], answer="已签收"),
            lambda: do_decide_extension(scene.work_orders["handling"].pk, actor=users["dispatcher"], approve=True),
            lambda: do_reply_work_order(
                scene.work_orders["sent_back"].pk, actor=users["handler_a"], reply="已补充", outcome="resolved"
            ),
            lambda: do_approve_work_order(scene.work_orders["replied"].pk, actor=users["dispatcher"]),
            lambda: do_revisit_ticket(
                scene.tickets["revisit"].pk, actor=users["operator"], satisfaction="satisfied", resolved=True
            ),
            lambda: do_redispatch_ticket(
                scene.tickets["returned"].pk,
                actor=users["dispatcher"],
                lead_agency_id=world.agency_c.pk,
                override_reason="test",
            ),
            lambda: do_sign_work_order(scene.work_orders["late"].pk, actor=users["handler_a"]),
            lambda: do_reject_return(
                scene.work_orders["return_requested"].pk, actor=users["dispatcher"], reason="属于本单位职责"
            ),
        ]
        for step in steps:
            step()
            after = check_counts(world)
        assert after["centre"]["returned"] == 0 and after["handler_c"]["to_sign"] == 1
        assert after["handler_a"]["sent_back"] == 0 and after["handler_a"]["extensions"] == 0
        assert after["centre"]["return_requests"] == 0 and after["handler_a"]["to_sign"] == 2  # back to sign


def test_queue_rows_come_by_deadline_with_their_clock(world: World) -> None:
    scene = build_scene(world)
    with clock.pinned_at(LATER):
        client = world.client("handler_a")
        body = client.get("/api/queues/to_sign/").json()
        assert body["queue"]["name"] == "to_sign" and body["count"] == 3
        dues = [row["clock"]["due_at"] for row in body["results"]]
        assert dues == sorted(dues) and all(dues)
        first = body["results"][0]
        assert first["work_order"]["id"] == scene.work_orders["to_sign"].pk
        assert first["clock"]["stage"] == "sign" and first["clock"]["overdue"] is True
        assert first["clock"]["level"] == "serious" and first["clock"]["level_label"]
        assert first["ticket"]["url"] == f"/tickets/{scene.tickets['to_sign'].number}/"
        assert "supervision" not in first and "extension" not in first  # only those queues' rows carry them

        extension = client.get("/api/queues/extensions/").json()["results"][0]
        assert extension["extension"]["reason"] == "需协调执法力量"
        assert extension["clock"]["stage"] == "handle"
        returning = world.client("dispatcher").get("/api/queues/return_requests/").json()["results"][0]
        assert returning["return_request"] == {"reason": "应由供水公司处理", "legal_basis": "供水条例"}
        assert returning["work_order"]["state"] == "return_requested" and returning["clock"]["stage"] == "sign"
        case = client.get("/api/queues/supervision/").json()["results"][0]
        assert case["supervision"]["instruction"] == "请尽快签收"

        red = world.client("supervisor").get("/api/queues/red/").json()
        assert red["count"] >= 1 and all(row["clock"]["level"] == "serious" for row in red["results"])
        revisit = world.client("operator").get("/api/queues/to_revisit/").json()["results"][0]
        assert revisit["clock"]["stage"] == "revisit" and revisit["work_order"] is None
        accepted = world.client("operator").get("/api/queues/to_dispatch/").json()["results"][0]
        assert accepted["clock"] is None and accepted["ticket"]["caller_phone"] == "+8613900000001"


def test_pagination_and_queues_the_viewer_lacks(world: World) -> None:
    build_scene(world)
    with clock.pinned_at(LATER):
        client = world.client("handler_a")
        first = client.get("/api/queues/to_sign/", {"limit": 2}).json()
        second = client.get("/api/queues/to_sign/", {"limit": 2, "offset": 2}).json()
        assert first["count"] == second["count"] == 3
        keys = [r["key"] for r in first["results"]] + [r["key"] for r in second["results"]]
        assert len(set(keys)) == 3 and first["next"] and second["next"] is None
        assert client.get("/api/queues/to_dispatch/").status_code == 404  # a centre queue
        assert client.get("/api/queues/nonsense/").status_code == 404
        assert world.client("dispatcher").get("/api/queues/to_sign/").status_code == 404
        assert world.client("nobody").get("/api/queues/").json()["queues"] == []
        refused = world.client("dispatcher").get("/api/queues/to_dispatch/", {"limit": "x"})
        assert refused.status_code == 400 and "limit" in refused.json()["fields"]  # not silently the default


def test_the_page_opens_for_centre_and_agency_staff_only(world: World, client: Any) -> None:
    for who, status in (("dispatcher", 200), ("supervisor", 200), ("handler_a", 200), ("nobody", 403)):
        verified_login(client, world.users[who])
        response = client.get("/work/")
        assert response.status_code == status, who
        if status == 200:
            page = response.content.decode()
            assert "dispatch/workbench/main.js" in page and 'lang="zh-hans"' in page
            assert ("wb-f-phone" in page) == (who != "handler_a")
    assert MONDAY < LATER and dt.timedelta(0) < LATER - MONDAY


def test_a_page_costs_the_same_queries_however_many_rows(world: World) -> None:
    build_scene(world)
    with clock.pinned_at(LATER):
        for who, url in (
            ("dispatcher", "/api/queues/overdue/"),
            ("supervisor", "/api/queues/supervision/"),
            ("handler_a", "/api/queues/to_sign/"),
            ("handler_a", "/api/queues/extensions/"),
            ("dispatcher", "/api/queues/return_requests/"),
            ("dispatcher", "/api/queues/to_dispatch/"),
            ("dispatcher", "/api/search/tickets/"),
            ("handler_a", "/api/search/tickets/"),
        ):
            client = world.client(who)
            client.get(url)  # warm the per-process caches
            with CaptureQueriesContext(connection) as one:
                small = client.get(url, {"limit": 1}).json()
            with CaptureQueriesContext(connection) as many:
                large = client.get(url, {"limit": 50}).json()
            assert len(large["results"]) >= 1
            assert len(one.captured_queries) == len(many.captured_queries), (url, len(large["results"]))
            assert len(many.captured_queries) <= 8, url
            assert small["count"] == large["count"]
