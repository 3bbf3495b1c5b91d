"""Who may call which endpoint on whose object: one test case per (endpoint, role, ownership) cell.

The cells and the roles allowed on each endpoint are in tests/access/endpoints.py.

Every cell asserts the exact status, the error body's shape and code, that a refused request
changed nothing and an accepted one changed something, and, for agency users, that no other
agency's ticket or work-order number, no full phone number and no confidential name is in the body.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from callcenter.models import KnowledgeArticle, Ticket
from dispatch.models import WorkOrder
from tests.access.endpoints import CELLS, ENDPOINTS, Cell
from tests.access.scene import (
    AGENCY_USERS,
    CENTRE,
    OPEN_NAME,
    PHONE_E164,
    PHONE_MASKED,
    PHONE_NATIONAL,
    SECRET_NAME,
    Scene,
    build_scene,
    snapshot,
)
from tests.conftest import World

# One client for the whole matrix: a new client loads the middleware again on its first request, and
# WhiteNoise's finder scan makes that cost more than most cells' own work.
_CLIENT = APIClient()


def _client(world: World, role: str) -> APIClient:
    _CLIENT.force_authenticate(None if role == "anonymous" else world.users[role])
    return _CLIENT


def _url(cell: Cell, scene: Scene) -> str:
    lane = cell.lane
    values = {
        "ticket": scene.tickets[lane].pk if scene.tickets else "",
        "wo": scene.work_orders[lane].pk if lane in scene.work_orders else "",
        "article": scene.article.pk if scene.article else "",
    }
    return cell.endpoint.path.format(**values)


def _foreign_strings(scene: Scene, role: str) -> list[str]:
    """What an agency user must never read: other agencies' numbers, full numbers, confidential names."""
    agency = scene.world.users[role].agency
    own_ticket_ids = set(WorkOrder.objects.filter(agency=agency).values_list("ticket_id", flat=True))
    foreign = [PHONE_E164, PHONE_NATIONAL, SECRET_NAME]
    foreign += [t.number for t in Ticket.objects.exclude(pk__in=own_ticket_ids)]
    foreign += list(WorkOrder.objects.exclude(agency=agency).values_list("number", flat=True))
    return foreign


def _assert_visible_rows(cell: Cell, scene: Scene, body: Any) -> None:
    """The lists show exactly the rows the role may see."""
    role, name = cell.role, cell.endpoint.name
    if name == "tickets.list":
        expected = set(Ticket.objects.values_list("number", flat=True))
        if role == "nobody":
            expected = set()
        elif role in AGENCY_USERS:
            expected = {scene.tickets[AGENCY_USERS[role]].number}
        assert {row["number"] for row in body["results"]} == expected
        phones = {row["caller_phone"] for row in body["results"]}
        if role in CENTRE:
            assert phones == {PHONE_E164}
            assert {row["caller_name"] for row in body["results"]} == {SECRET_NAME, OPEN_NAME}
        elif role in AGENCY_USERS:
            assert phones == {PHONE_MASKED}
            own = body["results"][0]
            assert own["caller_name"] == ("***" if AGENCY_USERS[role] == "a" else OPEN_NAME)
    elif name == "work-orders.list":
        expected = set(WorkOrder.objects.values_list("number", flat=True))
        if role == "nobody":
            expected = set()
        elif role in AGENCY_USERS:
            expected = {scene.work_orders[AGENCY_USERS[role]].number}
        assert {row["number"] for row in body["results"]} == expected
    elif name == "tickets.detail":
        target = scene.tickets[cell.lane]
        assert body["id"] == target.pk
        assert [wo["number"] for wo in body["work_orders"]] == [scene.work_orders[cell.lane].number]
        name_shown = {"a": SECRET_NAME, "b": OPEN_NAME}[cell.lane]
        if role in AGENCY_USERS:
            assert body["caller_phone"] == PHONE_MASKED
            assert [c["phone"] for c in body["callers"]] == [PHONE_MASKED]
            if cell.lane == "a":  # confidential
                name_shown = "***"
        else:
            assert body["caller_phone"] == PHONE_E164
        assert body["caller_name"] == name_shown and body["callers"][0]["name"] == name_shown
    elif name == "callers.history":
        assert body["phone"] == PHONE_E164
        assert {row["number"] for row in body["tickets"]} == {t.number for t in scene.tickets.values()}
    elif name == "me":
        assert body["username"] == role
    elif name == "tickets.reveal":
        assert body["phone"] == PHONE_E164
        assert body["caller_name"] == {"a": SECRET_NAME, "b": OPEN_NAME}[cell.lane]
    elif name == "tickets.create":
        assert body["state"] == "accepted" and body["caller_phone"] == PHONE_E164
    elif name in ("knowledge.create", "knowledge.update"):
        make_body = cell.endpoint.body
        assert make_body is not None
        assert KnowledgeArticle.objects.get(pk=body["id"]).title == make_body(scene)["title"]
    elif name in ("knowledge.list", "knowledge.detail", "knowledge.search"):
        rows = body if name == "knowledge.detail" else body["results"]
        codes = [rows["code"]] if name == "knowledge.detail" else [row["code"] for row in rows]
        assert codes == ["kb-garbage-times"]
    elif name.startswith("work-orders.") and name != "work-orders.timeline":
        assert body["number"] == scene.work_orders[cell.lane].number
    elif name.startswith("tickets.") and name != "tickets.timeline":
        assert body["id"] == scene.tickets[cell.lane].pk
    elif name.endswith(".timeline"):
        assert body and body[0]["action"] in ("accept", "create")


