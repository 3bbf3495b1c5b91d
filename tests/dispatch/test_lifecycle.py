"""A ticket's whole life through the HTTP API, as real users of each role."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from core import clock
from tests.conftest import World, ticket_payload
from tests.pinned_time import WORKDAY_MORNING


def _post(world: World, who: str, url: str, body: dict | None = None, status: int = 200) -> dict:
    response = world.client(who).post(url, body or {}, format="json")
    assert response.status_code == status, response.content
    return response.json()


def _actions(world: World, ticket_id: int) -> list[tuple[str, str, str]]:
    rows = world.client("operator").get(f"/api/tickets/{ticket_id}/timeline/").json()
    return [(row["action"], row["from_state"], row["to_state"]) for row in rows]


def test_full_lifecycle_with_return_redispatch_extension_redo_and_cohandling(world: World) -> None:
    # Pinned: the deadlines (and the extension past them) must lie in a published calendar year on any day.
    with clock.pinned_at(WORKDAY_MORNING):
        created = _post(world, "operator", "/api/tickets/", ticket_payload(), status=201)
        ticket_id = created["id"]
        assert created["state"] == "accepted"
        assert created["number"].startswith("12345-") and created["number"].endswith("-000001")

        # Dispatched first to the wrong agency (housing), with urban management co-handling.
        ticket = _post(
            world,
            "dispatcher",
            f"/api/tickets/{ticket_id}/dispatch/",
            {"lead_agency_id": world.agency_b.pk, "co_agency_ids": [world.agency_c.pk], "instructions": "请核实处理"},
        )
        assert ticket["state"] == "dispatched"
        lead = next(wo for wo in ticket["work_orders"] if wo["responsibility"] == "lead")
        co = next(wo for wo in ticket["work_orders"] if wo["responsibility"] == "co")

        returned = _post(
            world,
            "handler_b",
            f"/api/work-orders/{lead['id']}/return/",
            {"reason": "不属于本单位职责", "legal_basis": "《柳州市城市市容和环境卫生管理条例》"},
        )
        # A return is a request: the ticket stays with the agency until the centre approves it.
        assert returned["state"] == "return_requested"
        assert world.client("operator").get(f"/api/tickets/{ticket_id}/").json()["state"] == "dispatched"
        approved_return = _post(
            world, "dispatcher", f"/api/work-orders/{lead['id']}/approve_return/", {"reason": "同意退回，另行派单"}
        )
        assert approved_return["state"] == "returned"
        assert world.client("operator").get(f"/api/tickets/{ticket_id}/").json()["state"] == "returned"

        ticket = _post(
            world, "dispatcher", f"/api/tickets/{ticket_id}/redispatch/", {"lead_agency_id": world.agency_a.pk}
        )
        assert ticket["state"] == "dispatched"
        new_lead = next(
            wo for wo in ticket["work_orders"] if wo["responsibility"] == "lead" and wo["state"] == "pending_sign"
        )

        _post(world, "handler_a", f"/api/work-orders/{new_lead['id']}/sign/")
        _post(world, "handler_c", f"/api/work-orders/{co['id']}/sign/")
        assert world.client("operator").get(f"/api/tickets/{ticket_id}/").json()["state"] == "in_progress"
        _post(world, "handler_a", f"/api/work-orders/{new_lead['id']}/note/", {"note": "已安排环卫工人现场查看"})

        due = world.client("handler_a").get(f"/api/work-orders/{new_lead['id']}/").json()["clocks"]
        handle_due = next(c for c in due if c["stage"] == "handle" and c["stopped_at"] is None)["due_at"]
        wanted = dt.datetime.fromisoformat(handle_due) + dt.timedelta(days=3)
        _post(
            world,
            "handler_a",
            f"/api/work-orders/{new_lead['id']}/request_extension/",
            {"reason": "需协调清运车辆", "requested_due_at": wanted.isoformat()},
        )
        approved = _post(world, "dispatcher", f"/api/work-orders/{new_lead['id']}/approve_extension/", {"note": "同意"})
        running = next(c for c in approved["clocks"] if c["stage"] == "handle" and c["stopped_at"] is None)
        assert dt.datetime.fromisoformat(running["due_at"]) == wanted
        assert approved["extension_requests"][0]["state"] == "approved"

        # The lead replies first: the ticket is not "replied" until the co-handler replies too.
        _post(
            world,
            "handler_a",
            f"/api/work-orders/{new_lead['id']}/reply/",
            {"reply": "垃圾已清运完毕", "outcome": "resolved"},
        )
        assert world.client("operator").get(f"/api/tickets/{ticket_id}/").json()["state"] == "in_progress"
        _post(world, "handler_c", f"/api/work-orders/{co['id']}/reply/", {"reply": "已配合检查", "outcome": "resolved"})
        assert world.client("operator").get(f"/api/tickets/{ticket_id}/").json()["state"] == "replied"

        _post(world, "dispatcher", f"/api/work-orders/{co['id']}/approve/")
        _post(world, "dispatcher", f"/api/work-orders/{new_lead['id']}/send_back/", {"note": "请补充现场照片"})
        assert world.client("operator").get(f"/api/tickets/{ticket_id}/").json()["state"] == "in_progress"
        _post(
            world,
            "handler_a",
            f"/api/work-orders/{new_lead['id']}/reply/",
            {"reply": "已补充照片，垃圾已清运", "outcome": "resolved"},
        )
        _post(world, "dispatcher", f"/api/work-orders/{new_lead['id']}/approve/")
        assert world.client("operator").get(f"/api/tickets/{ticket_id}/").json()["state"] == "pending_revisit"

        # Unsatisfied revisit -> redo -> the lead handles again.
        _post(
            world,
            "operator",
            f"/api/tickets/{ticket_id}/revisit/",
            {"satisfaction": "unsatisfied", "resolved": False, "note": "市民称仍有垃圾"},
        )
        ticket = _post(world, "dispatcher", f"/api/tickets/{ticket_id}/redo/", {"note": "市民不满意，请重新处理"})
        assert ticket["state"] == "in_progress" and ticket["redo_count"] == 1
        lead_now = next(wo for wo in ticket["work_orders"] if wo["id"] == new_lead["id"])
        assert lead_now["state"] == "handling" and lead_now["redo_count"] == 1

        _post(
            world,
            "handler_a",
            f"/api/work-orders/{new_lead['id']}/reply/",
            {"reply": "已彻底清理并增加清运频次", "outcome": "resolved"},
        )
        _post(world, "dispatcher", f"/api/work-orders/{new_lead['id']}/approve/")
        _post(world, "operator", f"/api/tickets/{ticket_id}/revisit/", {"satisfaction": "satisfied", "resolved": True})
        closed = _post(world, "operator", f"/api/tickets/{ticket_id}/close/")
        assert closed["state"] == "closed"
        assert {wo["state"] for wo in closed["work_orders"]} == {"returned", "closed"}

        steps = _actions(world, ticket_id)
        assert steps[0] == ("accept", "", "accepted")
        assert steps[-1] == ("close", "revisited", "closed")
        for expected in [
            ("return", "pending_sign", "return_requested"),
            ("approve_return", "return_requested", "returned"),
            ("redispatch", "returned", "dispatched"),
            ("approve_extension", "handling", "handling"),
            ("redo", "revisited", "in_progress"),
            ("redo", "approved", "handling"),
            ("follow_work_orders", "replied", "pending_revisit"),
        ]:
            assert expected in steps, expected

        # The agency reads the ticket back too, but only its own part of the timeline.
        agency_view = world.client("handler_a").get(f"/api/tickets/{ticket_id}/timeline/").json()
        assert agency_view and all(
            row["work_order"] is None or row["work_order"].endswith(("-03",)) for row in agency_view
        )


def test_resolve_directly_records_the_article(world: World, articles: None) -> None:
    ticket = _post(world, "operator", "/api/tickets/", ticket_payload(appeal_type="consultation"), status=201)
    article = world.client("operator").get("/api/knowledge/?q=垃圾清运时间").json()["results"][0]
    done = _post(
        world,
        "operator",
        f"/api/tickets/{ticket['id']}/resolve_directly/",
        {"answer": "已告知清运时间", "article_id": article["id"]},
    )
    assert done["state"] == "closed" and done["answered_by_article"] == "kb-garbage-times"
    assert done["closed_at"] is not None


def test_merge_keeps_every_caller_on_the_revisit_list(world: World) -> None:
    master = _post(world, "operator", "/api/tickets/", ticket_payload(), status=201)
    duplicate = _post(
        world, "operator", "/api/tickets/", ticket_payload(phone="13900001111", caller_name="李女士"), status=201
    )
    merged = _post(
        world,
        "operator",
        f"/api/tickets/{duplicate['id']}/merge/",
        {"master_id": master["id"], "note": "同一地点同一问题"},
    )
    assert merged["state"] == "merged" and merged["master"] == master["number"]
    master_now = world.client("operator").get(f"/api/tickets/{master['id']}/").json()
    assert {c["phone"] for c in master_now["callers"]} == {"+8613812341234", "+8613900001111"}
    # The second caller's history shows the duplicate and, through the revisit list, the master.
    history = world.client("operator").post("/api/callers/history/", {"phone": "139-0000-1111"}, format="json").json()
    assert [t["number"] for t in history["tickets"]] == [duplicate["number"], master["number"]]


def test_supervision_case_needs_a_written_answer(world: World) -> None:
    ticket = _post(world, "operator", "/api/tickets/", ticket_payload(), status=201)
    ticket = _post(world, "dispatcher", f"/api/tickets/{ticket['id']}/dispatch/", {"lead_agency_id": world.agency_a.pk})
    wo_id = ticket["work_orders"][0]["id"]
    _post(world, "supervisor", f"/api/work-orders/{wo_id}/urge/", {"note": "请尽快签收"})
    opened = _post(
        world,
        "supervisor",
        f"/api/work-orders/{wo_id}/supervise/",
        {"instruction": "请说明未签收原因", "answer_due_at": (timezone.now() + dt.timedelta(days=2)).isoformat()},
    )
    assert opened["urge_count"] == 1 and opened["supervision_cases"][0]["state"] == "open"
    again = world.client("supervisor").post(f"/api/work-orders/{wo_id}/supervise/", {"instruction": "x"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "supervision_open"
    answered = _post(
        world, "handler_a", f"/api/work-orders/{wo_id}/answer_supervision/", {"answer": "人员调整，已签收"}
    )
    assert answered["supervision_cases"][0]["state"] == "answered"


def test_cancel_withdraws_open_work_orders(world: World) -> None:
    ticket = _post(world, "operator", "/api/tickets/", ticket_payload(), status=201)
    _post(world, "dispatcher", f"/api/tickets/{ticket['id']}/dispatch/", {"lead_agency_id": world.agency_a.pk})
    cancelled = _post(world, "dispatcher", f"/api/tickets/{ticket['id']}/cancel/", {"reason": "市民撤回诉求"})
    assert cancelled["state"] == "cancelled"
    assert [wo["state"] for wo in cancelled["work_orders"]] == ["cancelled"]


def test_ticket_list_filters_mine_and_since(world: World) -> None:
    import datetime as dt

    from core import clock

    with clock.pinned_at(dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)):
        _post(world, "operator", "/api/tickets/", ticket_payload(), status=201)
    with clock.pinned_at(dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)):
        today = _post(world, "operator", "/api/tickets/", ticket_payload(), status=201)
        _post(world, "dispatcher", "/api/tickets/", ticket_payload(), status=201)
    client = world.client("operator")
    mine = client.get("/api/tickets/?mine=1").json()["results"]
    assert len(mine) == 2
    recent = client.get("/api/tickets/?mine=1&since=2026-11-21T00:00:00%2B08:00").json()["results"]
    assert [t["id"] for t in recent] == [today["id"]]
    assert client.get("/api/tickets/?since=yesterday").status_code == 400
