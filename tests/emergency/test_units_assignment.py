"""Assignment of units to incidents and the unit steps timed on the incident's command timeline."""

from __future__ import annotations

import datetime as dt

import pytest

from core import clock
from emergency.models import Assignment, Incident, IncidentTimelineEntry, Unit, UnitTimelineEntry
from realtime.models import Event
from tests.conftest import World
from tests.emergency.unit_fixtures import CENTRE_LAT, CENTRE_LON, NOW, east_of, make_unit, place_unit, report_incident


@pytest.fixture
def setup(world: World) -> tuple[Incident, Unit, Unit]:
    engine = make_unit("消防1", "fire_engine", world.agency_a)
    ambulance = make_unit("急救1", "ambulance", world.agency_b)
    with clock.pinned_at(NOW):
        place_unit(world, engine, east_of(1000), CENTRE_LAT)
        place_unit(world, ambulance, east_of(2000), CENTRE_LAT)
        incident = report_incident(world, CENTRE_LON, CENTRE_LAT)
    return incident, engine, ambulance


def _unit_steps(incident: Incident) -> list[IncidentTimelineEntry]:
    return list(IncidentTimelineEntry.objects.filter(incident=incident, machine="unit").order_by("id"))


def test_one_click_assigns_units_and_times_every_step_on_the_incident(
    world: World, setup: tuple[Incident, Unit, Unit]
) -> None:
    incident, engine, ambulance = setup
    commander = world.client("commander")
    with clock.pinned_at(NOW + dt.timedelta(seconds=90)):
        response = commander.post(
            f"/api/incidents/{incident.pk}/assign/", {"unit_ids": [engine.pk, ambulance.pk]}, format="json"
        )
    assert response.status_code == 201, response.content
    rows = response.json()["assignments"]
    assert [row["unit"] for row in rows] == [engine.pk, ambulance.pk]
    assert rows[0]["distance_m"] == pytest.approx(1000, rel=0.01) and rows[0]["eta_seconds"] > 0
    assert Unit.objects.get(pk=engine.pk).status == "dispatched"
    incident.refresh_from_db()
    assert incident.state == "dispatched"  # the first assignment dispatches the incident
    dispatch_steps = _unit_steps(incident)
    assert [s.action for s in dispatch_steps] == ["unit_dispatch", "unit_dispatch"]
    assert dispatch_steps[0].data["call_to_dispatch_seconds"] == 90
    assert dispatch_steps[0].data["unit_id"] == engine.pk

    crew = world.client("handler_a")  # the engine belongs to agency A
    for seconds, action in ((120, "en_route"), (400, "arrive"), (1300, "clear"), (1900, "make_available")):
        with clock.pinned_at(NOW + dt.timedelta(seconds=seconds)):
            answer = crew.post(f"/api/units/{engine.pk}/transition/", {"action": action}, format="json")
        assert answer.status_code == 200, (action, answer.content)
    assignment = Assignment.objects.get(unit=engine)
    assert assignment.dispatched_at == NOW + dt.timedelta(seconds=90)
    assert assignment.en_route_at == NOW + dt.timedelta(seconds=120)
    assert assignment.on_scene_at == NOW + dt.timedelta(seconds=400)
    assert assignment.cleared_at == NOW + dt.timedelta(seconds=1300)
    steps = {s.action: s.data for s in _unit_steps(incident)}
    assert steps["unit_en_route"]["dispatch_to_en_route_seconds"] == 30
    assert steps["unit_arrive"]["dispatch_to_scene_seconds"] == 310
    assert steps["unit_arrive"]["call_to_scene_seconds"] == 400
    assert steps["unit_clear"]["time_on_scene_seconds"] == 900
    assert "unit_make_available" not in steps  # after clearing, the unit is no longer on the incident
    incident.refresh_from_db()
    assert incident.state == "on_scene" and incident.on_scene_at == NOW + dt.timedelta(seconds=400)
    unit = Unit.objects.get(pk=engine.pk)
    assert unit.status == "available"
    assert [e.to_state for e in UnitTimelineEntry.objects.filter(unit=unit).order_by("id")] == [
        "dispatched",
        "en_route",
        "on_scene",
        "returning",
        "available",
    ]
    listed = commander.get(f"/api/incidents/{incident.pk}/assignments/").json()["assignments"]
    assert [(row["call_sign"], row["cleared_at"] is not None) for row in listed] == [("消防1", True), ("急救1", False)]
    assert world.client("handler_c").get(f"/api/incidents/{incident.pk}/assignments/").status_code == 404
    changes = Event.objects.filter(type="unit.status_changed", payload__unit__id=engine.pk).order_by("id")
    assert [e.payload["action"] for e in changes] == ["dispatch", "en_route", "arrive", "clear", "make_available"]


