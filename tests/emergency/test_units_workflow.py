"""Walk every (status, action) pair of the unit rows of the workflow table through the HTTP API.

Pairs the table allows succeed and write a unit timeline row and an event; every other pair answers
409 ``transition_not_allowed`` and changes nothing. (tests/dispatch/test_workflow_table.py walks the
ticket and work-order rows.)
"""

from __future__ import annotations

from typing import Any

import pytest

from core import clock
from dispatch import workflow
from dispatch.workflow import Machine
from emergency.models import Assignment, Unit, UnitTimelineEntry
from realtime.models import Event
from tests.conftest import World
from tests.emergency.unit_fixtures import CENTRE_LAT, CENTRE_LON, NOW, east_of, make_unit, place_unit, report_incident

PATHS: dict[str, list[str]] = {
    "available": [],
    "dispatched": ["dispatch"],
    "en_route": ["dispatch", "en_route"],
    "on_scene": ["dispatch", "en_route", "arrive"],
    "returning": ["dispatch", "arrive", "clear"],
    "out_of_service": ["out_of_service"],
}


def _act(world: World, unit: Unit, incident_id: int, action: str, who: str) -> Any:
    if action == "dispatch":
        return world.client(who).post(f"/api/incidents/{incident_id}/assign/", {"unit_ids": [unit.pk]}, format="json")
    return world.client(who).post(f"/api/units/{unit.pk}/transition/", {"action": action}, format="json")


def _snapshot(unit: Unit) -> tuple[str, int, int, int]:
    return (
        Unit.objects.get(pk=unit.pk).status,
        UnitTimelineEntry.objects.count(),
        Event.objects.count(),
        Assignment.objects.count(),
    )


PAIRS = workflow.every_pair(Machine.UNIT)


@pytest.mark.parametrize("case", PAIRS, ids=[f"unit:{c.state}:{c.action}" for c in PAIRS])
@pytest.mark.parametrize("who", ["crew", "commander"])
def test_every_unit_status_action_pair(world: World, case: workflow.TableWalkCase, who: str) -> None:
    unit = make_unit("消防1", "fire_engine", world.agency_a)
    with clock.pinned_at(NOW):
        place_unit(world, unit, east_of(300), CENTRE_LAT)
        incident = report_incident(world, CENTRE_LON, CENTRE_LAT)
        for step in PATHS[case.state]:
            assert _act(world, unit, incident.pk, step, "commander").status_code in (200, 201)
        actor = "commander" if who == "commander" or case.action == "dispatch" else "handler_a"
        before = _snapshot(unit)
        assert before[0] == case.state
        response = _act(world, unit, incident.pk, case.action, actor)
    if case.row is None:
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "transition_not_allowed"
        assert _snapshot(unit) == before
        return
    assert response.status_code in (200, 201), response.content
    after = _snapshot(unit)
    assert after[0] == case.row.next_state(case.state)
    assert after[1] == before[1] + 1 and after[2] > before[2]
    latest = UnitTimelineEntry.objects.filter(unit=unit).order_by("-id").first()
    assert latest is not None and (latest.action, latest.from_state) == (case.action, case.state)


def test_a_crew_acts_only_on_its_own_agencys_units(world: World) -> None:
    unit = make_unit("急救1", "ambulance", world.agency_b)
    before = _snapshot(unit)
    response = world.client("handler_a").post(
        f"/api/units/{unit.pk}/transition/", {"action": "out_of_service"}, format="json"
    )
    assert response.status_code == 404  # not even visible to another agency
    assert _snapshot(unit) == before
    assert (
        workflow.available_actions(Machine.UNIT, "available", world.users["handler_a"], agency_id=unit.agency_id) == []
    )
    assert workflow.available_actions(
        Machine.UNIT, "available", world.users["handler_b"], agency_id=unit.agency_id
    ) == ["out_of_service"]
    # The command desk acts for every agency; a supervisor never moves units.
    assert "out_of_service" in workflow.available_actions(
        Machine.UNIT, "available", world.users["commander"], agency_id=unit.agency_id
    )
    response = world.client("supervisor").post(
        f"/api/units/{unit.pk}/transition/", {"action": "out_of_service"}, format="json"
    )
    assert response.status_code == 403 and _snapshot(unit) == before
