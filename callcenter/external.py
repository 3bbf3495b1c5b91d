"""External references on intake: a ticket sent by another system (a WeChat mini-program, a city's 311, a
partner's case system) names that system, its case id there and when it was reported there, and may give a link
to a photo of the problem (``media_url``: an http(s) address, stored, never fetched). A repeated
(source_system, external_id) returns the first ticket, forever (unlike an Idempotency-Key, which expires); a
repeat with another intake is refused. The ticket row carries a fingerprint of the normalised intake for that."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from core import clock
from core.redaction import mask_personal_numbers

if TYPE_CHECKING:
    from callcenter.actions import TicketInput

SOURCE_SYSTEM = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
MAX_EXTERNAL_ID = 100
#: A link to a photo of the problem (Open311's media_url): http or https only, stored as given, never fetched.
MAX_MEDIA_URL = 500
_MEDIA_URL = URLValidator(schemes=["http", "https"])
# A sending system's clock may run a little ahead of ours.
ALLOWED_SKEW = dt.timedelta(minutes=5)
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def check_reference(data: dict[str, Any], errors: dict[str, list[str]]) -> tuple[str, str, dt.datetime | None]:
    """(source_system, external_id, reported_at) of an intake; problems go into ``errors`` by field."""
    source = data.get("source_system") or ""
    external_id = data.get("external_id") or ""
    if not isinstance(source, str):
        errors["source_system"] = [_("This field must be text.")]
        source = ""
    elif source and not SOURCE_SYSTEM.match(source.strip()):
        errors["source_system"] = [
            _("A short code of lower-case letters, digits, '.', '_' or '-' (at most 40), e.g. sf311.")
        ]
    source = source.strip()
    if not isinstance(external_id, str):
        errors["external_id"] = [_("This field must be text.")]
        external_id = ""
    external_id = external_id.strip()
    if len(external_id) > MAX_EXTERNAL_ID:
        errors["external_id"] = [_("At most %(n)d characters.") % {"n": MAX_EXTERNAL_ID}]
    elif external_id and not external_id.isprintable():
        errors["external_id"] = [_("Must not contain control characters.")]
    elif external_id and not source and "source_system" not in errors:
        errors["source_system"] = [_("An external id needs the system it comes from.")]
    return source, external_id, _reported_at(data.get("reported_at"), errors)


def check_media_url(data: dict[str, Any], errors: dict[str, list[str]]) -> str:
    """The sender's link to a photo of the problem: an http(s) URL of at most MAX_MEDIA_URL characters, or ""."""
    raw = data.get("media_url") or ""
    if not isinstance(raw, str):
        errors["media_url"] = [_("This field must be text.")]
        return ""
    value = raw.strip()
    if not value:
        return ""
    if len(value) > MAX_MEDIA_URL:
        errors["media_url"] = [_("At most %(n)d characters.") % {"n": MAX_MEDIA_URL}]
        return ""
    try:
        _MEDIA_URL(value)
    except ValidationError:
        errors["media_url"] = [_("A web address starting with http:// or https://.")]
        return ""
    if urlsplit(value).username is not None:
        errors["media_url"] = [_("A web address without a user name or password.")]
        return ""
    return value


def shareable_media_url(url: str) -> str:
    """The photo link as those outside the centre (agencies, the public) may see it: "" when the address itself
    holds something that reads as a phone or ID-card number (a sender's app may put the reporter's in a query)."""
    return url if url and mask_personal_numbers(url) == url else ""


def _reported_at(raw: Any, errors: dict[str, list[str]]) -> dt.datetime | None:
    if raw is None or raw == "":
        return None
    value = raw if isinstance(raw, dt.datetime) else None
    if isinstance(raw, str):
        try:
            value = parse_datetime(raw.strip())
        except ValueError:
            value = None
    if value is None:
        errors["reported_at"] = [_("A date and time in ISO 8601 with its UTC offset, e.g. 2026-05-11T09:30:00+08:00.")]
        return None
    if timezone.is_naive(value):
        errors["reported_at"] = [_("Give the UTC offset (e.g. +08:00 or Z) with the time.")]
        return None
    if value < EARLIEST:
        errors["reported_at"] = [_("Not before the year 2000.")]
    elif value > clock.now() + ALLOWED_SKEW:
        errors["reported_at"] = [_("Must not be in the future.")]
    return value


def fingerprint(intake: TicketInput) -> str:
    """The same intake, however it was spelled (key order, number format, coordinate system), hashes the same."""
    canonical = {
        "channel": intake.channel,
        "phone": intake.phone,
        "caller_name": intake.caller_name,
        "caller_confidential": intake.caller_confidential,
        "appeal_type": intake.appeal_type.code,
        "subject": intake.subject.code,
        "urgency": intake.urgency,
        "title": intake.title,
        "description": intake.description,
        "address": intake.address,
        "latitude": None if intake.latitude is None else round(intake.latitude, 6),
        "longitude": None if intake.longitude is None else round(intake.longitude, 6),
        "source_system": intake.source_system,
        "external_id": intake.external_id,
        "reported_at": intake.reported_at.astimezone(dt.UTC).isoformat() if intake.reported_at else None,
    }
    if intake.media_url:
        # Only when given, so the fingerprints of intakes from before the field stay as they were.
        canonical["media_url"] = intake.media_url
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
