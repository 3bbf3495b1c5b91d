"""Where a webhook may go (SSRF): http or https, and - unless an administrator allowed private networks for
the subscription - only to public addresses. The host is resolved once per attempt and the connection goes to
an address that was checked (no second lookup an attacker's DNS could answer differently); redirects are never
followed (http.client does not follow them).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit


class TargetRefused(Exception):
    """The URL may not be called; ``code`` says why (bad_url, unresolvable, private_address)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent
    address: str  # the checked IP address to connect to


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local)


def resolve_target(url: str, *, allow_private: bool) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("bad_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise TargetRefused("bad_url")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused("unresolvable") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise TargetRefused("unresolvable")
    # Every address the name has must be allowed: otherwise a name with one public and one private address
    # would reach the private one by chance.
    if not allow_private and not all(is_public(address) for address in addresses):
        raise TargetRefused("private_address")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to the checked address, whatever the Host header names."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._target_address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._target_address, self.port), self.timeout)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target, timeout)
        self._tls = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self.host)


def post(target: Target, body: bytes, headers: dict[str, str], *, connect_timeout: float, read_timeout: float) -> int:
    """POST ``body``; returns the status code (a redirect is just a status). Raises OSError on network errors."""
    connection: _PinnedHTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(target, connect_timeout, ssl.create_default_context())
    else:
        connection = _PinnedHTTPConnection(target, connect_timeout)
    try:
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(read_timeout)
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)  # a little of the body, so the connection ends cleanly; never logged
        return int(response.status)
    finally:
        connection.close()
