"""Concurrent writes on incidents on real PostgreSQL: row locks in pk order, no lost or double work."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from emergency.models import Incident, IncidentTicket
from tests.conftest import World, ticket_payload
from tests.emergency.incident_fixtures import create_incident, linkage_fixture, ok  # noqa: F401


def _race(calls: list[Callable[[APIClient], Any]], user: Any) -> list[int]:
    barrier = threading.Barrier(len(calls), timeout=60)
    codes: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(call: Callable[[APIClient], Any]) -> None:
        try:
            client = APIClient()
            client.force_authenticate(user)
            barrier.wait()
            response = call(client)
            with lock:
                codes.append(response.status_code)
        except BaseException as exc:  # collected and asserted on below
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return sorted(codes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_crossed_merges_end_with_one_survivor(linkage: World) -> None:
    assert connection.vendor == "postgresql"
    a, b = create_incident(linkage)["id"], create_incident(linkage)["id"]
    codes = _race(
        [
            lambda c: c.post(f"/api/incidents/{a}/merge/", {"into_id": b}, format="json"),
            lambda c: c.post(f"/api/incidents/{b}/merge/", {"into_id": a}, format="json"),
        ],
        linkage.users["commander"],
    )
    assert codes == [200, 409]  # neither deadlocks nor merges both ways
    states = sorted(Incident.objects.filter(pk__in=[a, b]).values_list("state", flat=True))
    assert states == ["merged", "reported"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_ticket_escalated_by_many_at_once_makes_one_incident(linkage: World) -> None:
    assert connection.vendor == "postgresql"
    ticket = ok(linkage.client("operator").post("/api/tickets/", ticket_payload(), format="json"), 201)
    url = f"/api/tickets/{ticket['id']}/escalate/"
    codes = _race([lambda c: c.post(url, {"type": "fire"}, format="json") for _ in range(6)], linkage.users["operator"])
    assert codes == [200] + [409] * 5
    assert Incident.objects.count() == 1 and IncidentTicket.objects.filter(ticket_id=ticket["id"]).count() == 1
