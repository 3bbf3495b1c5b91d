"""Concurrency on real PostgreSQL: row locks make a unit's assignment and its newest fix win exactly once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from core import clock
from emergency.models import Assignment, Unit
from tests.conftest import World
from tests.emergency.unit_fixtures import CENTRE_LAT, CENTRE_LON, NOW, east_of, make_unit, place_unit, report_incident

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(count: int, work: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(count, timeout=60)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_concurrent_assignments_of_one_unit_let_exactly_one_win(world: World) -> None:
    assert connection.vendor == "postgresql"
    engine = make_unit("消防1", "fire_engine", world.agency_a)
    place_unit(world, engine, CENTRE_LON, CENTRE_LAT)
    incidents = [report_incident(world, east_of(100 * i), CENTRE_LAT) for i in range(6)]

    def assign(i: int) -> int:
        client = APIClient()
        client.force_authenticate(world.users["commander"])
        return int(client.post(f"/api/incidents/{incidents[i].pk}/assign/", {"unit_ids": [engine.pk]}).status_code)

    codes = _race(len(incidents), assign)
    assert sorted(codes) == [201] + [409] * (len(incidents) - 1)
    assert Assignment.objects.filter(unit=engine).count() == 1
    assert Unit.objects.get(pk=engine.pk).status == "dispatched"


def test_concurrent_fixes_leave_the_newest(world: World) -> None:
    assert connection.vendor == "postgresql"
    engine = make_unit("消防1", "fire_engine", world.agency_a)
    count = 8

    def report(i: int) -> int:
        client = APIClient()
        client.force_authenticate(world.users["admin"])
        body = {
            "device_id": engine.device_id,
            "lon": east_of(10 * i),
            "lat": CENTRE_LAT,
            "time": (NOW + dt.timedelta(seconds=i)).isoformat(),
        }
        with clock.pinned_at(NOW + dt.timedelta(seconds=30)):
            return int(client.post("/api/avl/positions/", body, format="json").status_code)

    assert _race(count, report) == [200] * count
    unit = Unit.objects.get(pk=engine.pk)
    assert unit.fix_at == NOW + dt.timedelta(seconds=count - 1)
    assert unit.longitude == pytest.approx(east_of(10 * (count - 1)))