# Lookups that take personal data in the body (kept out of URLs and access logs) but change nothing.
READS_BY_POST = {"callers.history"}


@pytest.mark.parametrize("cell", CELLS, ids=[cell.id for cell in CELLS])
def test_access(world: World, cell: Cell) -> None:
    ep = cell.endpoint
    # Agency users and lists need both agencies' objects; the centre's object cells only agency_a's.
    both = cell.role in AGENCY_USERS or ep.scope == "list" or ep.name == "callers.history"
    scene = build_scene(world, ep.state, master=ep.master, article=ep.article, lanes=("a", "b") if both else ("a",))
    url = _url(cell, scene)
    before = snapshot()
    client = _client(world, cell.role)
    if ep.method == "get":
        response = client.get(url)
    else:
        response = getattr(client, ep.method)(url, ep.body(scene) if ep.body else {}, format="json")
    after = snapshot()

    assert response.status_code == cell.expected, response.content.decode()[:500]
    if ep.name == "schema":
        assert response["Content-Type"].startswith("application/vnd.oai.openapi")
        return
    body = response.json()
    if response.status_code >= 400:
        assert set(body) == {"code", "message", "fields"}
        codes = {403: "permission_denied", 404: "not_found"}
        assert body["code"] == ("not_authenticated" if cell.role == "anonymous" else codes[response.status_code])
        assert after == before, "a refused request changed data"
    elif ep.method == "get" or ep.name in READS_BY_POST:
        assert after == before, "a read changed data"
        _assert_visible_rows(cell, scene, body)
    else:
        assert after != before, "an accepted action changed nothing"
        if ep.name == "tickets.reveal":
            assert after["audit"] == before["audit"] + 1
            assert after["timeline"] == before["timeline"]
        elif ep.name.startswith("tickets.correct"):  # audited, and on the timeline
            assert after["audit"] == before["audit"] + 1
            assert after["timeline"] > before["timeline"]
        elif ep.name.startswith(("tickets.", "work-orders.")):
            assert after["timeline"] > before["timeline"]
            assert after["audit"] == before["audit"]
        _assert_visible_rows(cell, scene, body)

    if cell.role in AGENCY_USERS and not (ep.name == "tickets.reveal" and response.status_code == 200):
        text = json.dumps(body, ensure_ascii=False)
        leaked = [s for s in _foreign_strings(scene, cell.role) if s in text]
        assert not leaked, f"{cell.role} can read {leaked}"


def test_matrix_covers_every_route() -> None:
    """A new endpoint or workflow action must get a row in the matrix."""
    from django.urls import get_resolver

    from dispatch import workflow

    names = {ep.name.split("@")[0] for ep in ENDPOINTS}
    for machine, prefix in ((workflow.Machine.TICKET, "tickets"), (workflow.Machine.WORK_ORDER, "work-orders")):
        for action in workflow.actions(machine):
            if action != "accept":
                assert f"{prefix}.{action}" in names, action
    routes = {str(p.pattern) for p in get_resolver().url_patterns}
    assert {"api/me/", "api/workflow/", "api/schema/"} <= routes
    assert len(CELLS) >= 300
