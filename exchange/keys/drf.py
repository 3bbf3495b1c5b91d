"""The API's key authentication: ``Authorization: ApiKey hk_...`` or ``X-Api-Key: hk_...``.

Listed in REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] (config/settings.py), so it runs for every API view
that keeps the default classes. On success the request's user is the key's service account and
``request.auth`` the key. In one place, before any view code runs: the scope the route needs
(exchange/keys/scopes.py; a route no scope opens is refused), the per-key rate limit (429 with Retry-After),
and the mark that makes the usage middleware log the request.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from exchange.keys.auth import KeyRefused, check_scope, check_usable, find_key, note_request, rate_limit_wait
from exchange.keys.scopes import scope_for

HEADER_SCHEME = "apikey"


def _messages() -> dict[str, str]:
    return {
        "unknown": _("This API key is not known."),
        "expired": _("This API key has expired."),
        "revoked": _("This API key has been revoked."),
        "scope": _("This API key may not be used for this request."),
    }


class KeyAuthenticationFailed(exceptions.AuthenticationFailed):
    pass


def refusal(refused: KeyRefused) -> exceptions.APIException:
    """The API error for a refused key: codes api_key_unknown / _expired / _revoked (not authenticated) and
    api_key_scope (permission denied)."""
    message = _messages().get(refused.code, _messages()["unknown"])
    if refused.code == "scope":
        return exceptions.PermissionDenied(message, code="api_key_scope")
    return KeyAuthenticationFailed(message, code=f"api_key_{refused.code}")


def raw_key(request: Request) -> str | None:
    parts = get_authorization_header(request).split()
    if parts and parts[0].lower() == HEADER_SCHEME.encode():
        if len(parts) != 2:
            raise KeyAuthenticationFailed(_messages()["unknown"], code="api_key_unknown")
        return parts[1].decode("latin-1")
    header = request.META.get("HTTP_X_API_KEY")
    return header.strip() if header else None


class ApiKeyAuthentication(BaseAuthentication):
    #: Read by core/openapi.py: every operation this class authenticates may answer 429 (the per-key rate).
    rate_limited = True

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = raw_key(request)
        if raw is None:
            return None
        try:
            key = find_key(raw)
        except KeyRefused as refused:
            raise refusal(refused) from None
        note_request(request, key)  # logged whatever the outcome
        match = request.resolver_match
        view = (request.parser_context or {}).get("view")
        scope = scope_for(request.method or "GET", match.url_name if match else None, view)
        try:
            check_usable(key)
            # Every request of a usable key counts towards its rate, the ones its scopes refuse too.
            wait = rate_limit_wait(key, request)
            if wait is not None:
                raise exceptions.Throttled(wait=wait)
            check_scope(key, scope)
        except KeyRefused as refused:
            raise refusal(refused) from None
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return 'ApiKey realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The key in the OpenAPI schema (drf-spectacular finds this subclass by the class it names)."""

    target_class = "exchange.keys.drf.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": "Another system's key (hk_...), also accepted as 'Authorization: ApiKey hk_...'.",
        }
