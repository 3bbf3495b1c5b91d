"""Confidential callers: agencies see a masked number and, if asked, no name; revealing them is audited."""

from __future__ import annotations

from typing import Any

import pytest

from organisation.models import AuditEntry
from tests.access.scene import CENTRE, OPEN_NAME, PHONE_E164, PHONE_MASKED, PHONE_NATIONAL, SECRET_NAME, build_scene
from tests.conftest import World


def test_confidential_caller_name_is_hidden_from_agencies_only(world: World) -> None:
    scene = build_scene(world, "pending_sign")
    ticket_a, ticket_b = scene.tickets["a"], scene.tickets["b"]
    for who in ("handler_a", "agencyadmin_a"):
        row = world.client(who).get(f"/api/tickets/{ticket_a.pk}/").json()
        assert (row["caller_name"], row["callers"][0]["name"], row["caller_confidential"]) == ("***", "***", True)
        assert row["caller_phone"] == PHONE_MASKED
    # A caller who did not ask for confidentiality keeps the name; the number is masked all the same.
    row = world.client("handler_b").get(f"/api/tickets/{ticket_b.pk}/").json()
    assert (row["caller_name"], row["caller_phone"]) == (OPEN_NAME, PHONE_MASKED)
    for who in CENTRE:
        row = world.client(who).get(f"/api/tickets/{ticket_a.pk}/").json()
        assert (row["caller_name"], row["caller_phone"]) == (SECRET_NAME, PHONE_E164)


def test_reveal_returns_the_full_number_and_writes_an_audit_entry(world: World) -> None:
    scene = build_scene(world, "pending_sign")
    ticket = scene.tickets["a"]
    response = world.client("handler_a").post(
        f"/api/tickets/{ticket.pk}/reveal/", {"reason": "需电话联系市民确认位置"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["phone"] == PHONE_E164 and body["caller_name"] == SECRET_NAME
    assert [(c["phone"], c["name"]) for c in body["callers"]] == [(PHONE_E164, SECRET_NAME)]
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.actor_agency, entry.target_type, entry.target_id, entry.action, entry.reason) == (
        world.users["handler_a"],
        world.agency_a,
        "ticket",
        ticket.pk,
        "reveal_caller",
        "需电话联系市民确认位置",
    )
    assert set(entry.fields) == {"phone", "caller_name", "free_text"}
    # Revealing does not unmask the ordinary reads.
    assert world.client("handler_a").get(f"/api/tickets/{ticket.pk}/").json()["caller_phone"] == PHONE_MASKED


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}], ids=["missing", "empty", "blank", "null"]
)
def test_reveal_needs_a_reason(world: World, body: dict[str, Any]) -> None:
    scene = build_scene(world, "pending_sign")
    response = world.client("handler_a").post(f"/api/tickets/{scene.tickets['a'].pk}/reveal/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_input" and "reason" in response.json()["fields"]
    assert AuditEntry.objects.count() == 0


def test_reveal_of_another_agencys_ticket_is_not_found_and_not_audited(world: World) -> None:
    scene = build_scene(world, "pending_sign")
    response = world.client("handler_b").post(
        f"/api/tickets/{scene.tickets['a'].pk}/reveal/", {"reason": "想看看"}, format="json"
    )
    assert response.status_code == 404
    assert PHONE_NATIONAL not in response.content.decode() and SECRET_NAME not in response.content.decode()
    assert AuditEntry.objects.count() == 0
