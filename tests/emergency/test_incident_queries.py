"""Incident reads cost a constant number of queries however many rows they carry (no N+1)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from emergency import actions as emergency
from organisation.actions import do_upsert_agency
from tests.conftest import World, ticket_payload
from tests.emergency.incident_fixtures import create_incident, linkage_fixture, ok  # noqa: F401

_serial = itertools.count(1)


def grow(world: World, incident_id: int, n: int) -> None:
    """n more incidents, and n more linked agencies (with task steps), tickets and notes on incident_id."""
    commander = world.users["commander"]
    for _ in range(n):
        k = next(_serial)
        create_incident(world, title=f"事件{k}")
        agency = do_upsert_agency(code=f"unit-{k}", name=f"联动单位{k}", kind="emergency", function="fire_rescue")
        link = emergency.do_link_agency(incident_id, {"agency_id": agency.pk, "task": "处置"}, actor=commander)
        emergency.do_act_on_task(link.pk, "withdraw", {"note": "不需要"}, actor=commander)
        ticket = ok(
            world.client("operator").post("/api/tickets/", ticket_payload(phone=f"1390000{k:04d}"), format="json"), 201
        )
        emergency.do_escalate_ticket(ticket["id"], {"incident_id": incident_id}, actor=world.users["operator"])
        emergency.do_transition_incident(incident_id, "note", actor=commander, note=f"进展{k}")


def measure(world: World, who: str, url: str) -> tuple[int, Any]:
    client = world.client(who)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries.captured_queries), response.json()


@pytest.mark.parametrize("path", ["", "{id}/", "{id}/timeline/"])
def test_incident_reads_do_not_grow_with_rows(linkage: World, path: str) -> None:
    world = linkage
    incident_id = create_incident(world)["id"]
    url = f"/api/incidents/{path.format(id=incident_id)}"
    grow(world, incident_id, 2)
    measure(world, "commander", url)  # warm-up
    queries, small = measure(world, "commander", url)
    grow(world, incident_id, 8)
    more_queries, big = measure(world, "commander", url)
    assert len(str(big)) > len(str(small))
    assert more_queries == queries, (queries, more_queries)
