"""Security settings derived from other settings (imported by config/settings.py; nothing here reads Django's
settings object): the Content-Security-Policy's sources and the origins a browser socket may come from."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from core.origins import normalise_origin

SELF = "'self'"
NONE = "'none'"


def tile_sources(map_tiles: dict[str, Any]) -> list[str]:
    """The scheme://host[:port] of every tile server of the base map (HOTLINE_MAP_TILES), one per subdomain."""
    sources: list[str] = []
    for layer in map_tiles.get("layers", ()):
        template = str(layer.get("url", ""))
        for subdomain in layer.get("subdomains") or [""]:
            parts = urlsplit(template.replace("{s}", str(subdomain)))
            if parts.scheme in ("http", "https") and parts.netloc:
                source = f"{parts.scheme}://{parts.netloc}"
                if source not in sources:
                    sources.append(source)
    return sources


def content_security_policy(map_tiles: dict[str, Any]) -> dict[str, Any]:
    """django-csp's CONTENT_SECURITY_POLICY: only the site's own scripts and style sheets (no inline script,
    style element or style attribute), images from the site, data: URLs (Leaflet, Swagger UI) and the base map's
    tile servers, sockets and fetches to the site itself, and no framing."""
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF],
            "style-src": [SELF],
            "img-src": [SELF, "data:", *tile_sources(map_tiles)],
            "font-src": [SELF, "data:"],
            "connect-src": [SELF],
            "object-src": [NONE],
            "base-uri": [SELF],
            "form-action": [SELF],
            "frame-ancestors": [NONE],
        }
    }


def socket_origins(csrf_trusted_origins: list[str], allowed_hosts: list[str], *, secure_only: bool) -> list[str]:
    """The exact origins (scheme://host[:port]) a browser socket may come from: the CSRF-trusted origins, and for
    each allowed host without a wildcard its default-port origins (https only when ``secure_only``)."""
    origins: list[str] = []

    def add(origin: str) -> None:
        normalised = normalise_origin(origin)
        if normalised and normalised not in origins:
            origins.append(normalised)

    for origin in csrf_trusted_origins:
        if "*" not in origin:
            add(origin)
    for host in allowed_hosts:
        if host and "*" not in host and not host.startswith("."):
            add(f"https://{host}")
            if not secure_only:
                add(f"http://{host}")
    return origins
