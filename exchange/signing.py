"""Webhook signatures: HMAC-SHA256 over ``<unix timestamp>.<body>``, one ``v1=`` per valid secret.

Header: ``X-Hotline-Signature: t=<unix>,v1=<hex>[,v1=<hex>]``. The receiver's recipe is in docs/EVENTS.md;
``verify`` below is that recipe in Python.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

#: Receivers refuse a signature whose timestamp is further than this from their clock (replay window).
REPLAY_WINDOW_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    parts = [f"t={timestamp}"] + [f"v1={signature(secret, timestamp, body)}" for secret in secrets if secret]
    return ",".join(parts)


def verify(header: str, body: bytes, secret: str, *, now: int, window: int = REPLAY_WINDOW_SECONDS) -> bool:
    """True when ``header`` carries a v1 signature of ``body`` by ``secret`` with a timestamp inside the window."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > window:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
