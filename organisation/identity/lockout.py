"""The answer to a login refused by the lockout (django-axes' AXES_LOCKOUT_CALLABLE): 429, in the user's language,
as JSON for the API and as the login page's look for people."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop


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


#: django-axes ships no Chinese: its records' names in the admin come from these translations (the catalogue of
#: this project is consulted before the library's).
AXES_ADMIN_NAMES = (
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("Access Attempt"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
)
