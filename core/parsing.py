"""Request parsing shared by every API: a JSON object body checked by a DRF serializer; free text checked."""

from __future__ import annotations

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
            parsed = parse_datetime(value.strip())
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(_("Give the time zone, e.g. 2026-11-21T09:00:00+08:00."))
        return super().to_internal_value(value)


class NoteInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class RequiredNoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=5000)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
