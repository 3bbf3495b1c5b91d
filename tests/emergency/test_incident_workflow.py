"""Walk every (state, action) pair of the incident and agency-task machines through the HTTP API.

Pairs the table allows succeed and write a command-timeline row; every other pair answers 409
``transition_not_allowed`` and changes nothing (state, timeline, events).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dispatch import workflow
from dispatch.workflow import Machine
from emergency.models import Incident, IncidentAgency, IncidentTimelineEntry
from organisation import policy
from organisation.models import Role
from realtime.models import Event
from tests.conftest import World, ticket_payload
from tests.emergency.incident_fixtures import agency, create_incident, linkage_fixture, ok  # noqa: F401
from tests.emergency.test_eido import _eido, _foreign

INCIDENT_PATHS = {
    "reported": [],
    "confirmed": ["confirm"],
    "dispatched": ["dispatch"],
    "on_scene": ["dispatch", "arrive"],
    "controlled": ["dispatch", "arrive", "control"],
    "closed": ["dispatch", "arrive", "control", "close"],
    "cancelled": ["cancel"],
}
TASK_PATHS = {
    "notified": [],
    "acknowledged": ["acknowledge"],
    "working": ["acknowledge", "start_work"],
    "done": ["acknowledge", "start_work", "finish"],
    "declined": ["decline"],
    "withdrawn": ["withdraw"],
}


def _post(world: World, who: str, url: str, body: dict[str, Any] | None = None, code: int = 200) -> Any:
    return ok(world.client(who).post(url, body or {}, format="json"), code)


def build_incident(world: World, state: str, *, published: bool = False, incident_id: int | None = None) -> int:
    incident_id = incident_id or create_incident(world)["id"]
    if published:
        _post(world, "commander", f"/api/incidents/{incident_id}/publish_alert/")
    if state == "merged":
        other = create_incident(world, title="同一火情的另一报警")["id"]
        _post(world, "commander", f"/api/incidents/{incident_id}/merge/", {"into_id": other})
        return incident_id
    for step in INCIDENT_PATHS[state]:
        body = {"note": "误报"} if step == "cancel" else {}
        _post(world, "commander", f"/api/incidents/{incident_id}/{step}/", body)
    return incident_id


def _link_agency(world: World, incident_id: int, code: str, task: str) -> Any:
    """The commander links an agency to the incident (the task row, as the API answers it)."""
    body = {"agency_id": agency(code).pk, "task": task}
    return _post(world, "commander", f"/api/incidents/{incident_id}/agencies/", body, 201)


def build_task(world: World, state: str) -> int:
    incident_id = create_incident(world)["id"]
    link = _link_agency(world, incident_id, "fire", "灭火救援")
    for step in TASK_PATHS[state]:
        who = "commander" if step == "withdraw" else "fire_handler"
        body = {"note": "另有安排"} if step in ("decline", "withdraw") else {}
        _post(world, who, f"/api/incident-tasks/{link['id']}/{step}/", body)
    return int(link["id"])


def _imported_incident(world: World, state: str) -> tuple[int, dict[str, Any]]:
    """An incident taken over from another centre's EIDO, in ``state``, and a later version of that EIDO."""
    document = _foreign(_eido(world, create_incident(world)["id"]))
    incident_id = _post(world, "commander", "/api/incidents/eido/", document, 201)["id"]
    later = copy.deepcopy(document)
    later["lastUpdateTimeStamp"] = "2099-01-01T08:00:00+08:00"
    later["notesComponent"][0]["notesActionComments"] = "伙伴中心更新：火势扩大"
    return build_incident(world, state, incident_id=incident_id), later


def _incident_call(world: World, incident_id: int, action: str) -> tuple[str, str, dict[str, Any]]:
    base = f"/api/incidents/{incident_id}"
    if action == "merge":
        return f"{base}/merge/", "commander", {"into_id": create_incident(world, title="另一报警")["id"]}
    if action == "attach_ticket":
        ticket = ok(world.client("operator").post("/api/tickets/", ticket_payload(), format="json"), 201)
        return f"/api/tickets/{ticket['id']}/escalate/", "operator", {"incident_id": incident_id}
    if action == "send_eido":  # a partner centre configured by the test (emergency/eido/partners.py)
        return f"{base}/eido/send/", "commander", {"partner": "fire119"}
    bodies: dict[str, dict[str, Any]] = {
        "cancel": {"note": "误报"},
        "note": {"note": "现场风力较大"},
        "update": {"level": "II"},
    }
    return f"{base}/{action}/", "commander", bodies.get(action, {})


