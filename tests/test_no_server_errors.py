"""Whatever JSON arrives, every write endpoint answers 2xx or 4xx, never 500."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch import workflow
from dispatch.workflow import Machine
from tests.conftest import World, ticket_payload

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
FIELDS = [
    "channel",
    "phone",
    "caller_name",
    "caller_confidential",
    "appeal_type",
    "subject",
    "urgency",
    "description",
    "latitude",
    "longitude",
    "lead_agency_id",
    "co_agency_ids",
    "master_id",
    "satisfaction",
    "resolved",
    "reason",
    "legal_basis",
    "reply",
    "outcome",
    "requested_due_at",
    "new_due_at",
    "note",
    "answer",
    "instruction",
    "article_id",
    "work_order_ids",
    "answer_due_at",
    # incidents (emergency)
    "type",
    "level",
    "title",
    "coordinate_system",
    "area_kind",
    "area_radius_m",
    "area_geojson",
    "commander_id",
    "call_ids",
    "incident_id",
    "into_id",
    "agency_id",
    "task",
    "people_count",
    "contact_phone",
    "line",
    "override_reason",
    "escalate",
]
BODIES = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6) | VALUES

SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _targets(world: World) -> list[tuple[str, str]]:
    client = world.client("operator")
    ticket = client.post("/api/tickets/", ticket_payload(), format="json").json()
    dispatched = (
        world.client("dispatcher")
        .post(f"/api/tickets/{ticket['id']}/dispatch/", {"lead_agency_id": world.agency_a.pk}, format="json")
        .json()
    )
    work_order = dispatched["work_orders"][0]["id"]
    urls = [("operator", "/api/tickets/")]
    urls += [("dispatcher", f"/api/tickets/{ticket['id']}/{a}/") for a in workflow.actions(Machine.TICKET)]
    urls += [("handler_a", f"/api/work-orders/{work_order}/{a}/") for a in workflow.actions(Machine.WORK_ORDER)]
    urls += [("supervisor", f"/api/work-orders/{work_order}/{a}/") for a in ("urge", "supervise")]
    urls += [("dispatcher", "/api/knowledge/")]
    urls += _incident_targets(world)
    return urls


def _incident_targets(world: World) -> list[tuple[str, str]]:
    commander = world.client("commander")
    body = {"type": "fire", "title": "火情", "latitude": 24.3126, "longitude": 109.4112}
    incident = commander.post("/api/incidents/", body, format="json").json()
    link = commander.post(
        f"/api/incidents/{incident['id']}/agencies/", {"agency_id": world.agency_a.pk, "task": "疏散"}, format="json"
    ).json()
    urls = [("commander", "/api/incidents/"), ("commander", f"/api/incidents/{incident['id']}/agencies/")]
    # attach_ticket is POST /api/tickets/{id}/escalate/ and relink POST /api/incidents/{id}/agencies/ (both above).
    urls += [
        ("commander", f"/api/incidents/{incident['id']}/{a}/")
        for a in workflow.actions(Machine.INCIDENT)
        if a != "attach_ticket"
    ]
    urls += [
        ("handler_a", f"/api/incident-tasks/{link['id']}/{a}/")
        for a in workflow.actions(Machine.INCIDENT_TASK)
        if a != "relink"
    ]
    return urls


@SLOW
@given(body=BODIES, target=st.integers(0, 10_000))
def test_random_json_never_causes_a_server_error(world: World, body: Any, target: int) -> None:
    targets = _targets(world)
    who, url = targets[target % len(targets)]
    response = world.client(who).post(url, body, format="json")
    assert response.status_code < 500, (url, body, response.content)
    assert "code" in response.json() or response.status_code in (200, 201)


@SLOW
@given(raw=st.binary(max_size=200))
def test_garbage_bytes_get_a_clear_400(world: World, raw: bytes) -> None:
    response = world.client("operator").post("/api/tickets/", raw, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.json()["code"]


def test_non_finite_numbers_are_refused_as_bad_json(world: World) -> None:
    body = (
        b'{"channel": "phone", "phone": "13812341234", "appeal_type": "complaint", "subject": "t-garbage", '
        b'"description": "x", "latitude": NaN, "longitude": Infinity}'
    )
    response = world.client("operator").post("/api/tickets/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
