"""Escalating tickets into incidents, merging duplicate incidents, reporting with calls, updating."""

from __future__ import annotations

import datetime as dt

from callcenter.actions import do_record_call_event
from callcenter.models import Call
from core import clock
from dispatch.actions.tickets import do_merge_ticket
from dispatch.models import TimelineEntry
from emergency.models import Incident, IncidentCall, IncidentTicket, IncidentTimelineEntry
from realtime.models import Event
from tests.conftest import World, ticket_payload
from tests.emergency.incident_fixtures import (  # noqa: F401
    LAT,
    LON,
    agency,
    create_incident,
    incident_body,
    linkage_fixture,
    ok,
)

T0 = dt.datetime(2026, 11, 21, 1, 0, tzinfo=dt.UTC)


def _ticket(world: World, phone: str, at: dt.datetime, **overrides: object) -> dict:
    with clock.pinned_at(at):
        return ok(
            world.client("operator").post("/api/tickets/", ticket_payload(phone=phone, **overrides), format="json"), 201
        )


def test_escalating_a_ticket_links_both_sides_and_both_timelines(linkage: World) -> None:
    world = linkage
    ticket = _ticket(world, "13800000001", T0, title="小区燃气味很重")
    with clock.pinned_at(T0 + dt.timedelta(minutes=5)):
        answer = ok(
            world.client("operator").post(
                f"/api/tickets/{ticket['id']}/escalate/", {"type": "gas_leak", "level": "III"}, format="json"
            )
        )
    incident = answer["incident"]
    assert answer["id"] == ticket["id"]
    assert incident["type"] == "gas_leak" and incident["level"] == "III" and incident["state"] == "reported"
    # The incident takes the ticket's place, text and time (the earliest report), and its district.
    assert (incident["latitude"], incident["longitude"]) == (LAT, LON)
    assert incident["title"] == "小区燃气味很重" and incident["district_code"] == "450202"
    assert Incident.objects.get(pk=incident["id"]).reported_at == T0
    assert [t["number"] for t in incident["tickets"]] == [ticket["number"]]
    assert incident["tickets"][0]["caller_phone"] == "+8613800000001"
    ticket_row = TimelineEntry.objects.filter(ticket_id=ticket["id"], action="escalate").get()
    assert (
        ticket_row.data["incident"] == incident["number"] and ticket_row.from_state == ticket_row.to_state == "accepted"
    )
    incident_row = IncidentTimelineEntry.objects.filter(incident_id=incident["id"], action="escalate").get()
    assert incident_row.data["ticket"] == ticket["number"]
    assert IncidentTicket.objects.filter(ticket_id=ticket["id"]).count() == 1
    # Once is enough: a ticket reporting a live incident is not escalated again.
    again = world.client("operator").post(f"/api/tickets/{ticket['id']}/escalate/", {"type": "fire"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_escalated"


def test_a_second_ticket_joins_a_live_incident_with_its_earlier_time(linkage: World) -> None:
    world = linkage
    incident = create_incident(world)
    earlier = _ticket(world, "13800000002", T0 - dt.timedelta(hours=1))
    ok(
        world.client("operator").post(
            f"/api/tickets/{earlier['id']}/escalate/", {"incident_id": incident["id"]}, format="json"
        )
    )
    row = Incident.objects.get(pk=incident["id"])
    assert row.reported_at == T0 - dt.timedelta(hours=1)
    assert list(row.tickets.values_list("number", flat=True)) == [earlier["number"]]
    assert IncidentTimelineEntry.objects.filter(incident=row, action="attach_ticket").count() == 1


def test_escalation_refuses_bad_input_and_a_ticket_without_a_place(linkage: World) -> None:
    world = linkage
    no_place = _ticket(world, "13800000003", T0, latitude=None, longitude=None)
    client = world.client("operator")
    response = client.post(f"/api/tickets/{no_place['id']}/escalate/", {"type": "fire"}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"latitude", "longitude"}
    response = client.post(f"/api/tickets/{no_place['id']}/escalate/", {"type": "volcano", "level": "V"}, format="json")
    assert response.status_code == 400 and {"type", "level"} <= set(response.json()["fields"])
    assert not Incident.objects.exists() and not TimelineEntry.objects.filter(action="escalate").exists()
    # The ticket's own state must allow it: a cancelled ticket cannot be escalated.
    ok(client.post(f"/api/tickets/{no_place['id']}/cancel/", {"reason": "重复"}, format="json"))
    body = {"type": "fire", "latitude": LAT, "longitude": LON}
    response = client.post(f"/api/tickets/{no_place['id']}/escalate/", body, format="json")
    assert response.status_code == 409 and response.json()["code"] == "transition_not_allowed"


def test_merge_keeps_every_caller_ticket_and_call_and_the_earliest_times(linkage: World) -> None:
    world = linkage
    commander = world.client("commander")
    # Survivor: reported at T0 from one ticket, which itself absorbed a duplicate ticket (two callers).
    first = _ticket(world, "13800000011", T0)
    dup_ticket = _ticket(world, "13800000012", T0 + dt.timedelta(minutes=1))
    do_merge_ticket(dup_ticket["id"], actor=world.users["operator"], master_id=first["id"])
    with clock.pinned_at(T0 + dt.timedelta(minutes=2)):
        survivor = ok(
            world.client("operator").post(f"/api/tickets/{first['id']}/escalate/", {"type": "fire"}, format="json")
        )["incident"]
        ok(commander.post(f"/api/incidents/{survivor['id']}/confirm/", {}, format="json"))
    # The duplicate: reported earlier by a phone call, confirmed earlier, with its own ticket and a linked agency.
    do_record_call_event(
        {"call_id": "PBX-9", "event": "ringing", "caller": "13800000013"}, actor=world.users["operator"]
    )
    call = Call.objects.get(external_id="PBX-9")
    with clock.pinned_at(T0 - dt.timedelta(minutes=10)):
        duplicate = ok(commander.post("/api/incidents/", incident_body(call_ids=[call.pk]), format="json"), 201)
        ok(commander.post(f"/api/incidents/{duplicate['id']}/confirm/", {}, format="json"))
        ok(
            commander.post(
                f"/api/incidents/{duplicate['id']}/agencies/",
                {"agency_id": agency("fire").pk, "task": "灭火"},
                format="json",
            ),
            201,
        )
    third = _ticket(world, "13800000014", T0 + dt.timedelta(minutes=3))
    ok(
        world.client("operator").post(
            f"/api/tickets/{third['id']}/escalate/", {"incident_id": duplicate["id"]}, format="json"
        )
    )

    merged = ok(
        commander.post(
            f"/api/incidents/{duplicate['id']}/merge/", {"into_id": survivor["id"], "note": "同一火情"}, format="json"
        )
    )
    assert merged["id"] == survivor["id"]
    phones = sorted(t["caller_phone"] for t in merged["tickets"])
    assert phones == ["+8613800000011", "+8613800000012", "+8613800000014"]
    assert [c["call_id"] for c in merged["calls"]] == [call.pk]
    assert {t["via_incident"] for t in merged["tickets"]} == {survivor["number"], duplicate["number"]}
    assert [a["agency"]["code"] for a in merged["agencies"]] == ["fire"]
    row = Incident.objects.get(pk=survivor["id"])
    assert row.reported_at == T0 - dt.timedelta(minutes=10)
    assert row.confirmed_at == T0 - dt.timedelta(minutes=10)
    assert row.dispatched_at is None  # never earlier than the survivor's own stage
    gone = Incident.objects.get(pk=duplicate["id"])
    assert gone.state == "merged" and gone.merged_into_id == row.pk
    assert IncidentCall.objects.filter(incident=gone).count() == 1  # the duplicate keeps its history
    absorb = IncidentTimelineEntry.objects.get(incident=row, action="absorb")
    assert absorb.data["merged"] == duplicate["number"] and absorb.data["tickets_added"] == 1
    event = Event.objects.filter(type="incident.merged").get()
    assert event.payload["merged_id"] == duplicate["id"] and event.payload["incident"]["id"] == row.pk
    # Merging into a finished incident, or into itself, is refused and changes nothing.
    response = commander.post(f"/api/incidents/{survivor['id']}/merge/", {"into_id": duplicate["id"]}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "survivor_finished"
    response = commander.post(f"/api/incidents/{survivor['id']}/merge/", {"into_id": survivor["id"]}, format="json")
    assert response.status_code == 400 and "into_id" in response.json()["fields"]
    assert Incident.objects.get(pk=survivor["id"]).state == "confirmed"


def test_report_accepts_gcj02_and_validates_the_affected_area(linkage: World) -> None:
    world = linkage
    from gis.coords import wgs84_to_gcj02

    gcj_lon, gcj_lat = (float(v) for v in wgs84_to_gcj02(LON, LAT))
    square = [[109.40, 24.30], [109.42, 24.30], [109.42, 24.32], [109.40, 24.32], [109.40, 24.30]]
    incident = create_incident(
        world,
        latitude=gcj_lat,
        longitude=gcj_lon,
        coordinate_system="gcj02",
        area_kind="polygon",
        area_geojson={"type": "Polygon", "coordinates": [square]},
    )
    assert abs(incident["latitude"] - LAT) < 1e-5 and abs(incident["longitude"] - LON) < 1e-5
    ring = incident["area_geojson"]["coordinates"][0]
    # The polygon came in GCJ-02 too: stored WGS84 is a few hundred metres south-west of what was sent.
    assert ring[0] != square[0] and abs(ring[0][0] - square[0][0]) < 0.01
    commander = world.client("commander")
    bowtie = [[109.40, 24.30], [109.42, 24.32], [109.42, 24.30], [109.40, 24.32], [109.40, 24.30]]
    for bad, field in (
        ({"area_kind": "polygon", "area_geojson": {"type": "Polygon", "coordinates": [bowtie]}}, "area_geojson"),
        ({"area_kind": "polygon", "area_geojson": {"type": "Point", "coordinates": [1, 2]}}, "area_geojson"),
        ({"area_kind": "circle", "area_radius_m": -5}, "area_radius_m"),
        ({"area_kind": "hexagon"}, "area_kind"),
        ({"latitude": 95}, "latitude"),
        ({"coordinate_system": "mars"}, "coordinate_system"),
        ({"commander_id": world.users["operator"].pk}, "commander_id"),
        ({"call_ids": [999999]}, "call_ids"),
    ):
        before = Incident.objects.count()
        response = commander.post("/api/incidents/", incident_body(**bad), format="json")
        assert response.status_code == 400 and field in response.json()["fields"], (bad, response.content)
        assert Incident.objects.count() == before


def test_update_changes_level_area_and_place_on_the_timeline(linkage: World) -> None:
    world = linkage
    incident = create_incident(world)
    commander = world.client("commander")
    updated = ok(
        commander.post(
            f"/api/incidents/{incident['id']}/update/",
            {"level": "I", "area_kind": "circle", "area_radius_m": 800, "commander_id": world.users["commander"].pk},
            format="json",
        )
    )
    assert updated["level"] == "I" and updated["area_kind"] == "circle" and updated["area_radius_m"] == 800
    assert updated["commander"]["id"] == world.users["commander"].pk
    row = IncidentTimelineEntry.objects.get(incident_id=incident["id"], action="update")
    assert row.data["changed"]["level"] == "I"
    response = commander.post(f"/api/incidents/{incident['id']}/update/", {"level": "I"}, format="json")
    assert response.status_code == 400  # nothing to change
    moved = ok(
        commander.post(
            f"/api/incidents/{incident['id']}/update/", {"latitude": 24.5, "longitude": 109.6}, format="json"
        )
    )
    assert moved["district_code"] == ""  # outside the district layer