def _task_call(world: World, link_id: int, action: str) -> tuple[str, str, dict[str, Any], int]:
    if action == "relink":
        link = IncidentAgency.objects.get(pk=link_id)
        body = {"agency_id": link.agency_id, "task": "再次出动"}
        return f"/api/incidents/{link.incident_id}/agencies/", "commander", body, 201
    bodies: dict[str, dict[str, Any]] = {
        "decline": {"note": "力量不足"},
        "withdraw": {"note": "不再需要"},
        "report": {"people_count": 8, "contact_name": "王队长", "contact_phone": "13900001111"},
    }
    who = "commander" if action == "withdraw" else "fire_handler"
    return f"/api/incident-tasks/{link_id}/{action}/", who, bodies.get(action, {}), 200


def _snapshot(machine: Machine, object_id: int) -> tuple[str, int, int]:
    if machine == Machine.INCIDENT:
        state = Incident.objects.get(pk=object_id).state
    else:
        state = IncidentAgency.objects.get(pk=object_id).status
    return state, IncidentTimelineEntry.objects.count(), Event.objects.count()


PAIRS = [case for machine in (Machine.INCIDENT, Machine.INCIDENT_TASK) for case in workflow.every_pair(machine)]


@pytest.mark.parametrize("case", PAIRS, ids=[f"{c.machine.value}:{c.state}:{c.action}" for c in PAIRS])
def test_every_incident_state_action_pair(linkage: World, case: workflow.TableWalkCase, settings: Any) -> None:
    world = linkage
    if case.machine == Machine.INCIDENT and case.action == "update_eido":  # a later EIDO of an imported incident
        object_id, later = _imported_incident(world, case.state)
        url, who, body, success = "/api/incidents/eido/", "commander", later, 200
    elif case.machine == Machine.INCIDENT:
        object_id = build_incident(world, case.state, published=case.action == "withdraw_alert")
        url, who, body = _incident_call(world, object_id, case.action)
        success = 202 if case.action == "send_eido" else 200
        settings.HOTLINE = {**settings.HOTLINE, "EIDO_PARTNERS": {"fire119": {"url": "https://119.example.cn/eido"}}}
    else:
        object_id = build_task(world, case.state)
        url, who, body, success = _task_call(world, object_id, case.action)
    before = _snapshot(case.machine, object_id)
    response = world.client(who).post(url, body, format="json")
    if case.row is None:
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "transition_not_allowed"
        assert _snapshot(case.machine, object_id) == before
        return
    assert response.status_code == success, response.content
    state, timeline_rows, events = _snapshot(case.machine, object_id)
    assert timeline_rows > before[1] and events > before[2]
    latest = (
        IncidentTimelineEntry.objects.filter(action=case.action, machine=case.machine.value).order_by("-id").first()
    )
    assert latest is not None and latest.from_state == case.state
    if case.row.target is not None:
        assert latest.to_state == case.row.target == state


def test_closing_waits_for_linked_agencies(linkage: World) -> None:
    world = linkage
    incident_id = build_incident(world, "controlled")
    link = _link_agency(world, incident_id, "police", "警戒")
    response = world.client("commander").post(f"/api/incidents/{incident_id}/close/", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "agency_tasks_open"
    _post(world, "police_handler", f"/api/incident-tasks/{link['id']}/start_work/")
    _post(world, "police_handler", f"/api/incident-tasks/{link['id']}/finish/", {"note": "警戒解除"})
    assert _post(world, "commander", f"/api/incidents/{incident_id}/close/")["state"] == "closed"


@pytest.mark.parametrize(
    ("who", "url_action", "expected"),
    [
        ("operator", "confirm", 403),  # operators report and escalate, the command desk runs the incident
        ("supervisor", "dispatch", 403),
        ("dispatcher", "publish_alert", 403),  # only a commander makes an incident public
        ("fire_handler", "confirm", 404),  # an agency not linked to the incident does not see it
    ],
)
def test_roles_outside_the_rows_are_refused(linkage: World, who: str, url_action: str, expected: int) -> None:
    incident_id = build_incident(linkage, "reported")
    before = _snapshot(Machine.INCIDENT, incident_id)
    response = linkage.client(who).post(f"/api/incidents/{incident_id}/{url_action}/", {}, format="json")
    assert response.status_code == expected, response.content
    assert _snapshot(Machine.INCIDENT, incident_id) == before


def test_a_linked_agency_acts_only_on_its_own_task(linkage: World) -> None:
    world = linkage
    link_id = build_task(world, "notified")
    incident_id = IncidentAgency.objects.get(pk=link_id).incident_id
    police = _link_agency(world, incident_id, "police", "警戒")
    # Police see the incident (linked) and the fire brigade's task, but cannot move it.
    response = world.client("police_handler").post(f"/api/incident-tasks/{link_id}/acknowledge/", {}, format="json")
    assert response.status_code == 404
    response = world.client("police_handler").post(f"/api/incidents/{incident_id}/confirm/", {}, format="json")
    assert response.status_code == 403
    assert (
        _post(world, "police_handler", f"/api/incident-tasks/{police['id']}/acknowledge/")["status"] == "acknowledged"
    )
    assert IncidentAgency.objects.get(pk=link_id).status == "notified"
    assert Role.COMMANDER in policy.COMMAND
