"""12345 -> 110/119/120/122 transfers by the agreed item lists, recorded on both sides."""

from __future__ import annotations

from dispatch.models import TimelineEntry
from emergency.actions.transfer import do_load_transfer_list, do_save_transfer_rule
from emergency.models import IncidentTimelineEntry, Transfer, TransferRule
from organisation.actions import do_save_subject
from organisation.models import Subject
from tests.conftest import World, ticket_payload
from tests.emergency.incident_fixtures import create_incident, linkage_fixture, ok  # noqa: F401


def _list_entry(subject: str, line: str, item: str) -> TransferRule:
    return do_save_transfer_rule(TransferRule(subject=Subject.objects.get(code=subject), line=line, item=item))


def _ticket(world: World, subject: str = "t-garbage") -> dict:
    return ok(world.client("operator").post("/api/tickets/", ticket_payload(subject=subject), format="json"), 201)


def test_a_listed_subject_is_transferred_with_its_list_entry_on_the_ticket_timeline(linkage: World) -> None:
    world = linkage
    rule = _list_entry("t-vendors", "110", "占道经营引发现场冲突")
    ticket = _ticket(world, "t-vendors")
    answer = ok(world.client("operator").post(f"/api/tickets/{ticket['id']}/transfer/", {"line": "110"}, format="json"))
    transfer = Transfer.objects.get()
    assert answer["transfer"]["id"] == transfer.pk and transfer.rule == rule and transfer.item == rule.item
    assert transfer.direction == "outbound" and transfer.incident is None and transfer.override_reason == ""
    row = TimelineEntry.objects.get(ticket_id=ticket["id"], action="transfer")
    assert row.data["line"] == "110" and row.data["rule_id"] == rule.pk and row.data["item"] == rule.item
    listed = ok(world.client("operator").get("/api/transfer-list/?subject=t-vendors"))
    assert [(e["line"], e["item"]) for e in listed] == [("110", rule.item)]


def test_an_unlisted_subject_is_refused_unless_a_reason_is_given(linkage: World) -> None:
    world = linkage
    _list_entry("t-garbage", "119", "垃圾堆起火")
    ticket = _ticket(world)
    client = world.client("operator")
    response = client.post(f"/api/tickets/{ticket['id']}/transfer/", {"line": "110"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "not_on_transfer_list" and "override_reason" in body["fields"] and "119" in body["message"]
    assert not Transfer.objects.exists() and not TimelineEntry.objects.filter(action="transfer").exists()
    response = client.post(f"/api/tickets/{ticket['id']}/transfer/", {"line": "999"}, format="json")
    assert response.status_code == 400 and "line" in response.json()["fields"]
    ok(
        client.post(
            f"/api/tickets/{ticket['id']}/transfer/", {"line": "110", "override_reason": "现场斗殴"}, format="json"
        )
    )
    transfer = Transfer.objects.get()
    assert transfer.rule is None and transfer.override_reason == "现场斗殴"
    assert TimelineEntry.objects.get(action="transfer").data["override_reason"] == "现场斗殴"


def test_transfer_with_escalation_records_on_the_incident_timeline_too(linkage: World) -> None:
    world = linkage
    _list_entry("t-garbage", "119", "垃圾堆起火")
    ticket = _ticket(world)
    body = {"line": "119", "note": "已转119", "escalate": {"type": "fire", "level": "IV"}}
    answer = ok(world.client("operator").post(f"/api/tickets/{ticket['id']}/transfer/", body, format="json"))
    transfer = Transfer.objects.get(pk=answer["transfer"]["id"])
    incident = transfer.incident
    assert incident is not None and incident.tickets.get().pk == ticket["id"]
    steps = list(IncidentTimelineEntry.objects.filter(incident=incident).values_list("action", "machine"))
    assert steps == [("escalate", "incident"), ("transfer", "transfer")]
    assert IncidentTimelineEntry.objects.get(action="transfer").data["line"] == "119"
    assert set(TimelineEntry.objects.filter(ticket_id=ticket["id"]).values_list("action", flat=True)) >= {"transfer"}
    # Into an existing live incident instead.
    other = create_incident(world)
    second = _ticket(world)
    body = {"line": "119", "incident_id": other["id"]}
    ok(world.client("operator").post(f"/api/tickets/{second['id']}/transfer/", body, format="json"))
    assert IncidentTimelineEntry.objects.filter(incident_id=other["id"], action="transfer").count() == 1


def test_agencies_cannot_transfer_and_the_list_file_loads_idempotently(linkage: World) -> None:
    world = linkage
    ticket = _ticket(world)
    response = world.client("handler_a").post(f"/api/tickets/{ticket['id']}/transfer/", {"line": "110"}, format="json")
    assert response.status_code == 404  # not its ticket
    assert do_load_transfer_list() == 0  # none of the demo city's subjects exist in the test taxonomy
    do_save_subject(Subject(code="gas-leak", name="燃气泄漏"), actor=None, changed=())
    assert do_load_transfer_list() == do_load_transfer_list() == 1
    assert TransferRule.objects.get().line == "119"


def test_escalating_a_listed_subject_takes_the_lists_incident_type(linkage: World) -> None:
    world = linkage
    rule = _list_entry("t-vendors", "110", "占道经营引发现场冲突")
    rule.incident_type = "public_security"
    do_save_transfer_rule(rule)
    ticket = _ticket(world, "t-vendors")
    answer = ok(world.client("operator").post(f"/api/tickets/{ticket['id']}/escalate/", {}, format="json"))
    assert answer["incident"]["type"] == "public_security"
    unlisted = _ticket(world)
    response = world.client("operator").post(f"/api/tickets/{unlisted['id']}/escalate/", {}, format="json")
    assert response.status_code == 400 and "type" in response.json()["fields"]


def test_an_inbound_transfer_is_recorded_without_the_list(linkage: World) -> None:
    world = linkage
    ticket = ok(
        world.client("operator").post("/api/tickets/", ticket_payload(channel="transfer_110"), format="json"), 201
    )
    body = {"line": "110", "direction": "inbound", "note": "110转来非警务类诉求"}
    ok(world.client("operator").post(f"/api/tickets/{ticket['id']}/transfer/", body, format="json"))
    transfer = Transfer.objects.get()
    assert transfer.direction == "inbound" and transfer.rule is None and transfer.override_reason == ""
    assert TimelineEntry.objects.get(action="transfer").data["direction"] == "inbound"
    response = world.client("operator").post(
        f"/api/tickets/{ticket['id']}/transfer/", {"line": "110", "direction": "sideways"}, format="json"
    )
    assert response.status_code == 400 and "direction" in response.json()["fields"]
