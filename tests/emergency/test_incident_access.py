"""An agency sees the incidents it is linked to and nothing else: over the API (404) and the socket."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from emergency import actions as emergency
from realtime.models import Event
from realtime.schemas import IncidentSummary
from tests.conftest import World, ticket_payload
from tests.emergency.incident_fixtures import agency, create_incident, linkage_fixture, ok  # noqa: F401
from tests.realtime.test_events_socket import _connect, _events, _next_events, _until


def _link(world: World, incident_id: int, code: str, task: str = "处置") -> dict:
    body = {"agency_id": agency(code).pk, "task": task}
    return ok(world.client("commander").post(f"/api/incidents/{incident_id}/agencies/", body, format="json"), 201)


def test_api_scoping_of_incidents_tasks_timelines_and_reporters(linkage: World) -> None:
    world = linkage
    ticket = ok(world.client("operator").post("/api/tickets/", ticket_payload(), format="json"), 201)
    fire = ok(world.client("operator").post(f"/api/tickets/{ticket['id']}/escalate/", {"type": "fire"}, format="json"))[
        "incident"
    ]
    other = create_incident(world, type="traffic_accident", title="柳江大桥追尾")
    fire_task = _link(world, fire["id"], "fire", "灭火救援")
    police_task = _link(world, fire["id"], "police", "现场警戒")
    _link(world, other["id"], "police", "交通管制")
    ok(
        world.client("fire_handler").post(
            f"/api/incident-tasks/{fire_task['id']}/report/", {"contact_phone": "13900001111"}, format="json"
        )
    )

    def listed(who: str) -> set[str]:
        return {row["number"] for row in ok(world.client(who).get("/api/incidents/"))["results"]}

    assert listed("commander") == listed("operator") == {fire["number"], other["number"]}
    assert listed("fire_handler") == {fire["number"]}
    assert listed("police_handler") == {fire["number"], other["number"]}
    assert listed("ambulance_handler") == set() and listed("handler_a") == set() and listed("nobody") == set()

    fire_client, ambulance = world.client("fire_handler"), world.client("ambulance_handler")
    for path in ("", "timeline/", "cap/"):
        assert ambulance.get(f"/api/incidents/{fire['id']}/{path}").status_code == 404
        assert fire_client.get(f"/api/incidents/{other['id']}/{path}").status_code == 404
        assert fire_client.get(f"/api/incidents/{fire['id']}/{path}").status_code == 200
    for action in ("confirm", "note", "merge", "agencies", "publish_alert"):
        response = ambulance.post(f"/api/incidents/{fire['id']}/{action}/", {"note": "x"}, format="json")
        assert response.status_code == 404, action
    assert ambulance.get(f"/api/incident-tasks/{fire_task['id']}/").status_code == 404
    assert [t["id"] for t in ok(fire_client.get("/api/incident-tasks/"))["results"]] == [fire_task["id"]]

    # A linked agency sees who else works on site, but not who called, and other agencies' phones masked.
    detail = ok(world.client("police_handler").get(f"/api/incidents/{fire['id']}/"))
    assert detail["tickets"] == [] and detail["calls"] == [] and detail["transfers"] == []
    phones = {a["agency"]["code"]: a["contact_phone"] for a in detail["agencies"]}
    assert phones["fire"] == "139****1111"
    assert "13812341234" not in json.dumps(detail) and ticket["number"] not in json.dumps(detail)
    own = ok(fire_client.get(f"/api/incidents/{fire['id']}/"))
    assert {a["agency"]["code"]: a["contact_phone"] for a in own["agencies"]}["fire"] == "13900001111"
    # Timeline: the incident's own steps and the agency's own task, not the other agency's task steps.
    steps = ok(world.client("police_handler").get(f"/api/incidents/{fire['id']}/timeline/"))
    task_rows = [s for s in steps if s["machine"] == "incident_task"]
    assert task_rows and {s["agency"] for s in task_rows} == {"police"}
    centre = ok(world.client("commander").get(f"/api/incidents/{fire['id']}/"))
    assert centre["tickets"][0]["caller_phone"] == "+8613812341234"
    assert {s["agency"] for s in centre["timeline"] if s["machine"] == "incident_task"} == {"fire", "police"}
    assert police_task["available_actions"] == ["withdraw"]  # the commander may only withdraw a task


def test_list_filters(linkage: World) -> None:
    world = linkage
    fire = create_incident(world, level="I")
    flood = create_incident(world, type="flood", latitude=24.40, longitude=109.50)
    ok(world.client("commander").post(f"/api/incidents/{flood['id']}/cancel/", {"note": "误报"}, format="json"))
    client = world.client("commander")

    def numbers(query: str) -> list[str]:
        return [row["number"] for row in ok(client.get(f"/api/incidents/?{query}"))["results"]]

    assert numbers("state=active") == [fire["number"]]
    assert numbers("state=cancelled") == [flood["number"]]
    assert numbers("level=I") == [fire["number"]]
    assert numbers("type=flood") == [flood["number"]]
    assert numbers("bbox=109.45,24.35,109.55,24.45") == [flood["number"]]
    assert numbers("since=2000-01-01T00:00:00%2B08:00") == [flood["number"], fire["number"]]
    assert numbers(f"number={fire['number']}") == [fire["number"]]
    ticket = ok(world.client("operator").post("/api/tickets/", ticket_payload(), format="json"), 201)
    body = {"incident_id": fire["id"]}
    ok(world.client("operator").post(f"/api/tickets/{ticket['id']}/escalate/", body, format="json"))
    assert numbers(f"ticket={ticket['id']}") == [fire["number"]]
    for bad in ("state=burning", "level=V", "bbox=1,2,3", "bbox=10,10,0,0", "since=yesterday", "ticket=x"):
        response = client.get(f"/api/incidents/?{bad}")
        assert response.status_code == 400 and response.json()["code"] == "invalid_input", bad


def _incident_scenario(world: World) -> dict[str, int]:
    users = world.users
    body = {"type": "fire", "title": "火情", "latitude": 24.3126, "longitude": 109.4112}
    fire = emergency.do_report_incident(body, actor=users["commander"])
    hidden = emergency.do_report_incident({**body, "title": "另一起"}, actor=users["commander"])
    link = emergency.do_link_agency(fire.pk, {"agency_id": agency("fire").pk, "task": "灭火"}, actor=users["commander"])
    emergency.do_link_agency(hidden.pk, {"agency_id": agency("police").pk, "task": "警戒"}, actor=users["commander"])
    emergency.do_act_on_task(link.pk, "acknowledge", {"people_count": 6}, actor=users["fire_handler"])
    emergency.do_transition_incident(fire.pk, "confirm", actor=users["commander"])
    emergency.do_transition_incident(hidden.pk, "confirm", actor=users["commander"])
    return {"fire": fire.pk, "hidden": hidden.pk}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("stop_hubs")
async def test_sockets_receive_only_incident_events_of_linked_agencies(linkage: World) -> None:
    world = linkage
    ids = await database_sync_to_async(_incident_scenario)(world)
    everything = await database_sync_to_async(lambda: list(Event.objects.order_by("id")))()
    assert {"incident.created", "incident.linked", "incident.agency_changed", "incident.changed"} <= {
        e.type for e in everything
    }
    fire_socket, connected, _ = await _connect(world.users["fire_handler"], "?last_event_id=0")
    assert connected
    ambulance_socket, connected, _ = await _connect(world.users["ambulance_handler"], "?last_event_id=0")
    assert connected
    centre_socket, connected, _ = await _connect(world.users["commander"], "?last_event_id=0")
    assert connected
    fire_seen = _events(await _until(fire_socket, "live"))
    centre_seen = _events(await _until(centre_socket, "live"))
    ambulance_seen = _events(await _until(ambulance_socket, "live"))
    # The fire brigade sees its incident from the moment it was linked, never the police's incident.
    assert [(m["type"], m["payload"]["incident"]["id"]) for m in fire_seen] == [
        ("incident.linked", ids["fire"]),
        ("incident.agency_changed", ids["fire"]),
        ("incident.changed", ids["fire"]),
    ]
    assert ambulance_seen == []
    assert [m["id"] for m in centre_seen] == [e.pk for e in everything]
    # Live: a change of the hidden incident reaches the centre but not the fire brigade.
    await database_sync_to_async(emergency.do_transition_incident)(
        ids["hidden"], "dispatch", actor=world.users["commander"]
    )
    await database_sync_to_async(emergency.do_transition_incident)(
        ids["fire"], "dispatch", actor=world.users["commander"]
    )
    # Events committed close together may come in one "events" message: read events, not messages.
    (live,) = await _next_events(fire_socket, 1)
    assert live["type"] == "incident.changed" and live["payload"]["incident"]["id"] == ids["fire"]
    assert await fire_socket.receive_nothing(timeout=0.5)
    assert await ambulance_socket.receive_nothing(timeout=0.5)
    centre_live = [event["payload"]["incident"]["id"] for event in await _next_events(centre_socket, 2)]
    assert centre_live == [ids["hidden"], ids["fire"]]
    for socket in (fire_socket, ambulance_socket, centre_socket):
        await socket.disconnect()


def test_snapshot_carries_live_incidents_in_scope(linkage: World) -> None:
    from realtime.audience import audience_of
    from realtime.queries import snapshot

    world = linkage
    ids = _incident_scenario(world)
    emergency.do_transition_incident(ids["hidden"], "cancel", actor=world.users["commander"], note="误报")
    fire = audience_of(world.users["fire_handler"])
    centre = audience_of(world.users["commander"])
    police = audience_of(world.users["police_handler"])
    assert fire is not None and centre is not None and police is not None
    assert [i["id"] for i in snapshot(fire)["incidents"]] == [ids["fire"]]
    assert [i["id"] for i in snapshot(centre)["incidents"]] == [ids["fire"]]  # the cancelled one is not live
    assert snapshot(police)["incidents"] == []
    # The snapshot says what the incident events say (their documented schema), so screens treat both alike.
    assert set(snapshot(centre)["incidents"][0]) == set(IncidentSummary.__annotations__)
    event = Event.objects.filter(type="incident.created", payload__incident__id=ids["fire"]).get()
    assert set(event.payload["incident"]) == set(IncidentSummary.__annotations__)
