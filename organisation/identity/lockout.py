"""The answer to a login refused by the lockout (django-axes' AXES_LOCKOUT_CALLABLE): 429, in the user's language,
as JSON for the API and as the login page's look for people."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def _minutes() -> int:
    cool_off = settings.AXES_COOLOFF_TIME
    return max(1, round(cool_off.total_seconds() / 60)) if cool_off else 0


def message() -> str:
    return _(
        "Too many failed logins for this account or from this address. Try again in %(minutes)d minutes, "
        "or ask an administrator to unlock it."
    ) % {"minutes": _minutes()}


def locked_out_response(request: HttpRequest, response: Any = None, credentials: Any = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message(), "code": "locked_out"}, status=429)
    return render(request, "organisation/locked_out.html", {"message": message()}, status=429)
