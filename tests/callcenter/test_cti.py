"""Call events from the telephone system: pop the caller's history and link the ticket taken from the call."""

from __future__ import annotations

import io

from django.core.management import call_command

from callcenter.models import Call
from organisation.actions import do_upsert_user
from realtime.models import Event
from tests.conftest import World, ticket_payload


def _event(world: World, **body: object) -> dict:
    response = world.client("operator").post("/api/cti/events/", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_answered_call_pops_history_and_links_the_ticket(world: World) -> None:
    do_upsert_user(username="operator", password=None, roles=["operator"], agency_code="centre", extension="8001")
    earlier = world.client("operator").post("/api/tickets/", ticket_payload(), format="json").json()
    ringing = _event(world, call_id="PBX-1", event="ringing", caller="138 1234 1234", extension="8001")
    answered = _event(world, call_id="PBX-1", event="answered", extension="8001")
    assert answered["id"] == ringing["id"] and answered["state"] == "answered"
    assert answered["operator_id"] == world.users["operator"].pk and answered["phone"] == "+8613812341234"
    events = list(Event.objects.filter(type__startswith="call.").order_by("id"))
    assert [e.type for e in events] == ["call.ringing", "call.answered"]
    assert "+8613812341234" not in str([e.payload for e in events])  # the log carries no numbers
    pop = world.client("operator").get(f"/api/calls/{answered['id']}/").json()
    assert [t["number"] for t in pop["history"]] == [earlier["number"]]
    created = world.client("operator").post("/api/tickets/", ticket_payload(call_id=answered["id"]), format="json")
    assert created.status_code == 201
    assert Call.objects.get(pk=answered["id"]).ticket_id == created.json()["id"]
    again = world.client("operator").post("/api/tickets/", ticket_payload(call_id=answered["id"]), format="json")
    assert again.status_code == 400 and "call_id" in again.json()["fields"]


def test_repeated_and_late_events_never_move_a_call_back(world: World) -> None:
    _event(world, call_id="PBX-2", event="answered", caller="13900000001", extension="8002")
    ended = _event(world, call_id="PBX-2", event="ended")
    late = _event(world, call_id="PBX-2", event="ringing", caller="13900000001")
    assert ended["state"] == late["state"] == "ended"
    assert Event.objects.filter(type__startswith="call.").count() == 2


def test_bad_call_events_are_refused_and_agencies_may_not_report_or_read(world: World) -> None:
    bad = world.client("operator").post(
        "/api/cti/events/", {"call_id": "", "event": "exploded", "caller": "1"}, format="json"
    )
    assert bad.status_code == 400 and {"call_id", "event"} <= set(bad.json()["fields"])
    assert Call.objects.count() == 0
    refused = world.client("handler_a").post("/api/cti/events/", {"call_id": "X", "event": "ringing"}, format="json")
    assert refused.status_code == 403
    call = _event(world, call_id="PBX-3", event="ringing", caller="13900000001")
    assert world.client("handler_a").get(f"/api/calls/{call['id']}/").status_code == 403


def test_simulate_calls_command(world: World) -> None:
    do_upsert_user(username="operator", password=None, roles=["operator"], agency_code="centre", extension="8001")
    out = io.StringIO()
    call_command("simulate_calls", "--count", "2", "--phone", "13812341234", stdout=out)
    calls = list(Call.objects.order_by("id"))
    assert [c.state for c in calls] == ["ended", "ended"] and {c.phone for c in calls} == {"+8613812341234"}
    assert calls[0].operator_id == world.users["operator"].pk
    assert out.getvalue().count("answered at extension 8001") == 2
