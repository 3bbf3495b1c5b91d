"""The access matrix for an agency's key: agency_a's business system, holding every scope an agency's key can
hold, calls every endpoint of the matrix (tests/access/endpoints.py) on its own agency's object and on the
other agency's. It gets exactly what agency_a's handler gets on the routes its scopes open - signs, returns,
replies on its own work orders, 404 on the other agency's - and 403 ``api_key_scope`` everywhere else, the
handler's phone reveal included. Refused calls change nothing; no foreign number, full phone or confidential
name appears in what it reads."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from tests.access.endpoints import ENDPOINTS, Cell
from tests.access.scene import build_scene, snapshot
from tests.access.test_matrix import _assert_visible_rows, _foreign_strings, _url
from tests.conftest import World
from tests.exchange.keys import issue

#: The matrix's endpoints a key with the agency scopes may call (written out by hand from
#: exchange/keys/scopes.py, so that a change there shows up here).
KEY_ROUTES = frozenset(
    {
        "tickets.list",
        "tickets.detail",
        "tickets.timeline",
        "work-orders.list",
        "work-orders.detail",
        "work-orders.timeline",
        "work-orders.sign",
        "work-orders.return",
        "work-orders.note",
        "work-orders.reply",
        "work-orders.request_extension",
        "work-orders.answer_supervision",
        "knowledge.list",
        "knowledge.search",
        "knowledge.detail",
        "phrases.list",
        "agencies.list",
        "subjects.list",
        "appeal-types.list",
        "me",
        "workflow",
        "schema",
    }
)


def _cells() -> list[Cell]:
    cells: list[Cell] = []
    for ep in ENDPOINTS:
        if ep.scope == "object":
            cells.extend(Cell(ep, "handler_a", whose) for whose in ("own", "other"))
        elif ep.scope == "unassigned":
            cells.append(Cell(ep, "handler_a", "unassigned"))
        else:
            cells.append(Cell(ep, "handler_a", None))
    return cells


KEY_CELLS = _cells()


@pytest.mark.parametrize("cell", KEY_CELLS, ids=[cell.id.replace("handler_a", "key_a") for cell in KEY_CELLS])
def test_agency_key_access(world: World, cell: Cell) -> None:
    ep = cell.endpoint
    scene = build_scene(world, ep.state, master=ep.master, article=ep.article)
    key, raw = issue(world, agency=world.agency_a)
    url = _url(cell, scene)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"ApiKey {raw}")
    before = snapshot()
    if ep.method == "get":
        response = client.get(url)
    else:
        response = getattr(client, ep.method)(url, ep.body(scene) if ep.body else {}, format="json")
    after = snapshot()

    expected = cell.expected if ep.name in KEY_ROUTES else 403
    assert response.status_code == expected, response.content.decode()[:500]
    if ep.name == "schema":
        return
    body = response.json()
    if response.status_code >= 400:
        code = "not_found" if response.status_code == 404 else "permission_denied"
        if ep.name not in KEY_ROUTES:
            code = "api_key_scope"
        assert body["code"] == code
        assert after == before, "a refused request changed data"
    elif ep.method == "get":
        assert after == before, "a read changed data"
        if ep.name == "me":
            assert body["username"] == key.user.username
        else:
            _assert_visible_rows(cell, scene, body)
    else:
        assert after != before and after["timeline"] > before["timeline"]
        _assert_visible_rows(cell, scene, body)
    text = json.dumps(body, ensure_ascii=False)
    leaked = [s for s in _foreign_strings(scene, "handler_a") if s in text]
    assert not leaked, f"the key can read {leaked}"


def test_every_key_route_is_in_the_matrix() -> None:
    names = {ep.name.split("@")[0] for ep in ENDPOINTS}
    assert names >= KEY_ROUTES
