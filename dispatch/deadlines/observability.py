"""What the timers tell /health/ready and /metrics (registered at ready()): whether a timer worker is alive
(its heartbeat, written every round by run_timers), how late the escalations are, and how many timers wait.

Escalation lag: how long the most overdue timer that no worker has fired yet has been due. A running worker
keeps it near zero; it grows when none runs or they cannot keep up. Read from the database, so every process
reports the same figures.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Min

from core import clock
from dispatch.deadlines.timers import max_sleep_seconds
from dispatch.models import Timer
from realtime.observability import heartbeat_check

#: The worker beats at least once per longest sleep; readiness allows three of them (and at least a minute).
HEARTBEAT_SLEEPS = 3
HEARTBEAT_MIN_SECONDS = 60.0


def stale_after_seconds() -> float:
    configured = settings.HOTLINE.get("TIMER_HEARTBEAT_STALE_SECONDS")
    if configured:
        return float(configured)
    return max(HEARTBEAT_SLEEPS * max_sleep_seconds(), HEARTBEAT_MIN_SECONDS)


def timers_check() -> dict[str, Any]:
    result = heartbeat_check("timers", stale_after_seconds())
    if not settings.HOTLINE.get("READY_REQUIRES_TIMERS", True):
        return {**result, "ok": True, "required": False}
    return result


def _due() -> Any:
    return Timer.objects.filter(done_at__isnull=True, fire_at__lte=clock.now())


def escalation_lag_seconds() -> float:
    oldest = _due().aggregate(at=Min("fire_at"))["at"]
    return max((clock.now() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


def lag_gauge() -> list[tuple[dict[str, str], float]]:
    return [({}, escalation_lag_seconds())]


def due_gauge() -> list[tuple[dict[str, str], float]]:
    return [({}, float(_due().count()))]


def register() -> None:
    from core import health, metrics

    health.register_check("timers", timers_check)
    metrics.register_gauge(
        "hotline_escalation_lag_seconds", "How long the most overdue unfired escalation timer has been due", lag_gauge
    )
    metrics.register_gauge(
        "hotline_timers_due", "Escalation timers due and not yet fired (the worker queue)", due_gauge
    )
