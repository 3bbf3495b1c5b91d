"""External references on intake: source system, external id and original report time; a repeated
(source_system, external_id) returns the first ticket with no expiry, another payload for it is a 409; lookup by
external id within each role's scope; phone numbers read in an explicit country."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from rest_framework.test import APIClient

from callcenter.models import Caller, Ticket
from core.clock import pinned_at
from dispatch.models import TimelineEntry
from tests.conftest import World, ticket_payload
from tests.dispatch.test_ticket_page_access import client_of, visible_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 5, 11, 9, 0, tzinfo=SHANGHAI)
SF = {"source_system": "sf311", "external_id": "101002345", "reported_at": "2026-05-10T17:30:00-07:00"}


def _post(client: APIClient, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post("/api/tickets/", body, format="json", headers=headers or {})


def test_reference_is_stored_and_shown_to_the_centre(world: World) -> None:
    with pinned_at(NOW):
        response = _post(world.client("operator"), ticket_payload(**SF))
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get()
    assert (ticket.source_system, ticket.external_id) == ("sf311", "101002345")
    assert ticket.reported_at == dt.datetime(2026, 5, 11, 0, 30, tzinfo=dt.UTC)
    body = response.json()
    assert (body["source_system"], body["external_id"]) == ("sf311", "101002345")
    assert dt.datetime.fromisoformat(body["reported_at"]) == ticket.reported_at
    detail = world.client("dispatcher").get(f"/api/tickets/{ticket.pk}/").json()
    assert detail["external_id"] == "101002345"


def test_same_reference_and_payload_returns_the_first_ticket_without_expiry(world: World) -> None:
    client = world.client("operator")
    with pinned_at(NOW):
        first = _post(client, ticket_payload(**SF))
    # A year later, spelled differently (other key order, the number with +86): still the same intake.
    with pinned_at(NOW + dt.timedelta(days=365)):
        body = dict(reversed(list(ticket_payload(phone="+8613812341234", **SF).items())))
        again = _post(world.client("dispatcher"), body)
    assert (first.status_code, again.status_code) == (201, 200), again.content
    assert again.json()["id"] == first.json()["id"]
    assert Ticket.objects.count() == 1
    assert TimelineEntry.objects.filter(action="accept").count() == 1


def test_same_reference_with_another_payload_is_a_conflict(world: World) -> None:
    client = world.client("operator")
    with pinned_at(NOW):
        first = _post(client, ticket_payload(**SF))
        other = _post(client, ticket_payload(description="另一件事：路灯不亮。", **SF))
    assert first.status_code == 201
    assert other.status_code == 409, other.content
    assert other.json()["code"] == "external_reference_reused"
    assert "external_id" in other.json()["fields"]
    assert Ticket.objects.count() == 1
    assert Ticket.objects.get().description == ticket_payload()["description"]


def test_same_id_from_another_system_is_another_ticket(world: World) -> None:
    client = world.client("operator")
    with pinned_at(NOW):
        first = _post(client, ticket_payload(**SF))
        other = _post(client, ticket_payload(**{**SF, "source_system": "wechat-miniapp"}))
        plain = [_post(client, ticket_payload()) for _ in range(2)]
    assert [r.status_code for r in (first, other, *plain)] == [201, 201, 201, 201]
    assert Ticket.objects.count() == 4


def test_reference_with_an_idempotency_key_links_the_key_to_the_first_ticket(world: World) -> None:
    client = world.client("operator")
    with pinned_at(NOW):
        first = _post(client, ticket_payload(**SF))
        keyed = _post(client, ticket_payload(**SF), {"Idempotency-Key": "k1"})
        replay = _post(client, ticket_payload(**SF), {"Idempotency-Key": "k1"})
    assert (first.status_code, keyed.status_code, replay.status_code) == (201, 200, 200)
    assert first.json()["id"] == keyed.json()["id"] == replay.json()["id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source_system", "SF 311"),
        ("source_system", "x" * 41),
        ("source_system", ["sf311"]),
        ("external_id", "x" * 101),
        ("external_id", "a\u0000b"),
        ("reported_at", "yesterday"),
        ("reported_at", "2026-05-10T17:30:00"),  # no offset
        ("reported_at", "1999-12-31T23:59:00+08:00"),
        ("reported_at", "2026-05-11T09:10:00+08:00"),  # ten minutes ahead of NOW
        ("phone_country", "XX"),
        ("phone_country", "USA"),
        ("phone_country", 1),
    ],
)
def test_bad_reference_or_country_is_a_field_error(world: World, field: str, value: Any) -> None:
    body = ticket_payload(**SF)
    body[field] = value
    with pinned_at(NOW):
        response = _post(world.client("operator"), body)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert Ticket.objects.count() == 0


def test_an_external_id_needs_its_source_system(world: World) -> None:
    with pinned_at(NOW):
        response = _post(world.client("operator"), ticket_payload(external_id="101002345"))
    assert response.status_code == 400 and "source_system" in response.json()["fields"]
    assert Ticket.objects.count() == 0


def test_a_small_clock_skew_is_accepted(world: World) -> None:
    with pinned_at(NOW):
        response = _post(world.client("operator"), ticket_payload(**{**SF, "reported_at": "2026-05-11T01:03:00Z"}))
    assert response.status_code == 201, response.content


def test_lookup_by_external_id(world: World) -> None:
    with pinned_at(NOW):
        wanted = _post(world.client("operator"), ticket_payload(**SF)).json()["id"]
        _post(world.client("operator"), ticket_payload(**{**SF, "source_system": "wechat-miniapp"}))
        _post(world.client("operator"), ticket_payload())
    found = world.client("dispatcher").get("/api/tickets/", {"source_system": "sf311", "external_id": "101002345"})
    assert found.status_code == 200
    assert [row["id"] for row in found.json()["results"]] == [wanted]
    none = world.client("dispatcher").get("/api/tickets/", {"source_system": "sf311", "external_id": "nope"})
    assert none.json()["results"] == []


def test_agencies_look_up_only_their_tickets_and_do_not_see_references(world: World) -> None:
    with pinned_at(NOW):
        ticket_id = _post(world.client("operator"), ticket_payload(**SF)).json()["id"]
    query = {"source_system": "sf311", "external_id": "101002345"}
    assert world.client("handler_a").get("/api/tickets/", query).json()["results"] == []
    dispatched = world.client("dispatcher").post(
        f"/api/tickets/{ticket_id}/dispatch/", {"lead_agency_id": world.agency_a.pk}, format="json"
    )
    assert dispatched.status_code == 200, dispatched.content
    rows = world.client("handler_a").get("/api/tickets/", query).json()["results"]
    assert [row["id"] for row in rows] == [ticket_id]
    assert (rows[0]["source_system"], rows[0]["external_id"], rows[0]["reported_at"]) == ("", "", None)
    assert world.client("handler_b").get("/api/tickets/", query).json()["results"] == []


def test_phone_country_reads_a_national_number_in_that_country(world: World) -> None:
    client = world.client("operator")
    us = _post(client, ticket_payload(phone="4155550123", phone_country="US"))
    assert us.status_code == 201, us.content
    assert Caller.objects.get(tickets=us.json()["id"]).phone == "+14155550123"
    lower = _post(client, ticket_payload(phone="(415) 555-0123", phone_country="us"))
    assert lower.status_code == 201, lower.content
    assert Ticket.objects.get(pk=lower.json()["id"]).caller_id == Ticket.objects.get(pk=us.json()["id"]).caller_id
    # Without a country the installation's region (CN) applies, as before.
    local = _post(client, ticket_payload(phone="13812341234"))
    assert Caller.objects.get(tickets=local.json()["id"]).phone == "+8613812341234"
    # A number that is not valid in the given country is refused.
    bad = _post(client, ticket_payload(phone="13812341234", phone_country="US"))
    assert bad.status_code == 400 and "phone" in bad.json()["fields"]
    assert Caller.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_of_one_reference_create_one_ticket(world: World) -> None:
    assert connection.vendor == "postgresql"
    threads_count = 8
    barrier = threading.Barrier(threads_count, timeout=60)
    results: list[tuple[int, int | None]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        try:
            client = APIClient()
            # Different users and no Idempotency-Key: only the external reference joins them.
            client.force_authenticate(world.users["operator" if index % 2 else "dispatcher"])
            barrier.wait()
            response = _post(client, ticket_payload(**{**SF, "reported_at": "2020-01-01T00:00:00Z"}))
            with lock:
                ticket_id = response.json().get("id") if response.status_code in (200, 201) else None
                results.append((response.status_code, ticket_id))
        except BaseException as exc:  # collected and asserted on below
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    assert sorted(status for status, _ in results) == [200] * (threads_count - 1) + [201], results
    ids = {ticket_id for _, ticket_id in results}
    assert len(ids) == 1 and None not in ids
    assert list(Ticket.objects.values_list("id", flat=True)) == list(ids)
    assert TimelineEntry.objects.filter(action="accept").count() == 1


def test_ticket_page_shows_the_reference_to_the_centre_only(world: World) -> None:
    with pinned_at(NOW):
        ticket_id = _post(world.client("operator"), ticket_payload(**SF)).json()["id"]
    world.client("dispatcher").post(
        f"/api/tickets/{ticket_id}/dispatch/", {"lead_agency_id": world.agency_a.pk}, format="json"
    )
    number = Ticket.objects.get(pk=ticket_id).number
    centre = visible_text(client_of(world, "operator").get(f"/tickets/{number}/").content.decode())
    assert "sf311" in centre and "101002345" in centre
    assert "2026-05-11 08:30" in centre  # 17:30 in San Francisco is 08:30 the next day in Shanghai
    agency_page = client_of(world, "handler_a").get(f"/tickets/{number}/")
    assert agency_page.status_code == 200
    assert "101002345" not in agency_page.content.decode()
