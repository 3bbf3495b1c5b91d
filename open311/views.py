"""The Open311 GeoReport v2 endpoints under /open311/v2/ (urls.py): discovery, services, service definitions,
requests (GET, and POST with an ``api_key``), one request, and tokens of requests accepted asynchronously.

Every answer is in the format of the resource's suffix (.json or .xml); every refusal is the spec's array of
{code, description} with the same HTTP status (400 bad parameter, 403 key refused, 404 unknown
jurisdiction, service, request or token, 409 an external id reused with other content, 429 a key over its
rate). The language is the client's Accept-Language (or ``locale``), else the site's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from core.clock import local_zone
from exchange.keys import KeyRefused, authenticate_api_key, note_request, rate_limit_wait
from open311 import actions, public, services
from open311.formats import FORMATS, JSON, Open311Error, render, render_error
from open311.jurisdictions import resolve_jurisdiction
from open311.models import Submission, SubmissionState
from organisation.models import Subject

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this server's GeoReport interface last changed (discovery's changeset).
CHANGESET = dt.datetime(2026, 12, 7, tzinfo=local_zone())
SUBMIT_SCOPE = "open311:submit"

View = Callable[..., HttpResponse]


def _language(request: HttpRequest) -> str:
    supported = {code for code, _name in settings.LANGUAGES}
    wanted = (request.GET.get("locale") or "").strip().lower().replace("_", "-")
    for code in supported:
        if wanted and (wanted == code or wanted.split("-")[0] == code.split("-")[0]):
            return code
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    if chosen in supported:
        return chosen
    if "HTTP_ACCEPT_LANGUAGE" in request.META:
        return translation.get_language_from_request(request)
    return settings.LANGUAGE_CODE


def _check_input(request: HttpRequest, kwargs: dict[str, Any]) -> None:
    """A form that cannot be read, or a NUL character anywhere (PostgreSQL refuses them in text), is a 400."""
    try:
        forms = [request.GET, request.POST] if request.method == "POST" else [request.GET]
        values = [value for form in forms for _name, listed in form.lists() for value in listed]
    except (MultiPartParserError, SuspiciousOperation) as bad:
        raise Open311Error(400, _("The request body is not a valid form.")) from bad
    if any("\x00" in str(value) for value in [*values, *kwargs.values()]):
        raise Open311Error(400, _("Parameters must not contain NUL characters."))


def open311_view(*methods: str) -> Callable[[View], View]:
    """The language, the allowed methods and the spec's error answer for a view taking ``fmt``."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, fmt: str = JSON, **kwargs: Any) -> HttpResponse:
            with translation.override(_language(request)):
                try:
                    if request.method not in methods and not (request.method == "HEAD" and "GET" in methods):
                        response = render_error(Open311Error(405, _("Method not allowed.")), fmt)
                        response["Allow"] = ", ".join(methods)
                        return response
                    _check_input(request, kwargs)
                    posted = request.POST.get("jurisdiction_id") if request.method == "POST" else None
                    if resolve_jurisdiction(request.GET.get("jurisdiction_id") or posted) is None:
                        raise Open311Error(404, _("jurisdiction_id: not served here."))
                    return view(request, *args, fmt=fmt, **kwargs)
                except Open311Error as error:
                    return render_error(error, fmt)

        # No cookie ever authenticates here (a POST carries its api_key), so there is no session to forge.
        return csrf_exempt(wrapped)

    return decorate


def _endpoint_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/open311/v2/")


