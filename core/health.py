"""Health for load balancers and orchestrators (docs/OPERATIONS.md "Health and metrics"):

- ``GET /health/live``: the process answers (200 ``{"status": "live"}``); nothing else is asked.
- ``GET /health/ready``: may this process take traffic? 200 ``{"status": "ready", "checks": {...}}`` when every
  check passes, else 503 ``{"status": "not_ready", ...}`` naming the failed ones. Core checks the database and,
  when REDIS_URL is set, Redis; the apps above register theirs at ready() (``register_check``): realtime the
  event lag of this process's hub, dispatch the timer workers' heartbeat.

No login, no personal data in either; each check says ``ok`` and a few figures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

#: A check returns its figures with ``ok`` among them: {"ok": True, "age_seconds": 3.2}.
Check = Callable[[], dict[str, Any]]
_checks: dict[str, Check] = {}

REDIS_TIMEOUT_SECONDS = 2.0


def register_check(name: str, check: Check) -> None:
    if name in ("database", "redis") or _checks.get(name, check) is not check:
        raise RuntimeError(f"readiness check {name!r} is registered twice")
    _checks[name] = check


def database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def redis() -> dict[str, Any]:
    from redis import Redis

    client = Redis.from_url(
        settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        return {"ok": bool(client.ping())}
    finally:
        client.close()


def run_checks() -> dict[str, dict[str, Any]]:
    checks: dict[str, Check] = {"database": database}
    if getattr(settings, "REDIS_URL", ""):
        checks["redis"] = redis
    checks.update(_checks)
    results: dict[str, dict[str, Any]] = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:
            # The kind of failure only: an exception's text may name hosts or hold credentials of a URL.
            logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = {"ok": False, "error": type(exc).__name__}
    return results


@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "live"})


@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    ok = all(result.get("ok") for result in checks.values())
    return JsonResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status=200 if ok else 503)