def test_a_unit_cannot_be_assigned_twice(world: World, setup: tuple[Incident, Unit, Unit]) -> None:
    incident, engine, ambulance = setup
    commander = world.client("commander")
    with clock.pinned_at(NOW):
        other = report_incident(world, east_of(50), CENTRE_LAT)
        assert commander.post(f"/api/incidents/{incident.pk}/assign/", {"unit_ids": [engine.pk]}).status_code == 201
        before = (Assignment.objects.count(), Event.objects.count(), IncidentTimelineEntry.objects.count())
        again = commander.post(f"/api/incidents/{other.pk}/assign/", {"unit_ids": [ambulance.pk, engine.pk]})
    assert again.status_code == 409 and again.json()["code"] == "transition_not_allowed"
    # All or nothing: the ambulance was not assigned either.
    assert (Assignment.objects.count(), Event.objects.count(), IncidentTimelineEntry.objects.count()) == before
    assert Unit.objects.get(pk=ambulance.pk).status == "available"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unit_ids": []}, "unit_ids"),
        ({"unit_ids": ["x"]}, "unit_ids"),
        ({"unit_ids": [999999]}, "unit_ids"),
        ({}, "unit_ids"),
    ],
)
def test_bad_assignments_are_refused(world: World, setup: tuple[Incident, Unit, Unit], body: dict, field: str) -> None:
    incident, _engine, _ambulance = setup
    before = (Assignment.objects.count(), Event.objects.count())
    response = world.client("commander").post(f"/api/incidents/{incident.pk}/assign/", body, format="json")
    assert response.status_code == 400 and field in response.json()["fields"]
    assert (Assignment.objects.count(), Event.objects.count()) == before


def test_only_the_command_desk_assigns(world: World, setup: tuple[Incident, Unit, Unit]) -> None:
    incident, engine, _ambulance = setup
    assert (
        world.client("handler_a").post(f"/api/incidents/{incident.pk}/assign/", {"unit_ids": [engine.pk]}).status_code
        == 404
    )
    assert (
        world.client("operator").post(f"/api/incidents/{incident.pk}/assign/", {"unit_ids": [engine.pk]}).status_code
        == 403
    )
    assert not Assignment.objects.exists()


def test_a_linked_agency_sees_the_units_sent_to_its_incident(world: World, setup: tuple[Incident, Unit, Unit]) -> None:
    from emergency.actions import do_link_agency

    incident, engine, ambulance = setup
    with clock.pinned_at(NOW):
        do_link_agency(
            incident.pk, {"agency_id": world.agency_c.pk, "task": "现场警戒"}, actor=world.users["commander"]
        )
        world.client("commander").post(f"/api/incidents/{incident.pk}/assign/", {"unit_ids": [engine.pk]})
    seen = {u["id"] for u in world.client("handler_c").get("/api/units/").json()["results"]}
    assert seen == {engine.pk}  # on its incident; the ambulance is not
    assert world.client("handler_c").get(f"/api/units/{ambulance.pk}/").status_code == 404
    moved = Event.objects.filter(type="unit.status_changed", payload__unit__id=engine.pk).last()
    assert moved is not None and world.agency_c.pk in moved.agency_ids and world.agency_a.pk in moved.agency_ids
    with clock.pinned_at(NOW + dt.timedelta(seconds=30)):
        place_unit(world, engine, east_of(500), CENTRE_LAT)
    moved = Event.objects.filter(type="unit.moved", payload__unit__id=engine.pk).last()
    assert moved is not None and moved.agency_ids == sorted([world.agency_a.pk, world.agency_c.pk])
    assert moved.payload["unit"]["incident_id"] == incident.pk
