"""The audited reveal of an incident's free text (issue #18's rule for tickets, on incidents): a linked agency
reads typed numbers masked, gives a reason to see them, and the reveal is in the audit log."""

from __future__ import annotations

from typing import Any

import pytest

from emergency import actions as emergency
from organisation.models import AuditEntry
from tests.conftest import World

MOBILE, MOBILE_MASKED = "139-1234-5678", "139****5678"
LANDLINE = "(0772)2801234"


@pytest.fixture(name="incident")
def incident_fixture(world: World) -> Any:
    users = world.users
    body = {"type": "fire", "title": f"火情 报警人{MOBILE}", "latitude": 24.3126, "longitude": 109.4112}
    incident = emergency.do_report_incident(body, actor=users["commander"])
    link = emergency.do_link_agency(
        incident.pk, {"agency_id": world.agency_a.pk, "task": f"疏散，现场联系{LANDLINE}"}, actor=users["commander"]
    )
    emergency.do_act_on_task(link.pk, "acknowledge", {"note": f"已出发，带队{MOBILE}"}, actor=users["handler_a"])
    return incident


def test_a_linked_agency_reveals_the_typed_numbers_with_a_reason_and_it_is_audited(world: World, incident: Any) -> None:
    masked = world.client("handler_a").get(f"/api/incidents/{incident.pk}/").content.decode()
    assert MOBILE not in masked and MOBILE_MASKED in masked
    response = world.client("handler_a").post(
        f"/api/incidents/{incident.pk}/reveal/", {"reason": "需联系现场带队人员"}, format="json"
    )
    assert response.status_code == 200, response.content
    texts = response.json()["texts"]
    assert texts["incident"] == {"title": f"火情 报警人{MOBILE}"}
    assert [row["task"] for row in texts["tasks"].values()] == [f"疏散，现场联系{LANDLINE}"]
    assert f"已出发，带队{MOBILE}" in [row.get("note") for row in texts["timeline"].values()]
    entry = AuditEntry.objects.get(action="reveal_incident_text")
    assert (entry.actor, entry.target_type, entry.target_id, entry.reason) == (
        world.users["handler_a"],
        "incident",
        incident.pk,
        "需联系现场带队人员",
    )
    # The ordinary read stays masked after a reveal.
    assert MOBILE not in world.client("handler_a").get(f"/api/incidents/{incident.pk}/").content.decode()


def test_a_reveal_needs_a_reason_and_a_linked_agency(world: World, incident: Any) -> None:
    no_reason = world.client("handler_a").post(
        f"/api/incidents/{incident.pk}/reveal/", {"reason": "。。"}, format="json"
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["fields"]
    # Another agency: the incident does not exist for it.
    other = world.client("handler_b").post(
        f"/api/incidents/{incident.pk}/reveal/", {"reason": "需联系现场带队人员"}, format="json"
    )
    assert other.status_code == 404
    assert not AuditEntry.objects.filter(action="reveal_incident_text").exists()
