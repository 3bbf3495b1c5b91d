"""What the outbox tells /health/ready and /metrics (registered at ready()): whether an outbox worker is alive
(its heartbeat, written every round by run_outbox) and how many deliveries wait or are parked.

The worker is required only while some active subscription exists (nothing would leave the system without
it), and unless ``HOTLINE["READY_REQUIRES_OUTBOX"]`` is False. Read from the database: every process reports
the same figures.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from exchange.models import Delivery, DeliveryState, Subscription
from exchange.outbox import DEFAULT_BATCH, setting
from realtime.observability import heartbeat_check

#: The worker beats once per round: after at most its longest sleep, or after a batch of sends that may each
#: take the whole webhook time-out. Readiness allows three longest sleeps, one slow batch, and at least a minute.
HEARTBEAT_SLEEPS = 3
HEARTBEAT_MIN_SECONDS = 60.0


def stale_after_seconds() -> float:
    configured = settings.HOTLINE.get("OUTBOX_HEARTBEAT_STALE_SECONDS")
    if configured:
        return float(configured)
    send = setting("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 5) + setting("WEBHOOK_READ_TIMEOUT_SECONDS", 10)
    return max(HEARTBEAT_SLEEPS * setting("OUTBOX_MAX_SLEEP_SECONDS", 5), DEFAULT_BATCH * send, HEARTBEAT_MIN_SECONDS)


def outbox_check() -> dict[str, Any]:
    result = heartbeat_check("outbox", stale_after_seconds())
    if not settings.HOTLINE.get("READY_REQUIRES_OUTBOX", True) or not Subscription.objects.filter(active=True).exists():
        return {**result, "ok": True, "required": False}
    return result


def _count(state: str) -> list[tuple[dict[str, str], float]]:
    return [({}, float(Delivery.objects.filter(state=state).count()))]


def pending_gauge() -> list[tuple[dict[str, str], float]]:
    return _count(DeliveryState.PENDING)


def parked_gauge() -> list[tuple[dict[str, str], float]]:
    return _count(DeliveryState.PARKED)


def register() -> None:
    from core import health, metrics

    health.register_check("outbox", outbox_check)
    metrics.register_gauge(
        "hotline_outbox_pending", "Webhook deliveries waiting to be sent (due or backing off)", pending_gauge
    )
    metrics.register_gauge(
        "hotline_outbox_parked",
        "Webhook deliveries parked after too many failures (retry them in the admin)",
        parked_gauge,
    )
