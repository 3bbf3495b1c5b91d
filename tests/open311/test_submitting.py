"""Submitting Open311 service requests over HTTP: POST requests with an API key becomes a ticket through the
intake action (routed as usual), refusals in the spec's form, idempotent repeats by external id, the
asynchronous token flow, coordinates in WGS84 (GCJ-02 converted when declared)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.core.management import call_command

from callcenter.models import Channel, Ticket, TicketPlacement
from dispatch.models import TimelineEntry
from exchange.keys import hashing
from exchange.keys.actions import do_revoke_key
from exchange.models import ApiKey
from gis.coords import CoordinateSystem, convert_point
from open311.models import Submission, SubmissionState
from tests.open311.conftest import Open311, issue_key, texts

pytestmark = pytest.mark.django_db(transaction=True)


def request_form(open311: Open311, **overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "api_key": open311.key,
        "jurisdiction_id": "liuzhou.12345.gov.cn",
        "service_code": "t-garbage",
        "lat": "24.3126",
        "long": "109.4112",
        "address_string": "柳州市城中区文惠路12号",
        "description": "小区门口垃圾三天没人清运",
        "first_name": "明",
        "last_name": "李",
        "phone": "13912345678",
        "attribute[appeal_type]": "complaint",
        "attribute[urgency]": "urgent",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def key_row(raw: str) -> ApiKey:
    parts = hashing.split_key(raw)
    assert parts is not None
    return ApiKey.objects.get(prefix=parts[0])


def test_a_post_with_a_key_accepts_a_routed_ticket(open311: Open311) -> None:
    response = open311.post("requests.json", request_form(open311))
    assert response.status_code == 200, response.text
    [answer] = response.json()
    ticket = Ticket.objects.get(number=answer["service_request_id"])
    assert answer["service_notice"]
    assert ticket.channel == Channel.APP and ticket.subject.code == "t-garbage"
    assert ticket.appeal_type.code == "complaint" and ticket.urgency == "urgent"
    assert ticket.caller_name == "李明" and ticket.caller is not None and ticket.caller.phone == "+8613912345678"
    assert ticket.address == "柳州市城中区文惠路12号"
    assert (ticket.latitude, ticket.longitude) == (24.3126, 109.4112)
    assert ticket.created_by == key_row(open311.key).user
    accept_row = TimelineEntry.objects.get(ticket=ticket, action="accept")
    assert accept_row.actor == ticket.created_by
    placement = TicketPlacement.objects.get(ticket=ticket)
    assert placement.proposal  # the routing proposal of every intake
    # The request is public at once, in both formats, and without the caller.
    row = open311.json(f"requests/{ticket.number}.json")[0]
    assert row["lat"] == 24.3126 and row["long"] == 109.4112 and row["status"] == "open"
    assert "13912345678" not in open311.get(f"requests/{ticket.number}.xml").text

    xml_answer = open311.post("requests.xml", request_form(open311, description="另一处垃圾堆"))
    assert xml_answer.status_code == 200
    root = ET.fromstring(xml_answer.content)
    assert root.tag == "service_requests"
    [number] = texts(root, "request/service_request_id")
    assert Ticket.objects.filter(number=number, description="另一处垃圾堆").exists()


def test_defaults_for_a_minimal_request(open311: Open311) -> None:
    form = {"api_key": open311.key, "service_code": "t-vendors", "description": "人行道上有流动摊贩"}
    [answer] = open311.post("requests.json", form).json()
    ticket = Ticket.objects.get(number=answer["service_request_id"])
    assert ticket.appeal_type.code == "help" and ticket.urgency == "normal"
    assert ticket.caller is None and ticket.latitude is None


def test_gcj02_positions_are_stored_and_served_in_wgs84(open311: Open311) -> None:
    wgs_lon, wgs_lat = 109.4112, 24.3126
    gcj_lon, gcj_lat = convert_point(wgs_lon, wgs_lat, CoordinateSystem.WGS84, CoordinateSystem.GCJ02)
    assert abs(gcj_lon - wgs_lon) > 1e-4  # the offset is real in Liuzhou
    form = request_form(open311, lat=str(gcj_lat), long=str(gcj_lon), coordinate_system="gcj02")
    [answer] = open311.post("requests.json", form).json()
    row = open311.json(f"requests/{answer['service_request_id']}.json")[0]
    assert row["lat"] == pytest.approx(wgs_lat, abs=1e-6) and row["long"] == pytest.approx(wgs_lon, abs=1e-6)


def _refused(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    errors = response.json()
    assert all(error["code"] == status for error in errors)
    text = " ".join(error["description"] for error in errors)
    for word in words:
        assert word in text, text


def test_keys_that_may_not_submit_are_refused_with_403(open311: Open311) -> None:
    world = open311.world
    reader = issue_key(world, partner="Reader", scopes=["reference:read"])
    revoked = issue_key(world, partner="Old app")
    do_revoke_key(world.users["admin"], key_row(revoked))
    for key in (None, "", "hk_000000000000_nope", "not a key", reader, revoked):
        _refused(open311.post("requests.json", request_form(open311, api_key=key)), 403, "api_key")
        response = open311.post("requests.xml", request_form(open311, api_key=key))
        assert response.status_code == 403
        assert texts(ET.fromstring(response.content), "error/code") == ["403"]
    assert not Ticket.objects.exists()


def test_a_key_over_its_rate_is_told_when_to_retry(open311: Open311) -> None:
    slow = issue_key(open311.world, partner="Slow app", rate="1/hour")
    assert open311.post("requests.json", request_form(open311, api_key=slow)).status_code == 200
    refused = open311.post("requests.xml", request_form(open311, api_key=slow, description="再来一条"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert texts(ET.fromstring(refused.content), "error/code") == ["429"]
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "status", "words"),
    [
        ({"description": ""}, 400, ["description"]),
        ({"service_code": "no-such-service"}, 400, ["service_code"]),
        ({"service_code": "t-urban"}, 400, ["service_code"]),
        ({"lat": "north"}, 400, ["lat"]),
        ({"long": None}, 400, ["long"]),
        ({"lat": "95"}, 400, ["lat"]),
        ({"lat": "nan"}, 400, ["lat"]),
        ({"phone": "12"}, 400, ["phone"]),
        ({"attribute[urgency]": "whenever"}, 400, ["attribute[urgency]"]),
        ({"attribute[appeal_type]": "gossip"}, 400, ["attribute[appeal_type]"]),
        ({"coordinate_system": "mars"}, 400, ["coordinate_system"]),
        ({"requested_datetime": "2026-01-01T08:00:00"}, 400, ["requested_datetime"]),
        ({"jurisdiction_id": "elsewhere.example"}, 404, ["jurisdiction_id"]),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    open311: Open311, overrides: dict[str, Any], status: int, words: list[str]
) -> None:
    _refused(open311.post("requests.json", request_form(open311, **overrides)), status, *words)
    assert not Ticket.objects.exists()


def test_a_repeat_with_the_same_external_id_returns_the_first_request(open311: Open311) -> None:
    form = request_form(open311, external_id="SR-2026-0001", requested_datetime="2026-12-01T09:30:00+08:00")
    first = open311.post("requests.json", form)
    again = open311.post("requests.json", form)
    assert first.status_code == again.status_code == 200
    assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]
    ticket = Ticket.objects.get()
    assert ticket.external_id == "SR-2026-0001" and ticket.source_system == "o311.sf-311"
    assert ticket.reported_at is not None and ticket.reported_at.isoformat() == "2026-12-01T01:30:00+00:00"
    # The same external id with other content is refused; a second partner's same id is its own request.
    changed = open311.post("requests.json", {**form, "description": "别的内容"})
    _refused(changed, 409, "external_id")
    other = issue_key(open311.world, partner="Other city app")
    assert open311.post("requests.json", {**form, "api_key": other}).status_code == 200
    assert Ticket.objects.count() == 2


def test_asynchronous_requests_are_followed_by_their_token(open311: Open311, settings: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "OPEN311_ASYNC": True}
    response = open311.post("requests.json", request_form(open311))
    assert response.status_code == 200, response.text
    [answer] = response.json()
    token = answer["token"]
    assert "service_request_id" not in answer and not Ticket.objects.exists()
    assert open311.json(f"tokens/{token}.json") == [{"service_request_id": None, "token": token}]
    # Bad input is refused at once, not behind a token.
    _refused(open311.post("requests.json", request_form(open311, description="")), 400, "description")
    xml_token = texts(ET.fromstring(open311.post("requests.xml", request_form(open311)).content), "request/token")[0]

    call_command("run_open311_intake", "--once")

    first, second = Ticket.objects.order_by("id")
    assert open311.json(f"tokens/{token}.json") == [{"service_request_id": first.number, "token": token}]
    root = open311.xml(f"tokens/{xml_token}.xml")
    assert texts(root, "request/service_request_id") == [second.number]
    assert texts(root, "request/token") == [xml_token]
    submission = Submission.objects.get(token=token)
    assert submission.state == SubmissionState.DONE and submission.intake == {}  # no caller data kept
    # Running again makes nothing twice.
    call_command("run_open311_intake", "--once")
    assert Ticket.objects.count() == 2
    assert open311.json("tokens/0123456789abcdef.json", expect=404)[0]["code"] == 404
    assert open311.xml("tokens/0123456789abcdef.xml", expect=404).tag == "errors"


def test_junk_never_causes_a_server_error(open311: Open311) -> None:
    import requests

    junk = [
        ("post", "requests.json", {"data": b"\xff\xfe\x00garbage", "headers": {"Content-Type": "multipart/form-data"}}),
        ("post", "requests.json", {"data": "{}", "headers": {"Content-Type": "application/json"}}),
        ("post", "requests.xml", {"data": {"api_key": open311.key, "lat": "1e999", "long": "-1e999"}}),
        (
            "post",
            "requests.json",
            {"data": {"api_key": open311.key, "service_code": "\x00", "description": "x" * 6000}},
        ),
        ("get", "requests.json", {"params": {"service_request_id": ",".join(["x"] * 500)}}),
        ("get", "requests/%00.json", {}),
        ("get", "requests.json", {"params": {"service_code": "a\x00b"}}),
        ("post", "requests.json", {"data": {"api_key": open311.key, "external_id": "x\x00", "description": "d"}}),
        ("get", "services/%E2%80%AE.xml", {}),
    ]
    for method, path, kwargs in junk:
        response = getattr(requests, method)(open311.url + path, timeout=30, **kwargs)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        assert response.json()[0]["code"] == response.status_code if path.endswith(".json") else True
