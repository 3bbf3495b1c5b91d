"""POST /api/tickets/ with an Idempotency-Key: a retried intake never creates a second ticket."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from rest_framework.test import APIClient

from callcenter.models import IdempotencyKey, Ticket
from core.clock import pinned_at
from dispatch.models import TimelineEntry
from tests.conftest import World, ticket_payload

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _post(client: APIClient, body: Any, key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/api/tickets/", body, format="json", headers=headers)


def test_without_a_key_every_post_creates_a_ticket(world: World) -> None:
    client = world.client("operator")
    first, second = _post(client, ticket_payload(), None), _post(client, ticket_payload(), None)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert Ticket.objects.count() == 2 and IdempotencyKey.objects.count() == 0


def test_same_key_and_body_returns_the_first_ticket(world: World) -> None:
    client = world.client("operator")
    first = _post(client, ticket_payload(), "intake-7f3a")
    assert first.status_code == 201, first.content
    second = _post(client, ticket_payload(), "intake-7f3a")
    assert second.status_code == 200, second.content
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["number"] == first.json()["number"]
    assert Ticket.objects.count() == 1
    assert TimelineEntry.objects.filter(action="accept").count() == 1
    claim = IdempotencyKey.objects.get()
    assert (claim.user, claim.key, claim.ticket_id) == (world.users["operator"], "intake-7f3a", first.json()["id"])


def test_same_key_and_body_in_another_key_order_is_the_same_request(world: World) -> None:
    client = world.client("operator")
    body = ticket_payload()
    first = _post(client, body, "k-order")
    second = _post(client, dict(reversed(list(body.items()))), "k-order")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and Ticket.objects.count() == 1


def test_same_key_with_another_body_is_refused(world: World) -> None:
    client = world.client("operator")
    first = _post(client, ticket_payload(), "intake-1")
    assert first.status_code == 201, first.content
    other = _post(client, ticket_payload(description="另一件事：路灯不亮。"), "intake-1")
    assert other.status_code == 422, other.content
    assert other.json()["code"] == "idempotency_key_reused"
    assert set(other.json()) == {"code", "message", "fields"}
    assert list(Ticket.objects.values_list("id", flat=True)) == [first.json()["id"]]
    assert Ticket.objects.get().description == ticket_payload()["description"]
    # The original request can still be replayed.
    assert _post(client, ticket_payload(), "intake-1").status_code == 200


def test_different_users_may_use_the_same_key(world: World) -> None:
    by_operator = _post(world.client("operator"), ticket_payload(), "shared-key")
    by_dispatcher = _post(world.client("dispatcher"), ticket_payload(), "shared-key")
    assert (by_operator.status_code, by_dispatcher.status_code) == (201, 201)
    assert by_operator.json()["id"] != by_dispatcher.json()["id"]
    assert Ticket.objects.count() == 2
    # And each user's replay finds their own ticket.
    again = _post(world.client("dispatcher"), ticket_payload(), "shared-key")
    assert (again.status_code, again.json()["id"]) == (200, by_dispatcher.json()["id"])
    assert Ticket.objects.count() == 2


def test_a_rejected_body_does_not_use_up_the_key(world: World) -> None:
    client = world.client("operator")
    bad = _post(client, ticket_payload(description=""), "retry-after-fix")
    assert bad.status_code == 400 and "description" in bad.json()["fields"]
    assert IdempotencyKey.objects.count() == 0
    good = _post(client, ticket_payload(), "retry-after-fix")
    assert good.status_code == 201, good.content
    assert Ticket.objects.count() == 1


def test_a_key_expires_after_its_time_to_live(world: World) -> None:
    client = world.client("operator")
    start = dt.datetime(2026, 5, 11, 9, 0, tzinfo=SHANGHAI)
    with pinned_at(start):
        first = _post(client, ticket_payload(), "daily")
    with pinned_at(start + dt.timedelta(hours=23)):
        assert _post(client, ticket_payload(description="改了内容"), "daily").status_code == 422
    with pinned_at(start + dt.timedelta(hours=25)):
        later = _post(client, ticket_payload(description="改了内容"), "daily")
    assert (first.status_code, later.status_code) == (201, 201)
    assert first.json()["id"] != later.json()["id"] and Ticket.objects.count() == 2


def test_a_key_longer_than_100_characters_is_refused(world: World) -> None:
    response = _post(world.client("operator"), ticket_payload(), "k" * 101)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert Ticket.objects.count() == 0


def test_a_key_does_not_let_a_role_without_intake_rights_create(world: World) -> None:
    response = _post(world.client("handler_a"), ticket_payload(), "sneaky")
    assert response.status_code == 403
    assert Ticket.objects.count() == 0 and IdempotencyKey.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_create_one_ticket(world: World) -> None:
    # The postgres marker keeps this test out of the SQLite pass; fail loudly if it ever runs elsewhere.
    assert connection.vendor == "postgresql"
    threads_count = 8
    user = world.users["operator"]
    barrier = threading.Barrier(threads_count, timeout=60)
    results: list[tuple[int, int | None]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            client = APIClient()
            client.force_authenticate(user)
            barrier.wait()
            response = _post(client, ticket_payload(), "burst-1")
            with lock:
                ticket_id = response.json().get("id") if response.status_code in (200, 201) else None
                results.append((response.status_code, ticket_id))
        except BaseException as exc:  # collected and asserted on below
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * (threads_count - 1) + [201], results
    ids = {ticket_id for _, ticket_id in results}
    assert len(ids) == 1 and None not in ids
    assert list(Ticket.objects.values_list("id", flat=True)) == list(ids)
    assert IdempotencyKey.objects.filter(user=user, key="burst-1").count() == 1
    assert TimelineEntry.objects.filter(action="accept").count() == 1
