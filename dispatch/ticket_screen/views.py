"""The ticket page (/tickets/<number>/): every centre role, and agency staff for the tickets behind their own
work orders (another agency's ticket is not found: 404, as in the API)."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse

from dispatch.access import visible_tickets
from dispatch.ticket_screen.data import form_choices, labels, page_context, ticket_queryset, timeline_labels
from organisation.models import User
from organisation.policy import may_open
from realtime.pages import render_screen

SCREEN = "ticket"
NUMBER_MAX_LENGTH = 32
#: What a ticket number may look like (12345-YYYYMMDD-NNNNNN, generously): anything else is not found, before
#: the database sees it (a NUL byte or a number too large for a row id would be its error, not ours).
NUMBER = re.compile(rf"[0-9A-Za-z-]{{1,{NUMBER_MAX_LENGTH}}}")
MAX_ROW_ID = 2**63 - 1
#: Where the page's own content goes in dispatch/ticket/page.html. render_screen gives a screen its header,
#: permission check and JSON configuration but passes no other context to the template, so the content is
#: rendered here with its own context and put in place of this comment (which the escaped configuration and
#: the escaped content cannot contain).
CONTENT_MARKER = b"<!--ticket-page-content-->"


def _screen(request: HttpRequest, config: dict[str, Any], fragment: str, context: dict[str, Any]) -> HttpResponse:
    response = render_screen(request, SCREEN, "dispatch/ticket/page.html", config)
    content = render_to_string(fragment, context, request=request).encode()
    response.content = response.content.replace(CONTENT_MARKER, content, 1)
    return response


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not may_open(user, SCREEN):
        raise PermissionDenied
    return user


@login_required
def ticket_page(request: HttpRequest, number: str) -> HttpResponse:
    """One ticket with its callers, place, work orders, deadlines, cards, replies, revisits and timeline, and a
    button for every action the workflow table allows this user now. ``?part=main`` renders only the part the
    page reloads after an action or a live event."""
    user = _user(request)
    ticket = ticket_queryset(user).filter(number=number).first() if NUMBER.fullmatch(number) else None
    if ticket is None:
        raise Http404
    context = page_context(request, ticket)
    if request.GET.get("part") == "main":
        return render(request, "dispatch/ticket/main.html", context)
    config = {
        "ticket": {"id": ticket.pk, "number": ticket.number},
        "labels": labels(),
        "timeline_actions": timeline_labels(),
        "centre": context["centre"],
    }
    return _screen(request, config, "dispatch/ticket/content.html", {**context, **form_choices(user)})


@login_required
def ticket_by_id(request: HttpRequest, pk: int) -> HttpResponse:
    """/tickets/id/<pk>/ leads to the ticket's own address (by number)."""
    user = _user(request)
    number = visible_tickets(user).filter(pk=pk).values_list("number", flat=True).first() if pk <= MAX_ROW_ID else None
    if number is None:
        raise Http404
    return redirect("ticket-page", number=number)


@login_required
def open_ticket(request: HttpRequest) -> HttpResponse:
    """The "open a ticket by number" form: its ticket when the user may see it, else the form again saying
    that no such ticket was found (the same words whether it does not exist or belongs to another agency)."""
    user = _user(request)
    number = request.GET.get("number", "").strip()[:NUMBER_MAX_LENGTH]
    if NUMBER.fullmatch(number) and ticket_queryset(user).filter(number=number).exists():
        return HttpResponseRedirect(reverse("ticket-page", kwargs={"number": number}))
    status = 404 if number else 200
    response = _screen(request, {}, "dispatch/ticket/find.html", {"number": number, "not_found": bool(number)})
    response.status_code = status
    return response
