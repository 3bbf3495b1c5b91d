"""The OpenAPI schema tells every status an operation answers with, not only its success.

Every API error has one body (core/api_errors.py): ``{"code", "message", "fields"}``. Which errors an operation
may answer follows from what it is, so they are added here once rather than on every view:

- 400 bad input (query parameters, a body that is not JSON or nests too deep), for every operation;
- 401 or 403 for missing or wrong credentials (DRF authenticates before any view, AllowAny views included),
  and 403 for a role that may not do this;
- 404 for an operation with a path parameter (a foreign object answers 404, never 403);
- 409 for a write the workflow table or a guard refuses in the object's current state;
- 413 for a body past ``DATA_UPLOAD_MAX_MEMORY_SIZE``;
- 429 where the view throttles, or an authentication class says it rate-limits (``rate_limited = True``).

Text inputs (DRF's CharField) carry the pattern of what DRF takes: no NUL character and, where a blank is refused,
something besides white space (``text_pattern``).

Request bodies are documented as JSON: the API's views take JSON (form and multipart bodies are accepted as DRF's
defaults for the token endpoint and test clients, but not promised). Multipart is documented only where a view
names it (attachments): Daphne's HTTP layer (Twisted) answers a malformed multipart body itself with a bare 400.

A view documents anything else (its own success codes, 422, ...) with ``extend_schema(responses=...)``; an
error status it names itself is kept as it gave it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.settings import api_settings

WRITES = ("POST", "PUT", "PATCH", "DELETE")


# "fields" is also the name of a serializer's own attribute, hence a serializer built from a dict.
ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(help_text="Stable code, e.g. invalid_input, not_found, transition_not_allowed"),
        "message": serializers.CharField(help_text="Human text in the request's language"),
        "fields": serializers.DictField(
            child=serializers.JSONField(), help_text="Field name to its errors (a list, or nested for nested input)"
        ),
    },
)


#: A text query parameter: anything but a NUL character (which PostgreSQL refuses).
TEXT_PARAMETER = {"type": "string", "pattern": r"^[^\x00]*$"}


def text_pattern(field: serializers.CharField) -> str:
    """What a DRF CharField takes, as a pattern: no NUL character (DRF refuses it) and, when blanks are refused and
    the text is trimmed, something besides white space."""
    if field.allow_blank:  # drf-spectacular offers the blank as a branch of its own (oneOf), so not here
        return r"^[^\x00]+$"
    if field.trim_whitespace:
        return r"^[^\x00]*[^\s\x00][^\x00]*$"
    return r"^[^\x00]+$"


class AutoSchema(openapi.AutoSchema):
    def map_parsers(self) -> list[Any]:
        if list(self.view.parser_classes) == list(api_settings.DEFAULT_PARSER_CLASSES):
            return ["application/json"]
        return [media for media in super().map_parsers() if media != "multipart/form-data"]

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = dict(super()._get_response_bodies(direction))
        for code in self._error_statuses():
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code, ["application/json"], direction)
        return responses

    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and isinstance(schema, dict)
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & set(schema)
        ):
            schema["pattern"] = text_pattern(field)
        return schema

    def _authenticators(self) -> list[Any]:
        return list(getattr(self.view, "authentication_classes", ()))

    def _error_statuses(self) -> list[str]:
        codes = ["400", "401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.method in WRITES:
            codes += ["409", "413"]
        # A view's own throttles, or an authentication that rate-limits its credential (API keys: exchange/keys/).
        if self.view.get_throttles() or any(getattr(auth, "rate_limited", False) for auth in self._authenticators()):
            codes.append("429")
        return codes
