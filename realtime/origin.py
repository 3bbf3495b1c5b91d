"""Which web pages may open a socket: the Origin header is compared by scheme, host and port.

Channels' AllowedHostsOriginValidator compares the host only, so a page on ``http://localhost:3000`` could open
a socket to the server on ``http://localhost:8000`` with the user's cookies. Here a socket is accepted only when
its Origin is

- one of the configured origins (settings.HOTLINE["SOCKET_ORIGINS"], from CSRF_TRUSTED_ORIGINS and the
  ALLOWED_HOSTS on their default ports: config/security.py), or
- the socket's own origin: the scheme it was opened with and its Host header, for a host in ALLOWED_HOSTS
  (the same rule as Django's CSRF check for forms).

A handshake without an Origin header (browsers always send one) is refused too. Refused handshakes are closed
before they are accepted, which the server answers with HTTP 403.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from core.origins import normalise_origin


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin1")
    return ""


def _own_origin(scope: dict[str, Any]) -> str:
    host = _header(scope, b"host")
    if not host:
        return ""
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return ""
    secure = scope.get("scheme") in ("wss", "https")
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        # Behind the TLS proxy the scheme is the one the proxy says the browser used (it sets the header).
        name, value = proxy_header
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        forwarded = _header(scope, header).split(",")[0].strip()
        secure = secure or forwarded == value
    return normalise_origin(f"{'https' if secure else 'http'}://{host}")


def origin_allowed(scope: dict[str, Any]) -> bool:
    origin = normalise_origin(_header(scope, b"origin"))
    if not origin:
        return False
    if origin in settings.HOTLINE["SOCKET_ORIGINS"]:
        return True
    return origin == _own_origin(scope)


class OriginCheck:
    """ASGI middleware in front of the socket routes: refuses a handshake from any other origin."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
            return None
        return await self.application(scope, receive, send)
