"""The demo units and the simulator: loading is idempotent, and a dispatched unit drives to the scene,
is timed there and comes back, all through the real ingest and status actions."""

from __future__ import annotations

import datetime as dt
import io
import random

from django.core.management import call_command

from core import clock
from emergency.models import Assignment, Unit
from emergency.units.actions import do_assign_units
from emergency.units.measures import distance_m
from emergency.units.simulation import Simulator
from organisation.actions import do_load_agencies
from realtime.models import Event
from tests.conftest import World
from tests.emergency.unit_fixtures import NOW, report_incident


def test_demo_units_load_idempotently_and_drive_to_an_incident_and_back(world: World) -> None:
    do_load_agencies()
    out = io.StringIO()
    call_command("load_demo_units", stdout=out)
    call_command("load_demo_units", stdout=out)
    assert "40 in the file, 40 new" in out.getvalue() and "40 in the file, 0 new" in out.getvalue()
    assert Unit.objects.count() == 40
    assert set(Unit.objects.values_list("unit_type", flat=True)) == {
        "fire_engine",
        "ambulance",
        "police_car",
        "rescue_team",
        "repair_crew",
    }
    for lon, lat in Unit.objects.values_list("station_longitude", "station_latitude"):
        assert 109.2 < lon < 109.6 and 24.1 < lat < 24.5  # inside Liuzhou's urban area

    simulator = Simulator(actor=world.users["admin"], rng=random.Random(1), interval=20.0)

    def tick(seconds: float) -> int:
        with clock.pinned_at(NOW + dt.timedelta(seconds=seconds)):
            return simulator.tick()

    assert tick(0) == 40  # every unit reports, repair crews in GCJ-02
    crew = Unit.objects.filter(unit_type="repair_crew").first()
    assert crew is not None and crew.longitude is not None and crew.latitude is not None
    assert distance_m(crew.longitude, crew.latitude, crew.station_longitude, crew.station_latitude) < 20

    engine = Unit.objects.get(call_sign="城中消防1")
    assert engine.longitude is not None and engine.latitude is not None
    with clock.pinned_at(NOW + dt.timedelta(seconds=10)):
        incident = report_incident(world, engine.longitude + 0.012, engine.latitude)  # about 1.2 km east
        do_assign_units(incident.pk, [engine.pk], actor=world.users["commander"])
    statuses = []
    for i in range(1, 40):
        tick(10 + 20 * i)
        statuses.append(Unit.objects.get(pk=engine.pk).status)
        if statuses[-1] == "available":
            break
    assert statuses[0] == "en_route"
    assert "on_scene" in statuses and "returning" in statuses and statuses[-1] == "available"
    assignment = Assignment.objects.get(unit=engine)
    assert assignment.en_route_at and assignment.on_scene_at and assignment.cleared_at
    assert assignment.on_scene_at - assignment.dispatched_at < dt.timedelta(minutes=5)
    engine.refresh_from_db()
    assert engine.longitude is not None and engine.latitude is not None
    assert distance_m(engine.longitude, engine.latitude, engine.station_longitude, engine.station_latitude) < 50
    assert Event.objects.filter(type="unit.moved", payload__unit__id=engine.pk).count() >= 5


def test_the_simulate_units_command_reports_through_the_ingest(world: World) -> None:
    do_load_agencies()
    call_command("load_demo_units", stdout=io.StringIO())
    out = io.StringIO()
    call_command("simulate_units", "--ticks", "2", "--interval", "0", "--stop-with-parent", stdout=out)
    assert "Sent 2 reports." in out.getvalue()
    assert not Unit.objects.filter(fix_at__isnull=True).exists()
    assert Event.objects.filter(type="unit.moved").count() >= 40
