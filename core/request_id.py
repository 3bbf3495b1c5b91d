"""Every request gets an id: the proxy's ``X-Request-ID`` when it is well formed, else a new one. It is in the
response's ``X-Request-ID`` header and on every log line written while the request is served (core/logs.py),
and the request ends with one log line of its own (logger ``hotline.request``: method, path without secrets,
status, duration) and a count in the metrics (core/metrics.py)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core import metrics
from core.logs import request_id, without_secrets

logger = logging.getLogger("hotline.request")

HEADER = "X-Request-ID"
#: What a proxy's id may look like: letters, digits and - _ . : only, 8 to 128 of them (nginx's $request_id is
#: 32 hex digits; a UUID has dashes). Anything else (a log-injection attempt, a phone number) is replaced.
WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def incoming_id(value: str | None) -> str:
    if value and WELL_FORMED.fullmatch(value) and not value.isdigit():
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = incoming_id(request.headers.get(HEADER))
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id.set(rid)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[HEADER] = rid
            duration = time.monotonic() - started
            metrics.count_request(request.method or "", response.status_code)
            logger.info(
                "%s %s %s",
                request.method,
                without_secrets(request.get_full_path()),
                response.status_code,
                extra={"method": request.method, "status": response.status_code, "duration_ms": round(duration * 1000)},
            )
            return response
        finally:
            request_id.reset(token)
