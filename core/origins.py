"""Web origins (scheme, host and port) written one way, so that two of them compare equal only when they are the
same origin (used for the socket Origin check, realtime/origin.py, and its settings, config/security.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(origin: str) -> str:
    """``scheme://host:port`` in lower case with the port always written out; "" for anything not an origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.query:
        return ""
    if parts.username is not None or parts.password is not None:
        return ""
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or DEFAULT_PORTS[scheme]}"
