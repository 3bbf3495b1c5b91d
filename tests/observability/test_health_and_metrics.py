"""/health/live, /health/ready (database, Redis when configured, the timer workers' heartbeat, event lag) and
/metrics (requests, sockets, event and escalation lag, due timers; loopback, allowed networks or a token)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from core import clock
from realtime.actions import do_beat
from realtime.events import append_event
from realtime.hub import Hub, _hubs
from tests.conftest import World


def _ready(client: Client | None = None) -> tuple[int, dict[str, Any]]:
    response = (client or Client()).get("/health/ready")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_live_answers_while_the_process_runs(db: Any) -> None:
    response = Client().get("/health/live")
    assert (response.status_code, response.json()) == (200, {"status": "live"})


def test_ready_needs_a_recent_timer_worker_heartbeat(db: Any) -> None:
    status, body = _ready()
    assert status == 503 and body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["timers"] == {"ok": False, "last_beat": None}
    now = clock.now()
    with clock.pinned_at(now):
        do_beat("timers")
        status, body = _ready()
    assert status == 200 and body["status"] == "ready", body
    assert all(check["ok"] for check in body["checks"].values())
    # Three longest sleeps later (90 s by default) with no beat, the worker counts as gone.
    with clock.pinned_at(now + dt.timedelta(seconds=91)):
        status, body = _ready()
    assert status == 503 and body["checks"]["timers"]["ok"] is False and body["checks"]["timers"]["age_seconds"] > 90


def test_ready_can_be_told_that_no_timer_worker_is_needed(db: Any, settings: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "READY_REQUIRES_TIMERS": False}
    status, body = _ready()
    assert status == 200 and body["checks"]["timers"]["required"] is False


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ready_fails_when_redis_does_not_answer(db: Any, settings: Any) -> None:
    do_beat("timers")
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    status, body = _ready()
    assert status == 503 and body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert body["checks"]["database"]["ok"] is True


@pytest.fixture
def lagging_hub() -> Iterator[Hub]:
    """A hub of this process that has delivered nothing since it started (as one whose loop is stuck)."""
    loop = asyncio.new_event_loop()
    hub = Hub()
    hub.last_id = 0
    _hubs[loop] = hub
    try:
        yield hub
    finally:
        _hubs.pop(loop, None)
        loop.close()


def test_ready_fails_when_events_wait_too_long_for_this_process(db: Any, lagging_hub: Hub) -> None:
    do_beat("timers")
    assert _ready()[0] == 200
    from django.db import transaction

    now = clock.now()
    with clock.pinned_at(now - dt.timedelta(seconds=45)), transaction.atomic():
        append_event("reference.changed", {"kind": "agency", "id": 1, "action": "changed", "fields": ["name"]})
    status, body = _ready()
    assert status == 503 and body["checks"]["events"]["ok"] is False
    assert body["checks"]["events"]["lag_seconds"] >= 45 and body["checks"]["events"]["backlog"] == 1
    lagging_hub.last_id = 10**9  # delivered
    assert _ready()[0] == 200


def _metrics(**headers: str) -> tuple[int, str]:
    response = Client().get("/metrics", **headers)  # type: ignore[arg-type]
    return response.status_code, response.content.decode()


def _sample(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_and_read_the_gauges(world: World) -> None:
    status, before = _metrics()
    assert status == 200
    for _ in range(3):
        assert Client().get("/health/live").status_code == 200
    status, after = _metrics()
    counted = 'hotline_http_requests_total{method="GET",status="200"}'
    assert _sample(after, counted) - _sample(before, counted) >= 3
    for gauge in (
        "hotline_open_sockets{",
        "hotline_event_lag_seconds{",
        "hotline_event_backlog{",
        "hotline_escalation_lag_seconds ",
        "hotline_timers_due ",
    ):
        assert any(line.startswith(gauge) for line in after.splitlines()), gauge


def test_metrics_show_escalation_lag_of_an_unfired_timer(world: World) -> None:
    from callcenter.actions import do_create_ticket
    from dispatch.actions import do_dispatch_ticket
    from dispatch.models import Timer
    from tests.conftest import ticket_payload
    from tests.pinned_time import WORKDAY_MORNING

    with clock.pinned_at(WORKDAY_MORNING):
        ticket, _created = do_create_ticket(ticket_payload(), actor=world.users["operator"])
        do_dispatch_ticket(ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk)
    first = Timer.objects.filter(done_at__isnull=True).order_by("fire_at").first()
    assert first is not None  # the sign-off clock's warning, armed by the dispatch
    with clock.pinned_at(first.fire_at - dt.timedelta(minutes=1)):
        text = _metrics()[1]
    assert (_sample(text, "hotline_escalation_lag_seconds "), _sample(text, "hotline_timers_due ")) == (0, 0)
    with clock.pinned_at(first.fire_at + dt.timedelta(minutes=10)):
        text = _metrics()[1]
    assert _sample(text, "hotline_escalation_lag_seconds ") >= 600
    assert _sample(text, "hotline_timers_due ") >= 1


@pytest.mark.parametrize(
    "headers",
    [
        {"REMOTE_ADDR": "203.0.113.9"},
        {"HTTP_X_FORWARDED_FOR": "203.0.113.9"},  # relayed by a proxy on the loopback
        {"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": "Bearer wrong-token"},
    ],
    ids=["foreign-address", "through-a-proxy", "wrong-token"],
)
def test_metrics_are_not_for_everyone(db: Any, settings: Any, headers: dict[str, str]) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "METRICS_TOKEN": "s3cret-metrics-token"}
    status, text = _metrics(**headers)
    assert status == 404 and "hotline_" not in text


def test_metrics_with_the_token_or_from_an_allowed_network(db: Any, settings: Any) -> None:
    settings.HOTLINE = {
        **settings.HOTLINE,
        "METRICS_TOKEN": "s3cret-metrics-token",
        "METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8"],
    }
    token = {"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": "Bearer s3cret-metrics-token"}
    assert _metrics(**token)[0] == 200
    assert _metrics(REMOTE_ADDR="10.1.2.3")[0] == 200
    assert _metrics(REMOTE_ADDR="127.0.0.1")[0] == 404  # the loopback only while it is allowed
