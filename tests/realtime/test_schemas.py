"""Event payloads fit their documented schemas; the docs list every type."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from core.clock import pinned_at
from realtime.events import append_event
from realtime.models import Event, PruneMark
from realtime.schemas import EVENT_SCHEMAS, SchemaMismatch, validate_payload
from tests.conftest import World, ticket_payload
from tests.pinned_time import WORKDAY_MORNING


def test_every_event_type_is_documented() -> None:
    text = (Path(settings.BASE_DIR) / "docs" / "EVENTS.md").read_text(encoding="utf-8")
    for event_type in EVENT_SCHEMAS:
        assert f"`{event_type}`" in text, event_type


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("ticket.changed", {"ticket": {"id": 1}}),
        (
            "work_order.created",
            {
                "work_order": {
                    "id": "1",
                    "number": "x",
                    "ticket_id": 1,
                    "agency_id": 1,
                    "responsibility": "lead",
                    "state": "pending_sign",
                }
            },
        ),
        ("caller.revealed", {"ticket_id": 1, "actor_id": 2, "phone": "+8613812341234"}),
        ("no.such.type", {}),
    ],
)
def test_payloads_that_do_not_fit_are_refused(event_type: str, payload: dict) -> None:
    with pytest.raises(SchemaMismatch):
        validate_payload(event_type, payload)


def test_the_real_write_path_produces_fitting_events(world: World) -> None:
    client = world.client("operator")
    # Pinned to a published calendar year: there the deadlines are known (no work_order.deadline_unknown).
    with pinned_at(WORKDAY_MORNING):
        ticket = client.post("/api/tickets/", ticket_payload(), format="json").json()
        world.client("dispatcher").post(
            f"/api/tickets/{ticket['id']}/dispatch/", {"lead_agency_id": world.agency_a.pk}, format="json"
        )
    events = list(Event.objects.order_by("id"))
    assert {e.type for e in events} == {"ticket.created", "ticket.changed", "work_order.created"}
    for event in events:
        validate_payload(event.type, event.payload)
    with pytest.raises(SchemaMismatch), transaction.atomic():
        append_event("ticket.created", {"ticket": {"id": 1}})


def test_prune_events_command_moves_the_mark(world: World) -> None:
    world.client("operator").post("/api/tickets/", ticket_payload(), format="json")
    newest = Event.objects.order_by("-id").first()
    assert newest is not None
    call_command("prune_events", "--hours", "0", stdout=io.StringIO())
    assert Event.objects.count() == 0 and PruneMark.objects.get().pruned_through_id == newest.pk