@open311_view("GET")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    changeset = CHANGESET.isoformat(timespec="seconds")
    document = {
        "changeset": changeset,
        "contact": str(settings.HOTLINE.get("OPEN311_CONTACT") or _("The 12345 hotline centre")),
        "key_service": _("API keys are issued by the 12345 centre's administrators (with the open311:submit scope)."),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": _endpoint_url(request),
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(document, fmt, root="discovery")


@open311_view("GET")
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    return render(services.services_document(), fmt, root="services")


@open311_view("GET")
def service_definition(request: HttpRequest, service_code: str, fmt: str) -> HttpResponse:
    subject = Subject.objects.filter(code=service_code, active=True, is_leaf=True).first()
    if subject is None:
        raise Open311Error(404, _("service_code: no such service."))
    return render(services.definition_document(subject), fmt, root="service_definition")


@open311_view("GET", "POST")
def request_list(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _post_request(request, fmt)
    query = public.requests_query(request.GET)
    tickets = public.with_details(query.tickets, extensions=query.extensions)
    document = [public.request_row(ticket, extensions=query.extensions) for ticket in tickets]
    return render(document, fmt, root="service_requests")


@open311_view("GET")
def request_detail(request: HttpRequest, request_id: str, fmt: str) -> HttpResponse:
    extensions = (request.GET.get("extensions") or "").strip().lower() in ("true", "1")
    tickets = public.with_details(public.public_tickets(request.GET).filter(number=request_id), extensions=extensions)
    if not tickets:
        raise Open311Error(404, _("service_request_id: no such service request."))
    return render([public.request_row(tickets[0], extensions=extensions)], fmt, root="service_requests")


@open311_view("GET")
def token_detail(request: HttpRequest, token: str, fmt: str) -> HttpResponse:
    submission = Submission.objects.select_related("ticket").filter(token=token).first()
    if submission is None:
        raise Open311Error(404, _("token: no such token."))
    row: dict[str, Any] = {
        "service_request_id": submission.ticket.number if submission.ticket else None,
        "token": token,
    }
    if submission.state == SubmissionState.FAILED:
        row["service_notice"] = submission.error
    return render([row], fmt, root="service_requests")


def _key_refusal(code: str) -> Open311Error:
    texts = {
        "missing": _("api_key: required to submit a service request."),
        "unknown": _("api_key: not a valid key."),
        "expired": _("api_key: this key has expired."),
        "revoked": _("api_key: this key was revoked."),
        "scope": _("api_key: this key may not submit service requests."),
    }
    return Open311Error(403, texts.get(code, texts["unknown"]))


def _post_request(request: HttpRequest, fmt: str) -> HttpResponse:
    raw = (request.POST.get("api_key") or request.GET.get("api_key") or "").strip()
    if not raw:
        raise _key_refusal("missing")
    try:
        key = authenticate_api_key(raw, scope=SUBMIT_SCOPE)
    except KeyRefused as refused:
        raise _key_refusal(refused.code) from refused
    note_request(request, key)
    wait = rate_limit_wait(key, request)
    if wait is not None:
        response = render_error(Open311Error(429, _("Too many requests with this api_key; try again later.")), fmt)
        response["Retry-After"] = str(int(wait + 0.999))
        return response
    jurisdiction = resolve_jurisdiction(request.POST.get("jurisdiction_id") or request.GET.get("jurisdiction_id"))
    source = actions.source_system_of(key)
    if settings.HOTLINE.get("OPEN311_ASYNC", False):
        submission = actions.do_queue_submission(
            request.POST, actor=key.user, source_system=source, jurisdiction_id=jurisdiction or ""
        )
        notice = _("Received; it will be accepted shortly. Ask for its service_request_id with the token.")
        return render([{"token": submission.token, "service_notice": notice}], fmt, root="service_requests")
    ticket, _created = actions.do_submit(request.POST, actor=key.user, source_system=source)
    notice = _("Accepted by the 12345 hotline; it is routed to the responsible agency.")
    return render([{"service_request_id": ticket.number, "service_notice": notice}], fmt, root="service_requests")


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Anything else under /open311/: the spec's 404 (in XML when the path asks for it)."""
    fmt = "xml" if request.path.endswith(".xml") else JSON
    with translation.override(_language(request)):
        return render_error(Open311Error(404, _("No such Open311 resource.")), fmt if fmt in FORMATS else JSON)
