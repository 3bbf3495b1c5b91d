"""Bad intake and bad workflow-action input: 400 naming the fields, and nothing written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from callcenter.models import Caller, Ticket, TicketNumberCounter
from callcenter.phones import mask_phone, normalise_phone
from core.clock import pinned_at
from dispatch import actions as dispatching
from dispatch.models import ExtensionRequest, TimelineEntry, WorkOrder
from realtime.models import Event
from tests.conftest import World, ticket_payload
from tests.pinned_time import WORKDAY_MORNING

SHANGHAI = ZoneInfo("Asia/Shanghai")
PREFIX = settings.HOTLINE["TICKET_NUMBER_PREFIX"]


def _without(*names: str) -> dict[str, Any]:
    payload = ticket_payload()
    for name in names:
        del payload[name]
    return payload


def _state() -> dict[str, Any]:
    return {
        "tickets": list(Ticket.objects.order_by("id").values_list("id", "number", "state")),
        "callers": list(Caller.objects.order_by("id").values_list("id", "phone", "name")),
        "counters": list(TicketNumberCounter.objects.values_list("day", "last_value")),
        "timeline": TimelineEntry.objects.count(),
        "events": Event.objects.count(),
    }


BAD_TICKETS = [
    ("missing-description", _without("description"), {"description"}),
    ("blank-description", ticket_payload(description="   "), {"description"}),
    ("huge-description", ticket_payload(description="垃" * 5001), {"description"}),
    ("unknown-subject", ticket_payload(subject="t-no-such-subject"), {"subject"}),
    ("non-leaf-subject-root", ticket_payload(subject="t-urban"), {"subject"}),
    ("non-leaf-subject-branch", ticket_payload(subject="t-appearance"), {"subject"}),
    ("unknown-appeal-type", ticket_payload(appeal_type="gossip"), {"appeal_type"}),
    ("bad-channel", ticket_payload(channel="fax"), {"channel"}),
    ("bad-urgency", ticket_payload(urgency="whenever"), {"urgency"}),
    ("invalid-phone", ticket_payload(phone="123"), {"phone"}),
    ("phone-call-with-empty-phone", ticket_payload(phone=""), {"phone"}),
    ("phone-call-without-phone", _without("phone"), {"phone"}),
    ("latitude-without-longitude", _without("longitude"), {"longitude"}),
    ("longitude-without-latitude", _without("latitude"), {"latitude"}),
    ("latitude-91", ticket_payload(latitude=91), {"latitude"}),
    ("longitude-minus-181", ticket_payload(longitude=-181), {"longitude"}),
    ("latitude-not-a-number", ticket_payload(latitude="abc"), {"latitude"}),
    ("confidential-not-a-boolean", ticket_payload(caller_confidential="maybe"), {"caller_confidential"}),
    (
        "several-at-once",
        ticket_payload(phone="123", subject="t-urban", longitude=None),
        {"phone", "subject", "longitude"},
    ),
]


@pytest.mark.parametrize(("body", "fields"), [case[1:] for case in BAD_TICKETS], ids=[c[0] for c in BAD_TICKETS])
def test_bad_intake_is_refused_and_changes_nothing(world: World, body: dict[str, Any], fields: set[str]) -> None:
    client = world.client("operator")
    assert client.post("/api/tickets/", ticket_payload(), format="json").status_code == 201
    before = _state()
    response = client.post("/api/tickets/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_input"
    assert set(response.json()["fields"]) == fields
    assert all(isinstance(m, str) and m for name in fields for m in response.json()["fields"][name])
    assert _state() == before


def test_a_boolean_latitude_is_refused(world: World) -> None:
    """JSON true must not become latitude 1.0 on its way through the serializer."""
    before = _state()
    response = world.client("operator").post("/api/tickets/", ticket_payload(latitude=True), format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()["fields"]) == {"latitude"}
    assert _state() == before


def test_a_json_list_body_is_refused(world: World) -> None:
    before = _state()
    response = world.client("operator").post("/api/tickets/", [ticket_payload()], format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input" and set(response.json()["fields"]) == {"body"}
    assert _state() == before


@pytest.mark.parametrize(
    "raw", ['{"channel": "phone",', "channel=phone", "null"], ids=["truncated", "form-encoded", "null"]
)
def test_a_body_that_is_not_a_json_object_is_refused(world: World, raw: str) -> None:
    before = _state()
    response = world.client("operator").post("/api/tickets/", raw.encode(), content_type="application/json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    # Unparseable text is a parse error; valid JSON that is not an object is named as the body's fault.
    assert body["code"] == ("invalid_input" if raw == "null" else "parse_error")
    assert _state() == before


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13812341234", "+8613812341234"),
        ("138 1234 1234", "+8613812341234"),
        ("+86 138-1234-1234", "+8613812341234"),
        ("0772-2801234", "+867722801234"),
    ],
    ids=["mobile", "mobile-spaces", "mobile-international", "liuzhou-landline"],
)
def test_phone_numbers_are_stored_in_e164(world: World, raw: str, e164: str) -> None:
    response = world.client("operator").post("/api/tickets/", ticket_payload(phone=raw), format="json")
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert ticket.caller is not None and ticket.caller.phone == e164
    assert response.json()["caller_phone"] == e164
    assert normalise_phone(raw) == e164


def test_the_same_mobile_written_three_ways_is_one_caller(world: World) -> None:
    client = world.client("operator")
    for raw in ("13812341234", "138 1234 1234", "+86 138-1234-1234"):
        assert client.post("/api/tickets/", ticket_payload(phone=raw), format="json").status_code == 201
    assert list(Caller.objects.values_list("phone", flat=True)) == ["+8613812341234"]
    history = client.post("/api/callers/history/", {"phone": "138-1234-1234"}, format="json").json()
    assert history["phone"] == "+8613812341234" and history["count"] == 3


def test_masking() -> None:
    assert mask_phone("+8613812341234") == "138****1234"
    assert mask_phone(normalise_phone("+86 139-0000-1111")) == "139****1111"
    landline = mask_phone("+867722801234")
    assert landline == "077****1234" and "2801234" not in landline
    assert mask_phone("") == ""


def test_agencies_see_masked_numbers_of_every_format(world: World) -> None:
    client = world.client("operator")
    ids = [
        client.post("/api/tickets/", ticket_payload(phone=raw), format="json").json()["id"]
        for raw in ("+86 138-1234-1234", "0772-2801234")
    ]
    for ticket_id in ids:
        dispatching.do_dispatch_ticket(ticket_id, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk)
    rows = world.client("handler_a").get("/api/tickets/").json()["results"]
    assert sorted(row["caller_phone"] for row in rows) == ["077****1234", "138****1234"]


def test_ticket_numbers_count_per_day_in_shanghai_time(world: World) -> None:
    client = world.client("operator")
    # 23:59 and 00:01 in Shanghai are 15:59 and 16:01 on the same UTC day: a UTC day would not restart.
    # The clock is pinned in UTC, as timezone.now() reads it, so the code must convert to local time itself.
    late = dt.datetime(2026, 11, 21, 23, 59, tzinfo=SHANGHAI).astimezone(dt.UTC)
    early = dt.datetime(2026, 11, 22, 0, 1, tzinfo=SHANGHAI).astimezone(dt.UTC)
    assert late.astimezone(dt.UTC).date() == early.astimezone(dt.UTC).date()
    with pinned_at(late):
        evening = [client.post("/api/tickets/", ticket_payload(), format="json").json() for _ in range(2)]
    with pinned_at(early):
        morning = [client.post("/api/tickets/", ticket_payload(), format="json").json() for _ in range(2)]
    assert [t["number"] for t in evening] == [f"{PREFIX}-20261121-000001", f"{PREFIX}-20261121-000002"]
    assert [t["number"] for t in morning] == [f"{PREFIX}-20261122-000001", f"{PREFIX}-20261122-000002"]
    assert dt.datetime.fromisoformat(morning[0]["created_at"]) == early
    assert dict(TicketNumberCounter.objects.values_list("day", "last_value")) == {
        dt.date(2026, 11, 21): 2,
        dt.date(2026, 11, 22): 2,
    }


def test_a_refused_intake_does_not_use_up_a_number(world: World) -> None:
    client = world.client("operator")
    at = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    with pinned_at(at):
        assert client.post("/api/tickets/", ticket_payload(phone="123"), format="json").status_code == 400
        number = client.post("/api/tickets/", ticket_payload(), format="json").json()["number"]
    assert number == f"{PREFIX}-20260302-000001"


# --- workflow actions with bad input -------------------------------------------------------------------


@pytest.fixture
def handling(world: World) -> Iterator[WorkOrder]:
    """A work order of agency_a that its handler has signed for; the test runs with the domain clock pinned to
    the moment of signing, so that its deadlines lie in a published calendar year whatever the real date."""
    with pinned_at(WORKDAY_MORNING):
        response = world.client("operator").post("/api/tickets/", ticket_payload(), format="json")
        dispatching.do_dispatch_ticket(
            response.json()["id"], actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk
        )
        work_order = WorkOrder.objects.get(ticket_id=response.json()["id"])
        dispatching.do_sign_work_order(work_order.pk, actor=world.users["handler_a"])
        work_order.refresh_from_db()
        yield work_order


def _wo_state(work_order: WorkOrder) -> tuple[Any, ...]:
    work_order.refresh_from_db()
    return (
        work_order.state,
        work_order.return_reason,
        work_order.reply_text,
        TimelineEntry.objects.count(),
        ExtensionRequest.objects.count(),
        Event.objects.count(),
    )


def _in_days(days: int, *, aware: bool = True) -> str:
    moment = timezone.localtime() + dt.timedelta(days=days)
    return moment.isoformat() if aware else moment.replace(tzinfo=None).isoformat()


BAD_ACTIONS = [
    ("return-without-legal-basis", "return", {"reason": "不属于本单位职责"}, "legal_basis"),
    ("return-with-blank-legal-basis", "return", {"reason": "不属于本单位职责", "legal_basis": "  "}, "legal_basis"),
    ("return-without-reason", "return", {"legal_basis": "三定方案"}, "reason"),
    ("reply-with-unknown-outcome", "reply", {"reply": "已处理", "outcome": "sort_of"}, "outcome"),
    ("reply-without-text", "reply", {"outcome": "resolved"}, "reply"),
    (
        "extension-in-the-past",
        "request_extension",
        {"reason": "需协调", "requested_due_at": "2020-01-01T09:00:00+08:00"},
        "requested_due_at",
    ),
    (
        "extension-not-a-date",
        "request_extension",
        {"reason": "需协调", "requested_due_at": "next week"},
        "requested_due_at",
    ),
    ("extension-without-reason", "request_extension", {"requested_due_at": "2099-01-01T09:00:00+08:00"}, "reason"),
    ("note-blank", "note", {"note": ""}, "note"),
]


@pytest.mark.parametrize(("action", "body", "field"), [c[1:] for c in BAD_ACTIONS], ids=[c[0] for c in BAD_ACTIONS])
def test_bad_action_input_is_refused_and_changes_nothing(
    world: World, handling: WorkOrder, action: str, body: dict[str, Any], field: str
) -> None:
    before = _wo_state(handling)
    response = world.client("handler_a").post(f"/api/work-orders/{handling.pk}/{action}/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_input" and field in response.json()["fields"]
    assert _wo_state(handling) == before
    assert handling.state == "handling"


def test_a_naive_extension_deadline_is_refused(world: World, handling: WorkOrder) -> None:
    """A deadline without a time zone is refused, not silently read as Asia/Shanghai time."""
    before = _wo_state(handling)
    response = world.client("handler_a").post(
        f"/api/work-orders/{handling.pk}/request_extension/",
        {"reason": "需协调清运车辆", "requested_due_at": _in_days(30, aware=False)},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "requested_due_at" in response.json()["fields"]
    assert _wo_state(handling) == before


def test_an_extension_no_later_than_the_current_deadline_is_refused(world: World, handling: WorkOrder) -> None:
    due = handling.stage_clocks.get(stage="handle", stopped_at__isnull=True).due_at
    assert due is not None
    before = _wo_state(handling)
    response = world.client("handler_a").post(
        f"/api/work-orders/{handling.pk}/request_extension/",
        {"reason": "需协调", "requested_due_at": due.isoformat()},
        format="json",
    )
    assert response.status_code == 400 and "requested_due_at" in response.json()["fields"]
    assert _wo_state(handling) == before
    # One minute later than the deadline is fine.
    later = (due + dt.timedelta(minutes=1)).isoformat()
    ok = world.client("handler_a").post(
        f"/api/work-orders/{handling.pk}/request_extension/",
        {"reason": "需协调", "requested_due_at": later},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["extension_requests"][0]["state"] == "pending"


def test_naive_times_in_extension_decisions_and_supervision_are_refused(world: World, handling: WorkOrder) -> None:
    dispatching.do_request_extension(
        handling.pk,
        actor=world.users["handler_a"],
        reason="需协调",
        requested_due_at=timezone.now() + dt.timedelta(days=60),
    )
    before = _wo_state(handling)
    approve = world.client("dispatcher").post(
        f"/api/work-orders/{handling.pk}/approve_extension/",
        {"note": "同意", "new_due_at": _in_days(90, aware=False)},
        format="json",
    )
    assert approve.status_code == 400 and "new_due_at" in approve.json()["fields"]
    supervise = world.client("supervisor").post(
        f"/api/work-orders/{handling.pk}/supervise/",
        {"instruction": "请说明", "answer_due_at": _in_days(3, aware=False)},
        format="json",
    )
    assert supervise.status_code == 400 and "answer_due_at" in supervise.json()["fields"]
    assert _wo_state(handling) == before
    assert ExtensionRequest.objects.get().state == "pending"
    assert not handling.supervision_cases.exists()
