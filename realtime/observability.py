"""What the real-time side tells /health/ready and /metrics (core/health.py, core/metrics.py; registered at
ready()): the event lag of this process's hubs, its open sockets, and background processes' heartbeats.

Event lag: how long the oldest committed event that this process's hub has not yet delivered has been waiting
(0 when it is up to date or no screen is connected to this process). Hubs are per process, so are these
figures: each Daphne process answers for itself.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from django.conf import settings
from django.db.models import Max

from core import clock
from realtime.hub import hub_state
from realtime.models import Event, Heartbeat

#: Readiness fails when an event waits longer than this for this process's hub (HOTLINE_READY_MAX_EVENT_LAG).
DEFAULT_MAX_EVENT_LAG_SECONDS = 30.0


def _hubs() -> list[dict[str, Any]]:
    return list(hub_state().values())


def event_lag() -> tuple[float, int]:
    """(seconds the oldest undelivered event has waited, how many wait) over this process's hubs."""
    hubs = [hub for hub in _hubs() if hub["last_id"] is not None]
    if not hubs:
        return 0.0, 0
    behind = min(hub["last_id"] for hub in hubs)
    waiting = Event.objects.filter(id__gt=behind)
    oldest = waiting.order_by("id").values_list("created_at", flat=True).first()
    if oldest is None:
        return 0.0, 0
    return max((clock.now() - oldest).total_seconds(), 0.0), waiting.count()


def open_sockets() -> int:
    return sum(int(hub["subscribers"]) for hub in _hubs())


def events_check() -> dict[str, Any]:
    limit = float(settings.HOTLINE.get("READY_MAX_EVENT_LAG_SECONDS", DEFAULT_MAX_EVENT_LAG_SECONDS))
    lag, backlog = event_lag()
    return {"ok": lag <= limit, "lag_seconds": round(lag, 3), "backlog": backlog, "open_sockets": open_sockets()}


def last_beat(kind: str) -> dt.datetime | None:
    beat: dt.datetime | None = Heartbeat.objects.filter(kind=kind).aggregate(at=Max("beat_at"))["at"]
    return beat


def heartbeat_check(kind: str, stale_seconds: float) -> dict[str, Any]:
    """Whether some process of ``kind`` beat within ``stale_seconds``."""
    beat = last_beat(kind)
    if beat is None:
        return {"ok": False, "last_beat": None}
    age = max((clock.now() - beat).total_seconds(), 0.0)
    return {"ok": age <= stale_seconds, "last_beat": beat.isoformat(), "age_seconds": round(age, 3)}


def _pid() -> dict[str, str]:
    return {"pid": str(os.getpid())}


def sockets_gauge() -> list[tuple[dict[str, str], float]]:
    return [(_pid(), open_sockets())]


def lag_gauge() -> list[tuple[dict[str, str], float]]:
    return [(_pid(), event_lag()[0])]


def backlog_gauge() -> list[tuple[dict[str, str], float]]:
    return [(_pid(), event_lag()[1])]


def register() -> None:
    from core import health, metrics

    health.register_check("events", events_check)
    metrics.register_gauge("hotline_open_sockets", "Live event sockets open on this process", sockets_gauge)
    metrics.register_gauge(
        "hotline_event_lag_seconds", "How long the oldest event this process has not delivered has waited", lag_gauge
    )
    metrics.register_gauge(
        "hotline_event_backlog", "Committed events this process has not delivered yet", backlog_gauge
    )
