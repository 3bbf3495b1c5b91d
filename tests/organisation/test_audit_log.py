"""The audit log page: auditors read who revealed callers' details; nobody else but supervisors and admins."""

from __future__ import annotations

import re

from django.test import Client

from tests.conftest import World, ticket_payload
from tests.second_factor import verified_login


def _reveal(world: World) -> int:
    ticket = world.client("operator").post("/api/tickets/", ticket_payload(), format="json").json()
    dispatched = world.client("dispatcher").post(
        f"/api/tickets/{ticket['id']}/dispatch/", {"lead_agency_id": world.agency_a.pk}, format="json"
    )
    assert dispatched.status_code == 200, dispatched.content
    revealed = world.client("handler_a").post(
        f"/api/tickets/{ticket['id']}/reveal/", {"reason": "需要回电核实地址"}, format="json"
    )
    assert revealed.status_code == 200, revealed.content
    return int(ticket["id"])


def _page(world: World, who: str, url: str = "/audit/") -> object:
    client = Client()
    verified_login(client, world.users[who])
    return client.get(url)


def test_the_auditor_reads_who_revealed_a_callers_number_and_why(world: World) -> None:
    ticket_id = _reveal(world)
    page = _page(world, "auditor")
    assert page.status_code == 200  # type: ignore[attr-defined]
    html = page.content.decode()  # type: ignore[attr-defined]
    assert "需要回电核实地址" in html and "查看来电人号码和姓名" in html
    assert "reveal_caller" not in re.sub(r"<[^>]+>", " ", html)  # the code never reaches the screen's text
    rows = _page(world, "auditor", "/api/audit/?action=reveal_caller").json()  # type: ignore[attr-defined]
    assert rows["count"] == 1 and rows["results"][0]["target_id"] == ticket_id
    assert rows["results"][0]["reason"] == "需要回电核实地址"


def test_only_auditors_supervisors_and_admins_read_the_log(world: World) -> None:
    assert _page(world, "supervisor").status_code == 200  # type: ignore[attr-defined]
    for who in ("operator", "dispatcher", "handler_a"):
        assert _page(world, who).status_code == 403  # type: ignore[attr-defined]
        assert _page(world, who, "/api/audit/").status_code == 403  # type: ignore[attr-defined]
    assert Client().get("/audit/").status_code == 302  # to the login page


def test_a_bad_date_filter_is_ignored_not_an_error(world: World) -> None:
    page = _page(world, "auditor", "/audit/?since=yesterday&until=2026-13-40&page=x")
    assert page.status_code == 200  # type: ignore[attr-defined]
