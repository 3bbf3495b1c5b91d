"""The outbox on /health/ready (a worker's heartbeat, required while an active subscription exists) and on
/metrics (pending and parked deliveries)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.test import Client

from core import clock
from exchange.models import Delivery, DeliveryState, Subscription
from exchange.outbox import enqueue
from realtime.actions import do_beat


def _outbox_ready() -> tuple[int, dict[str, Any]]:
    do_beat("timers")  # only the outbox is under test here
    response = Client().get("/health/ready")
    return response.status_code, response.json()["checks"]["outbox"]


def _subscription(**extra: Any) -> Subscription:
    return Subscription.objects.create(name="partner", target_url="http://127.0.0.1:9/hook", secret="s", **extra)


def test_no_outbox_worker_is_needed_while_no_active_subscription_exists(db: Any) -> None:
    _subscription(active=False)
    status, check = _outbox_ready()
    assert status == 200
    assert check == {"ok": True, "required": False, "last_beat": None}


def test_an_active_subscription_needs_a_recent_outbox_heartbeat(db: Any) -> None:
    _subscription()
    status, check = _outbox_ready()
    assert (status, check) == (503, {"ok": False, "last_beat": None})
    now = clock.now()
    with clock.pinned_at(now):
        do_beat("outbox")
    status, check = _outbox_ready()
    assert status == 200 and check["ok"] is True
    with clock.pinned_at(now + dt.timedelta(hours=1)):
        status, check = _outbox_ready()
    assert status == 503 and check["ok"] is False and check["age_seconds"] >= 3600


def test_ready_can_be_told_that_no_outbox_worker_is_needed(db: Any, settings: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "READY_REQUIRES_OUTBOX": False}
    _subscription()
    status, check = _outbox_ready()
    assert status == 200 and check["required"] is False


def _sample(text: str, name: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(f"{name} ")]
    assert len(values) == 1, name
    return values[0]


def test_metrics_count_pending_and_parked_deliveries(db: Any) -> None:
    subscription = _subscription()
    with transaction.atomic():
        for _ in range(3):
            enqueue(subscription, "reference.changed", "{}")
    Delivery.objects.filter(pk=Delivery.objects.order_by("pk").values("pk")[:1]).update(state=DeliveryState.PARKED)
    text = Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert (_sample(text, "hotline_outbox_pending"), _sample(text, "hotline_outbox_parked")) == (2, 1)
