"""Every request made with a key is logged: one ApiKeyUse row (key, method, path without the query string,
status) and the key's last_used_at, written after the response. Cheap: one INSERT and one UPDATE."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from core import clock
from exchange.keys.auth import REQUEST_ATTRIBUTE
from exchange.models import ApiKey, ApiKeyUse

logger = logging.getLogger(__name__)


def record_use(key: ApiKey, method: str, path: str, status: int) -> None:
    now = clock.now()
    ApiKeyUse.objects.create(key=key, at=now, method=method[:8], path=path[:200], status=status)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)


class ApiKeyUsageMiddleware:
    """Listed in MIDDLEWARE (config/settings.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        noted: list[ApiKey] = []
        setattr(request, REQUEST_ATTRIBUTE, noted)
        response = self.get_response(request)
        for key in noted:
            try:
                record_use(key, request.method or "", request.path, response.status_code)
            except DatabaseError:  # the log must not turn an answered request into a 500
                logger.warning("use of API key %s not recorded", key.prefix)
        return response
