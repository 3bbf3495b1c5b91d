"""The records office's page (档案室, /archive/): the archive register with filters, a batch of transfers by
closing date (counted first, a dry run that changes nothing, then queued) and a re-check of each delivered
package.

Who: those who read the archive (organisation.policy.may_read_archive: auditors, supervisors, administrators)
see the register; those who run it (may_run_archive: administrators) count and queue batches and verify
packages. Anyone else is refused the page (403) and finds no package to verify (404). Every write goes through
archive/actions.py; bad input re-renders the page with its field errors and a 4xx, changing nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from archive import actions
from archive.models import ArchiveRecord, ArchiveState
from core import clock
from core.errors import DomainError, InvalidInput
from exchange.models import Delivery, DeliveryState
from organisation.models import User
from organisation.policy import may_read_archive, may_run_archive

PAGE_SIZE = 50
TEMPLATE = "archive/records.html"
KIND_LABELS = {"ticket": gettext_lazy("Ticket"), "incident": gettext_lazy("Incident")}
BATCH_KIND_LABELS = {
    "all": gettext_lazy("Tickets and incidents"),
    "tickets": gettext_lazy("Tickets only"),
    "incidents": gettext_lazy("Incidents only"),
}
VERIFIED_LABELS = {
    "ok": gettext_lazy("Passed"),
    "failed": gettext_lazy("Failed"),
    "never": gettext_lazy("Not checked yet"),
}
FILTERS = ("q", "kind", "state", "verified", "closed_from", "closed_to")


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not may_read_archive(user):
        raise PermissionDenied
    return user


def _local(moment: Any) -> Any:
    return moment.astimezone(clock.local_zone()) if moment else None


def _filtered(params: Any) -> tuple[QuerySet[ArchiveRecord], dict[str, str], dict[str, list[str]]]:
    chosen = {name: str(params.get(name, "") or "").strip()[:40] for name in FILTERS}
    errors: dict[str, list[str]] = {}
    records = ArchiveRecord.objects.all()
    if chosen["q"]:
        records = records.filter(package_name__icontains=chosen["q"])
    if chosen["kind"] == "ticket":
        records = records.filter(ticket__isnull=False)
    elif chosen["kind"] == "incident":
        records = records.filter(incident__isnull=False)
    elif chosen["kind"]:
        errors["kind"] = [_("Choose ticket or incident.")]
    if chosen["state"] in ArchiveState.values:
        records = records.filter(state=chosen["state"])
    elif chosen["state"]:
        errors["state"] = [_("Unknown state.")]
    if chosen["verified"] == "ok":
        records = records.filter(verified_ok=True)
    elif chosen["verified"] == "failed":
        records = records.filter(verified_ok=False)
    elif chosen["verified"] == "never":
        records = records.filter(verified_ok__isnull=True)
    elif chosen["verified"]:
        errors["verified"] = [_("Unknown choice.")]
    if chosen["closed_from"] or chosen["closed_to"]:
        try:
            first, last = actions.check_closing_range(
                chosen["closed_from"] or "1900-01-01", chosen["closed_to"] or "9998-12-31", max_days=None
            )
        except InvalidInput as error:
            errors.update({name: [str(m) for m in listed] for name, listed in (error.fields or {}).items()})
        else:
            start, end = actions.day_range(first, last)
            records = records.filter(closed_at__gte=start, closed_at__lt=end)
    return records.order_by("-closed_at", "-id"), chosen, errors


def _rows(records: list[ArchiveRecord]) -> list[dict[str, Any]]:
    deliveries = dict(
        Delivery.objects.filter(pk__in=[record.delivery_id for record in records]).values_list("id", "state")
    )
    rows = []
    for record in records:
        verified = "never" if record.verified_ok is None else "ok" if record.verified_ok else "failed"
        delivery_state = deliveries.get(record.delivery_id, "")
        rows.append(
            {
                "pk": record.pk,
                "package": record.package_name,
                "kind": KIND_LABELS[record.kind],
                "closed_at": _local(record.closed_at),
                "queued_at": _local(record.queued_at),
                "transferred_at": _local(record.transferred_at),
                "retention_until": record.retention_until,
                "state": record.state,
                "state_label": ArchiveState(record.state).label,
                "parked": delivery_state == DeliveryState.PARKED,
                "verified": verified,
                "verified_label": VERIFIED_LABELS[verified],
                "verified_at": _local(record.verified_at),
                "sha256": record.package_sha256,
                "verifiable": record.state == ArchiveState.TRANSFERRED,
            }
        )
    return rows


def _page(
    request: HttpRequest, user: User, *, status: int = 200, batch: dict[str, Any] | None = None, **extra: Any
) -> HttpResponse:
    records, chosen, filter_errors = _filtered(request.GET)
    if filter_errors:
        records = ArchiveRecord.objects.none()
        status = max(status, 400)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": _rows(list(page.object_list)),
        "chosen": chosen,
        "query": urlencode({name: value for name, value in chosen.items() if value}),
        "filter_errors": filter_errors,
        "kinds": list(KIND_LABELS.items()),
        "states": list(ArchiveState.choices),
        "verified_choices": list(VERIFIED_LABELS.items()),
        "batch_kinds": list(BATCH_KIND_LABELS.items()),
        "may_run": may_run_archive(user),
        "batch": batch or {"closed_from": "", "closed_to": "", "kind": "all", "errors": {}},
        **extra,
    }
    return render(request, TEMPLATE, context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def records_page(request: HttpRequest) -> HttpResponse:
    """GET: the register; POST: the batch form (see ``_batch``)."""
    user = _user(request)
    if request.method == "POST":
        return _batch(request, user)
    return _page(request, user)


def _field_errors(error: DomainError) -> dict[str, list[str]]:
    fields = getattr(error, "fields", None) or {}
    return {name: [str(m) for m in listed] for name, listed in fields.items()}


def _batch(request: HttpRequest, user: User) -> HttpResponse:
    """Step "count": the dry run (nothing changes); step "queue": the batch itself, then back to the register."""
    if not may_run_archive(user):
        raise PermissionDenied
    form: dict[str, Any] = {
        name: str(request.POST.get(name, "") or "").strip()[:20] for name in ("closed_from", "closed_to")
    }
    form["kind"] = str(request.POST.get("kind", "all") or "all")[:20]
    step = request.POST.get("step", "count")
    try:
        if step == "queue":
            result = actions.do_archive_batch(form["closed_from"], form["closed_to"], kind=form["kind"], actor=user)
            messages.success(
                request,
                _("Queued for transfer: tickets %(tickets)d, incidents %(incidents)d.")
                % {"tickets": result.tickets, "incidents": result.incidents},
            )
            return redirect("archive-page")
        counted = actions.check_archive_batch_count(
            form["closed_from"], form["closed_to"], kind=form["kind"], actor=user
        )
    except DomainError as error:
        state = {**form, "errors": _field_errors(error), "message": str(error)}
        return _page(request, user, status=error.status, batch=state)
    state = {**form, "errors": {}, "counted": counted, "total": counted.tickets + counted.incidents}
    return _page(request, user, batch=state)


@login_required
@require_POST
def verify(request: HttpRequest, pk: int) -> HttpResponse:
    """Re-check one delivered package; the result is shown on the register (and kept as its verified state)."""
    user = request.user
    if not isinstance(user, User) or not may_read_archive(user):
        raise Http404
    if not may_run_archive(user):
        raise PermissionDenied
    try:
        finding = actions.do_verify_record(pk, actor=user)
    except DomainError as error:
        if error.status == 404:
            raise Http404 from error
        return _page(request, user, status=error.status, verify_error=str(error))
    if finding.ok:
        messages.success(
            request, _("Package %(package)s verified: every checksum matches.") % {"package": finding.package}
        )
    else:
        messages.error(
            request,
            _("Package %(package)s failed verification: %(problems)s")
            % {"package": finding.package, "problems": "; ".join(finding.problems)},
        )
    return redirect("archive-page")
