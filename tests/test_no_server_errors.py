"""Whatever JSON arrives, every write endpoint answers 2xx or 4xx, never 500."""

from __future__ import annotations

from typing import Any

from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

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


# --- hostile bodies and numbers (issue 18): each answered 4xx with field errors, never a 500 -----------------

DEEP = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000
TOO_BIG = 2**63


def test_json_nested_1000_deep_is_a_400_even_without_login(world: World) -> None:
    anonymous = Client()
    for url in ("/api/auth/token/", "/api/avl/positions/"):
        for body in (DEEP, DEEP_OBJECT):
            response = anonymous.post(url, body, content_type="application/json")
            assert response.status_code == 400, (url, response.status_code)
            assert response.json()["code"] == "parse_error" and response.json()["fields"]["body"]
    for who, url in (("operator", "/api/tickets/"), ("commander", "/api/incidents/")):
        refused = world.client(who).post(url, DEEP, content_type="application/json")
        assert refused.status_code == 400 and refused.json()["fields"]["body"]


def test_json_nested_within_the_limit_is_read_and_brackets_in_strings_do_not_count(world: World) -> None:
    text = '"' + "[" * 500 + '"'
    body = ('{"description": ' + text + ', "x": ' + "[" * 60 + "]" * 60 + "}").encode()
    response = world.client("operator").post("/api/tickets/", body, content_type="application/json")
    assert response.status_code == 400 and "body" not in response.json()["fields"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_larger_than_the_upload_limit_is_a_413(world: World) -> None:
    body = ticket_payload(description="x" * 2000)
    response = world.client("operator").post("/api/tickets/", body, format="json")
    assert response.status_code == 413 and response.json()["code"] == "body_too_large"


def test_paging_numbers_beyond_the_database_are_a_400_naming_the_parameter(world: World) -> None:
    lists = [
        ("operator", "/api/tickets/"),
        ("handler_a", "/api/work-orders/"),
        ("commander", "/api/incidents/"),
        ("commander", "/api/units/"),
    ]
    for who, url in lists:
        for name, value in (("limit", TOO_BIG), ("offset", TOO_BIG), ("limit", "abc"), ("offset", -1)):
            response = world.client(who).get(url, {name: value})
            assert response.status_code == 400, (url, name, value, response.status_code)
            assert name in response.json()["fields"], (url, response.json())
        assert world.client(who).get(url, {"limit": 2**63 - 1, "offset": 2**63 - 1}).status_code == 200, url


def test_agency_ids_beyond_the_database_are_a_400_naming_the_field(world: World) -> None:
    ticket = world.client("operator").post("/api/tickets/", ticket_payload(), format="json").json()
    dispatcher = world.client("dispatcher")
    url = f"/api/tickets/{ticket['id']}/dispatch/"
    for body, field in (
        ({"lead_agency_id": TOO_BIG}, "lead_agency_id"),
        ({"lead_agency_id": world.agency_a.pk, "co_agency_ids": [TOO_BIG]}, "co_agency_ids"),
    ):
        response = dispatcher.post(url, body, format="json")
        assert response.status_code == 400, (body, response.status_code)
        assert field in response.json()["fields"]
    assert dispatcher.get(f"/api/tickets/{TOO_BIG}/").status_code == 404


def test_a_time_that_does_not_exist_is_a_400_naming_the_field(world: World) -> None:
    ticket = world.client("operator").post("/api/tickets/", ticket_payload(), format="json").json()
    dispatched = (
        world.client("dispatcher")
        .post(f"/api/tickets/{ticket['id']}/dispatch/", {"lead_agency_id": world.agency_a.pk}, format="json")
        .json()
    )
    url = f"/api/work-orders/{dispatched['work_orders'][0]['id']}/request_extension/"
    for when in ("2026-11-21T09:60:00+08:00", "2026-13-01T09:00:00+08:00", "2026-02-30T09:00:00+08:00"):
        body = {"requested_due_at": when, "reason": "需要更多时间"}
        response = world.client("handler_a").post(url, body, format="json")
        assert response.status_code == 400, (when, response.status_code)
        assert "requested_due_at" in response.json()["fields"]


def test_a_wrong_token_on_a_route_refused_before_login_is_not_a_server_error(world: World) -> None:
    # "/0.5/" is the id 0 with the format suffix "5": refused before authentication, then rendered for a user.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = client.get("/api/appeal-types/0.5/")
    assert 400 <= response.status_code < 500 and response.json()["code"]
