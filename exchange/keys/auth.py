"""Checking a key: ``authenticate_api_key`` (for any view, e.g. Open311's ``api_key`` parameter), the per-key
rate limit (DRF's throttle, keyed by the key) and noting a request for the usage log (exchange/keys/usage.py)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from core import clock
from exchange.keys import hashing
from exchange.models import ApiKey

logger = logging.getLogger(__name__)

#: Attribute of the Django request holding the keys it was made with: a list the usage middleware puts there
#: before the view runs and reads after it (a DRF request reads it through to the Django request).
REQUEST_ATTRIBUTE = "hotline_api_keys"


class KeyRefused(Exception):
    """The key may not be used; ``code``: unknown, expired, revoked or scope (the rate limit is the throttle's)."""

    def __init__(self, code: str, key: ApiKey | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.key = key


def find_key(raw: str) -> ApiKey:
    """The key a raw key names, whatever its state; KeyRefused("unknown") if none (or the secret is wrong)."""
    parts = hashing.split_key(raw)
    if parts is None:
        raise KeyRefused("unknown")
    prefix, secret = parts
    key = ApiKey.objects.select_related("user", "agency").filter(prefix=prefix).first()
    matched = hashing.match(prefix, secret, key.secret_hash) if key is not None else ""
    if key is None or not matched:
        raise KeyRefused("unknown")
    if matched == "fallback":  # SECRET_KEY was rotated: keep the key working after the fallback is gone
        key.secret_hash = hashing.hash_secret(prefix, secret)
        ApiKey.objects.filter(pk=key.pk).update(secret_hash=key.secret_hash)
    return key


def check_usable(key: ApiKey) -> None:
    """Raise KeyRefused unless the key is usable now: not revoked (nor its account deactivated), not expired."""
    if key.revoked_at is not None or not key.user.is_active:
        raise KeyRefused("revoked", key)
    if key.expires_at <= clock.now():
        raise KeyRefused("expired", key)


def check_scope(key: ApiKey, scope: str | None) -> None:
    if scope is None or scope not in (key.scopes or ()):
        raise KeyRefused("scope", key)


def check_key(key: ApiKey, *, scope: str | None) -> None:
    """Raise KeyRefused unless the key is usable now and holds ``scope``."""
    check_usable(key)
    check_scope(key, scope)


def authenticate_api_key(raw: str, *, scope: str) -> ApiKey:
    """The key ``raw`` names, if it is valid now and holds ``scope``; otherwise KeyRefused with a code.

    Read from the database on every call: a revocation takes effect on the next request. The caller acts as
    ``key.user`` (the key's service account) and should also apply ``rate_limit_wait(key)`` and
    ``note_request(request, key)``; the DRF authentication class (exchange/keys/drf.py) does all three.
    """
    key = find_key(raw)
    check_key(key, scope=scope)
    return key


def default_rate() -> str:
    return str(settings.HOTLINE.get("API_KEY_DEFAULT_RATE", "120/min"))


class ApiKeyRateThrottle(SimpleRateThrottle):
    """DRF's fixed-window throttle in Django's cache, one bucket per key (by prefix), at the key's own rate."""

    scope = "api_key"

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key  # not "key": SimpleRateThrottle keeps its cache key there
        super().__init__()

    def get_rate(self) -> str:
        return self.api_key.rate or default_rate()

    def get_cache_key(self, request: object, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.api_key.prefix}


def rate_limit_wait(key: ApiKey, request: object = None) -> float | None:
    """None while the key is under its rate (this request counted); otherwise the seconds until it may retry."""
    throttle = ApiKeyRateThrottle(key)
    try:
        if throttle.allow_request(request, None):  # type: ignore[arg-type]
            return None
    except Exception:  # the cache (Redis) is down: serve the authenticated key rather than fail every request
        logger.warning("rate limit of API key %s not checked: the cache is unavailable", key.prefix)
        return None
    return max(throttle.wait() or 1.0, 1.0)


def note_request(request: HttpRequest | Request, key: ApiKey) -> None:
    """Mark a request (Django's or DRF's) as made with ``key``: the usage middleware logs it with its final
    status."""
    noted = getattr(request, REQUEST_ATTRIBUTE, None)
    if isinstance(noted, list) and key not in noted:
        noted.append(key)
