"""The audit log for the people who read it (auditors, supervisors, administrators): who revealed a caller's
number, who changed reference data or published a calendar, when and why. A read-only page and its JSON.

Actions and target types are shown by their labels; an action written by a newer release that has no label
here yet is shown as "other action", never as its code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.clock import local_zone
from organisation.models import AuditEntry, User
from organisation.policy import may_read_audit

PAGE_SIZE = 50

#: What each audited action means; reference-data changes are "<kind>_<created|changed|deleted|...>".
ACTION_LABELS = {
    "reveal_caller": gettext_lazy("Revealed a caller's number and name"),
    "correct_ticket": gettext_lazy("Corrected a ticket (subject, urgency or place)"),
    "publish_calendar_year": gettext_lazy("Published a year's holiday schedule"),
    # Security events (organisation/identity/events.py).
    "login": gettext_lazy("Logged in"),
    "login_failed": gettext_lazy("Failed login"),
    "lockout": gettext_lazy("Login locked after repeated failures"),
    "logout": gettext_lazy("Logged out"),
    "password_changed": gettext_lazy("Changed the password"),
    "user_deactivated": gettext_lazy("Deactivated a user"),
    "token_issued": gettext_lazy("API token issued"),
    "token_revoked": gettext_lazy("API token revoked"),
    "second_factor_enrolled": gettext_lazy("Set up the second factor"),
    "second_factor_failed": gettext_lazy("Wrong one-time code"),
    "role_changed": gettext_lazy("Changed a user's roles"),
    "reveal_incident_text": gettext_lazy("Revealed the numbers in an incident's text"),
    # Data exchange (exchange/, archive/).
    "delivery_retry": gettext_lazy("Retried a parked delivery"),
    "subscription_secret_rotated": gettext_lazy("Rotated a webhook subscription's secret"),
    "subscription_test_delivery": gettext_lazy("Sent a test delivery to a webhook subscription"),
    "archive_batch": gettext_lazy("Queued a batch for the archive"),
    "archive_verify": gettext_lazy("Verified an archive package"),
}
KIND_LABELS = {
    "agency": gettext_lazy("agency"),
    "user": gettext_lazy("user and roles"),
    "appeal_type": gettext_lazy("appeal type"),
    "subject": gettext_lazy("subject"),
    "routing_rule": gettext_lazy("routing rule"),
    "ticket": gettext_lazy("ticket"),
    "calendar_year": gettext_lazy("calendar year"),
    "phrase": gettext_lazy("canned phrase"),
    "city": gettext_lazy("city"),
    "api_key": gettext_lazy("API key"),
    "subscription": gettext_lazy("webhook subscription"),
    "delivery": gettext_lazy("delivery"),
    "archive": gettext_lazy("archive record"),
    "incident": gettext_lazy("incident"),
}
CHANGE_LABELS = {
    "created": gettext_lazy("created"),
    "changed": gettext_lazy("changed"),
    "deleted": gettext_lazy("deleted"),
    "imported": gettext_lazy("imported"),
    "replaced": gettext_lazy("replaced"),
    "revoked": gettext_lazy("revoked"),
    "rotated": gettext_lazy("rotated"),
}


def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    kind, _sep, change = action.rpartition("_")
    if kind in KIND_LABELS and change in CHANGE_LABELS:
        return _("%(kind)s %(change)s") % {"kind": KIND_LABELS[kind], "change": CHANGE_LABELS[change]}
    return _("other action")


def target_label(target_type: str) -> str:
    return str(KIND_LABELS.get(target_type, _("record"))) if target_type else ""


def _entries(request: HttpRequest) -> tuple[QuerySet[AuditEntry], dict[str, str]]:
    entries = AuditEntry.objects.select_related("actor", "actor_agency").order_by("-id")
    chosen = {name: request.GET.get(name, "").strip() for name in ("action", "target_type", "since", "until")}
    if chosen["action"]:
        entries = entries.filter(action=chosen["action"])
    if chosen["target_type"]:
        entries = entries.filter(target_type=chosen["target_type"])
    for name, lookup in (("since", "created_at__gte"), ("until", "created_at__lt")):
        try:
            day = parse_date(chosen[name]) if chosen[name] else None
        except ValueError:  # well formed but no such day (2026-13-40)
            day = None
        if day is not None:
            start = dt.datetime.combine(day + dt.timedelta(days=1 if name == "until" else 0), dt.time(), local_zone())
            entries = entries.filter(**{lookup: start})
        elif chosen[name]:
            chosen[name] = ""  # not a date: ignored, and the form shows it cleared
    return entries, chosen


def _actor(entry: AuditEntry) -> str:
    if entry.actor is not None:
        return entry.actor.get_full_name() or entry.actor.username
    # A failed login under a name that belongs to nobody: the name as typed.
    details = entry.fields[0] if isinstance(entry.fields, list) and entry.fields else {}
    return str(details.get("username", "")) if isinstance(details, dict) else ""


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "at": entry.created_at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M:%S"),
        "actor": _actor(entry),
        "actor_agency": entry.actor_agency.display_name if entry.actor_agency else "",
        "action": action_label(entry.action),
        "target": target_label(entry.target_type),
        "target_id": entry.target_id,
        "reason": entry.reason,
    }


def _reader(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not may_read_audit(user):
        raise PermissionDenied
    return user


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    _reader(request)
    entries, chosen = _entries(request)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    actions = sorted({*ACTION_LABELS, *AuditEntry.objects.values_list("action", flat=True).distinct()})
    context = {
        "page": page,
        "rows": [_row(entry) for entry in page.object_list],
        "chosen": chosen,
        "actions": [(code, action_label(code)) for code in actions],
        "target_types": [(code, str(label)) for code, label in KIND_LABELS.items()],
    }
    return render(request, "organisation/audit_log.html", context)


@login_required
def audit_log_json(request: HttpRequest) -> JsonResponse:
    _reader(request)
    entries, _chosen = _entries(request)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return JsonResponse(
        {"count": page.paginator.count, "page": page.number, "results": [_row(entry) for entry in page.object_list]}
    )
