"""Every page is served with a Content-Security-Policy, and none needs inline script or style to work under it."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from config.security import content_security_policy, tile_sources
from config.settings import map_tiles
from tests.conftest import World, ticket_payload
from tests.second_factor import verified_login

#: Paths that are not pages (APIs, files, redirects): left out of the walk over the URL configuration.
NOT_PAGES = ("api/", "open311/", "jsi18n/", "i18n/", "accounts/logout/", "static/", "health/", "metrics")
#: Pages under a prefix the walk does not enter.
MORE_PAGES = ["/admin/", "/admin/organisation/user/", "/admin/organisation/user/add/", "/api/docs/"]


class InlineFinder(HTMLParser):
    """Collects what a strict CSP blocks: inline scripts, event-handler attributes, style elements and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, _value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style":
                self.found.append(f"<{tag} style=...>")
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self._in_script = True
        if tag == "a" and (names.get("href") or "").strip().lower().startswith("javascript:"):
            self.found.append("javascript: link")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:60]}")


def inline_code(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


def page_paths() -> list[str]:
    """Every route of the URL configuration without parameters that is a page, plus a few inside prefixes."""
    paths: list[str] = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if "<" in route or "^" in route or route.startswith(NOT_PAGES) or route.startswith("admin/"):
                continue
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif f"/{route}" not in paths:
                paths.append(f"/{route}")

    walk(get_resolver().url_patterns, "")
    return paths + MORE_PAGES


def test_the_finder_sees_what_the_policy_would_block() -> None:
    html = '<div style="x"><button onclick="go()">a</button><script>alert(1)</script><style>p{}</style></div>'
    assert len(inline_code(html)) == 4
    assert inline_code('<script src="/static/a.js"></script><script type="application/json">{}</script>') == []


def test_every_page_has_no_inline_script_or_style_and_sends_the_policy(world: World) -> None:
    number = world.client("operator").post("/api/tickets/", ticket_payload(), format="json").json()["number"]
    paths = [*page_paths(), f"/tickets/{number}/", "/no-such-page/"]
    assert {"/", "/accounts/login/", "/console/", "/command/", "/inbox/", "/work/", "/supervision/"} <= set(paths)
    clients = [Client(), *(verified_login(Client(), user) for user in world.users.values())]
    served: dict[str, int] = {}
    for path in paths:
        for client in clients:
            response = client.get(path)
            if response.status_code not in (200, 404) or "text/html" not in response.get("Content-Type", ""):
                continue
            policy = response.get("Content-Security-Policy", "")
            assert "script-src 'self'" in policy and "style-src 'self'" in policy, path
            assert "unsafe-inline" not in policy
            assert inline_code(response.content.decode()) == [], path
            served[path] = served.get(path, 0) + 1
    missing = [p for p in paths if p not in served]
    assert missing == [], f"no user could open {missing}"


def test_the_error_page_has_no_inline_style() -> None:
    assert inline_code(render_to_string("500.html")) == []


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("osm", ["https://tile.openstreetmap.org"]),
        ("amap", [f"https://webrd0{n}.is.autonavi.com" for n in "1234"]),
        ("", []),
    ],
)
def test_the_policy_allows_the_tile_servers_of_the_chosen_base_map(preset: str, expected: list[str]) -> None:
    tiles = map_tiles({"HOTLINE_MAP_TILES": preset})
    assert tile_sources(tiles) == expected
    img = content_security_policy(tiles)["DIRECTIVES"]["img-src"]
    assert img == ["'self'", "data:", *expected]


def test_a_custom_tile_server_with_a_port_is_allowed_exactly() -> None:
    tiles = map_tiles(
        {"HOTLINE_MAP_TILES": "custom", "HOTLINE_MAP_TILE_URL": "http://{s}.tiles.example.org:8080/{z}/{x}/{y}.png"}
    )
    assert tile_sources(tiles) == [f"http://{s}.tiles.example.org:8080" for s in "abc"]


def test_the_served_policy_follows_the_setting(client: Client, settings: object) -> None:
    response = client.get("/accounts/login/")
    assert "img-src 'self' data:" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_the_api_docs_start_up_script_is_a_file_of_its_own(world: World) -> None:
    client = verified_login(Client(), world.users["operator"])
    page = client.get("/api/docs/").content.decode()
    assert '<script src="/api/docs/?script=' in page
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
