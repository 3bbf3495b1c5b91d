"""The writes of Open311: a service request posted with an API key becomes a ticket through callcenter's intake
action (``do_create_ticket``), at once or, in asynchronous mode, later through a token (``Submission``).

``check_submission`` turns the spec's form fields into the intake's data: ``service_code`` is the subject,
``lat``/``long`` are WGS84 (the spec's; a Chinese app may say ``coordinate_system=gcj02`` or ``bd09`` and is
converted at intake), ``address_string`` the address, ``first_name``/``last_name`` the caller's name, ``phone``
the caller's number (read in ``phone_country`` if given, else the installation's region), ``attribute[...]``
the service definition's attributes. The channel is the partner app's (``app``). ``external_id`` (an
extension: the case id in the sending system) makes a repeat return the first ticket for ever; the sending
system is named by the key (its agency or partner), never by the request. ``media_url`` (a link to a photo of
the problem) is kept with the ticket as an http(s) address, never fetched. ``email``, ``device_id``,
``account_id`` and ``address_id`` have no place in a ticket and are not kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from callcenter import lifecycle
from callcenter.actions import check_create_ticket, do_create_ticket
from callcenter.models import Channel, Ticket
from core import clock
from core.errors import DomainError
from open311.formats import Open311Error
from open311.models import Submission, SubmissionState
from open311.services import default_appeal_type
from organisation.models import User

# Our intake's field names as the Open311 client knows them, for error messages.
FIELD_NAMES = {
    "subject": "service_code",
    "latitude": "lat",
    "longitude": "long",
    "address": "address_string",
    "caller_name": "first_name",
    "appeal_type": "attribute[appeal_type]",
    "urgency": "attribute[urgency]",
    "title": "attribute[title]",
    "reported_at": "requested_datetime",
    "source_system": "api_key",
}
_SLUG = re.compile(r"[^a-z0-9._-]+")
# A claimed submission whose worker died is claimed again after this long.
STALE_CLAIM_SECONDS = 300


def source_system_of(key: Any) -> str:
    """The sending system's code for external references: the key's agency or partner, as a short slug."""
    agency = getattr(key, "agency", None)
    name = getattr(agency, "code", "") if agency is not None else str(getattr(key, "partner", "") or "")
    slug = _SLUG.sub("-", name.strip().lower()).strip("-._")[:32]
    if not slug or not slug[0].isalnum():
        slug = f"key-{getattr(key, 'prefix', '')}"[:32]
    return f"o311.{slug}"


def _single(params: Any, name: str) -> str:
    value = params.get(name)
    return value.strip() if isinstance(value, str) else ""


def _coordinate(params: Any, name: str, errors: list[str]) -> float | None:
    raw = _single(params, name)
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        errors.append(_("%(name)s: a number (WGS84 degrees).") % {"name": name})
        return None
    return value


def _caller_name(first: str, last: str) -> str:
    if not first or not last:
        return first or last
    # Chinese names are written family name first and without a space.
    if any("\u4e00" <= char <= "\u9fff" for char in first + last):
        return last + first
    return f"{first} {last}"


def intake_data(params: Any, *, source_system: str) -> dict[str, Any]:
    """The intake (do_create_ticket's data) a POST requests asks for; bad numbers raise a 400."""
    errors: list[str] = []
    latitude = _coordinate(params, "lat", errors)
    longitude = _coordinate(params, "long", errors)
    if errors:
        raise Open311Error(400, *errors)
    data: dict[str, Any] = {
        "channel": Channel.APP,
        "subject": _single(params, "service_code"),
        "appeal_type": _single(params, "attribute[appeal_type]") or default_appeal_type(),
        "urgency": _single(params, "attribute[urgency]") or "normal",
        "title": _single(params, "attribute[title]"),
        "description": _single(params, "description"),
        "address": _single(params, "address_string"),
        "phone": _single(params, "phone"),
        "caller_name": _caller_name(_single(params, "first_name"), _single(params, "last_name")),
        "latitude": latitude,
        "longitude": longitude,
        "coordinate_system": _single(params, "coordinate_system") or "wgs84",
    }
    if _single(params, "phone_country"):
        data["phone_country"] = _single(params, "phone_country")
    external_id = _single(params, "external_id")
    if external_id:
        data["source_system"] = source_system
        data["external_id"] = external_id
    if _single(params, "media_url"):
        data["media_url"] = _single(params, "media_url")
    if _single(params, "requested_datetime"):
        data["reported_at"] = _single(params, "requested_datetime")
    return data


def as_open311_error(error: DomainError) -> Open311Error:
    """A refusal of the intake action in the spec's form, each bad field named as the client calls it."""
    status = 403 if error.status in (401, 403) else 404 if error.status == 404 else 409 if error.status == 409 else 400
    if not error.fields:
        return Open311Error(status, error.message)
    descriptions = [
        f"{FIELD_NAMES.get(field, field)}: {' '.join(str(m) for m in messages)}"
        for field, messages in sorted(error.fields.items())
    ]
    return Open311Error(status, *descriptions)


def do_submit(params: Any, *, actor: User, source_system: str) -> tuple[Ticket, bool]:
    """Accept a posted service request now: (ticket, created); a repeated external_id returns the first."""
    data = intake_data(params, source_system=source_system)
    try:
        return do_create_ticket(data, actor=actor)
    except DomainError as error:
        raise as_open311_error(error) from error


def do_queue_submission(params: Any, *, actor: User, source_system: str, jurisdiction_id: str) -> Submission:
    """Check a posted service request as intake would and keep it for the intake worker: its token."""
    data = intake_data(params, source_system=source_system)
    try:
        lifecycle.recorder().authorise_accept(actor)
        check_create_ticket(data)
    except DomainError as error:
        raise as_open311_error(error) from error
    with transaction.atomic(durable=True):
        return Submission.objects.create(
            token=secrets.token_hex(16),
            submitted_by=actor,
            jurisdiction_id=jurisdiction_id,
            intake=data,
            created_at=clock.now(),
        )


def _claim_next() -> Submission | None:
    """Claim one waiting submission (compare-and-set, so two workers never take the same one)."""
    now = clock.now()
    stale = now - dt.timedelta(seconds=STALE_CLAIM_SECONDS)
    candidates = Submission.objects.filter(state=SubmissionState.PENDING) | Submission.objects.filter(
        state=SubmissionState.PROCESSING, claimed_at__lt=stale
    )
    for row in candidates.order_by("id").values("pk", "state", "claimed_at")[:20]:
        claimed = Submission.objects.filter(pk=row["pk"], state=row["state"], claimed_at=row["claimed_at"]).update(
            state=SubmissionState.PROCESSING, claimed_at=now
        )
        if claimed:
            return Submission.objects.select_related("submitted_by").get(pk=row["pk"])
    return None


def _finish(submission: Submission, *, ticket: Ticket | None, error: str) -> None:
    with transaction.atomic(durable=True):
        Submission.objects.filter(pk=submission.pk).update(
            state=SubmissionState.DONE if ticket is not None else SubmissionState.FAILED,
            ticket=ticket,
            error=error,
            intake={},
            processed_at=clock.now(),
        )


def do_process_submissions(limit: int = 100) -> int:
    """Turn up to ``limit`` waiting submissions into tickets; returns how many were handled.

    Each one runs the intake action with an idempotency key of its token, so a submission claimed again after
    a worker died mid-way returns the ticket the first attempt made instead of making a second one.
    """
    handled = 0
    while handled < limit:
        submission = _claim_next()
        if submission is None:
            break
        body = json.dumps(submission.intake, sort_keys=True, ensure_ascii=False)
        try:
            ticket, _created = do_create_ticket(
                submission.intake,
                actor=submission.submitted_by,
                idempotency_key=f"open311:{submission.token}",
                request_hash=hashlib.sha256(body.encode()).hexdigest(),
            )
        except DomainError as error:
            refusal = as_open311_error(error)
            _finish(submission, ticket=None, error="; ".join(refusal.descriptions))
        else:
            _finish(submission, ticket=ticket, error="")
        handled += 1
    return handled
