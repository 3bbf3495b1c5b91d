"""JSON bodies bounded in nesting depth and size, so a hostile body is a 4xx, never a crash.

Python's JSON decoder recurses once per nested array or object; a body nested a thousand deep exhausts the
interpreter's stack (RecursionError) before any serializer sees it. No request of ours nests deeper than a few
levels (a GeoJSON polygon is four), so the parser refuses anything deeper than ``MAX_DEPTH`` before decoding.
The body's size is bounded by Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413 past it): DRF reads the request
stream itself, past the check Django makes in ``HttpRequest.body``.

Two guards: ``JsonBodyLimitMiddleware`` checks every JSON body before any view runs (views of libraries that
choose their own parsers included, e.g. the token endpoint), and ``BoundedJSONParser``, DRF's default parser,
checks again where DRF reads the body.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Mapping
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.api_errors import error_body
from core.errors import DomainError, InvalidInput

MAX_DEPTH = 64

# A JSON string (with its escapes): brackets inside strings do not nest anything.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class BodyTooLarge(DomainError):
    status = 413
    code = "body_too_large"


def nests_deeper_than(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects in a JSON text nest deeper than ``limit``; cheap for flat bodies."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def too_large() -> BodyTooLarge:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return BodyTooLarge(
        _("The request body is too large."), fields={"body": [_("At most %(n)d bytes.") % {"n": limit}]}
    )


def too_deep() -> InvalidInput:
    return InvalidInput(
        _("The request body is not valid JSON."),
        code="parse_error",
        fields={"body": [_("Arrays and objects may nest at most %(n)d levels deep.") % {"n": MAX_DEPTH}]},
    )


def loads_bounded(text: str) -> Any:
    """``json.loads`` refusing, as a 400, bodies nested deeper than ``MAX_DEPTH`` and NaN or Infinity."""
    if nests_deeper_than(text):
        raise too_deep()
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as exc:  # a last line of defence should the interpreter's stack be smaller than usual
        raise too_deep() from exc
    except ValueError as exc:
        raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a nesting limit; like DRF's, it refuses NaN and Infinity."""

    def parse(
        self, stream: IO[Any] | None, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = (stream.read(limit + 1) if limit is not None else stream.read()) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise too_large()
        try:
            text = codecs.decode(raw, encoding) if isinstance(raw, bytes) else str(raw)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from exc
        return loads_bounded(text)


class JsonBodyLimitMiddleware:
    """Answers a JSON body nested too deep (400) or too large (413) before any view sees it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        content_type = request.content_type or ""
        if content_type == "application/json" or content_type.endswith("+json"):
            refused = self._refusal(request)
            if refused is not None:
                return JsonResponse(error_body(refused.code, refused.message, refused.fields), status=refused.status)
        return self.get_response(request)

    @staticmethod
    def _refusal(request: HttpRequest) -> DomainError | None:
        try:
            body = request.body
        except RequestDataTooBig:
            return too_large()
        text = body.decode(request.encoding or settings.DEFAULT_CHARSET, errors="replace")
        return too_deep() if nests_deeper_than(text) else None
