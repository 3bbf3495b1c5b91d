"""Request parsing shared by every API: a JSON object body checked by a DRF serializer; free text checked."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.request import Request

from core.errors import InvalidInput


def validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput(_("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


MAX_TEXT = 5000


def clean_text(
    data: dict[str, Any], name: str, errors: dict[str, list[str]], *, required: bool = False, max_length: int = MAX_TEXT
) -> str:
    """The stripped text of ``data[name]`` (missing or null: ""); a problem goes into ``errors[name]``."""
    value = data.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[name] = [_("This field must be text.")]
        return ""
    value = value.strip()
    if required and not value:
        errors[name] = [_("This field is required.")]
    elif len(value) > max_length:
        errors[name] = [_("At most %(n)d characters.") % {"n": max_length}]
    return value


def require_text(fields: dict[str, Any], *, required: Sequence[str] = (), optional: Sequence[str] = ()) -> None:
    errors: dict[str, list[str]] = {}
    for name in (*required, *optional):
        value = fields.get(name)
        if value is None and name in optional:
            continue
        if not isinstance(value, str):
            errors[name] = [_("This field must be text.")]
        elif name in required and not value.strip():
            errors[name] = [_("This field is required.")]
        elif len(value) > MAX_TEXT:
            errors[name] = [_("At most %(n)d characters.") % {"n": MAX_TEXT}]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)


# What the database holds: ids are 64-bit (BigAutoField), counts and sizes in an IntegerField are 32-bit on
# PostgreSQL. A larger number is a 400 naming the field, never an overflow in the driver.
DB_INT_MAX = 2**63 - 1
DB_INT32_MAX = 2**31 - 1
_DIGITS = re.compile(r"-?[0-9]+")


class BoundedIntegerField(serializers.IntegerField):
    """An integer within a 32-bit column (by default): not a JSON boolean, not beyond what the database holds."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("min_value", -DB_INT32_MAX - 1)
        kwargs.setdefault("max_value", DB_INT32_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class IdField(BoundedIntegerField):
    """A row id: a positive 64-bit integer."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", DB_INT_MAX)
        super().__init__(**kwargs)


def query_int(request: Request, name: str, *, minimum: int = 0, maximum: int = DB_INT_MAX) -> int | None:
    """An integer query parameter (None when absent or empty); anything else is a 400 naming the parameter."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    field = BoundedIntegerField(min_value=minimum, max_value=maximum)
    try:
        if not _DIGITS.fullmatch(raw):  # "1.0", " 5" and "5e3" are not integers in a URL
            field.fail("invalid")
        return int(field.run_validation(raw))
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({name: exc.detail}) from exc


class StrictFloatField(serializers.FloatField):
    """A number, but not a JSON boolean (which Python would otherwise read as 0 or 1)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that states its offset: deadlines are never guessed into a time zone."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:  # well formed but no such time: minute 60, month 13
                self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss[.uuuuuu]]+hh:mm")
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(_("Give the time zone, e.g. 2026-11-21T09:00:00+08:00."))
        return super().to_internal_value(value)


class NoteInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class RequiredNoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=5000)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


#: The fewest letters, digits or symbols a reason must hold once spaces, punctuation and invisible characters
#: are left out: "." or a zero-width space is no reason.
MIN_REASON_CHARS = 4


def substantive_length(text: str) -> int:
    """How many characters of ``text`` are words: not separators (Z*), punctuation (P*) or control, format,
    unassigned or private-use characters (C*: zero-width spaces, direction marks)."""
    return sum(1 for char in text if unicodedata.category(char)[0] not in "ZPC")


def require_reason(value: Any, name: str = "reason") -> None:
    """A reason of real words (400 with a field error otherwise)."""
    if not isinstance(value, str):
        raise InvalidInput(_("Some fields are not valid."), fields={name: [_("This field must be text.")]})
    if substantive_length(value) < MIN_REASON_CHARS:
        message = _("Give a reason in words: at least %(n)d characters besides spaces and punctuation.") % {
            "n": MIN_REASON_CHARS
        }
        raise InvalidInput(_("Some fields are not valid."), fields={name: [message]})
