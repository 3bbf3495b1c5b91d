"""The screens work under the Content-Security-Policy in real Chromium: no script, style or image is refused on
any of them, and the language switch (a handler in a static file now, not an inline one) still switches."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.browser.conftest import DemoServer
from tests.browser.two_factor import log_in

pytestmark = pytest.mark.browser
LIVE = 30_000  # milliseconds a screen may take to settle (a failure bound, not a sleep)

#: (demo user, page) for every screen and the admin; the screens show a live badge once their socket is live.
#: Each user logs in at most twice in the module: a one-time code is accepted once (the device takes the next one).
PAGES = [
    ("operator", "/console/"),
    ("commander", "/command/"),
    ("handler", "/inbox/"),
    ("supervisor", "/supervision/"),
    ("dispatcher", "/work/"),
    ("auditor", "/audit/"),
    ("admin", "/admin/organisation/user/add/"),
    ("agencyadmin", "/api/docs/"),
]


def _watch(page: Page) -> list[str]:
    refused: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            where = message.location
            refused.append(f"{message.text[:90]} at {where.get('url')}:{where.get('lineNumber')}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: refused.append(f"page error: {error}"))
    return refused


@pytest.mark.parametrize(("username", "path"), PAGES, ids=[p for _u, p in PAGES])
def test_nothing_is_refused_by_the_policy(browser: Browser, demo_server: DemoServer, username: str, path: str) -> None:
    context, page = log_in(browser, demo_server, username)
    try:
        refused = _watch(page)
        response = page.goto(f"{demo_server.url}{path}")
        assert response is not None and response.ok
        assert "script-src 'self'" in (response.header_value("content-security-policy") or "")
        if page.locator("#live-state").count() and page.locator("#live-state").is_visible():
            expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
        if path == "/api/docs/":
            expect(page.locator(".swagger-ui .info")).to_be_visible(timeout=LIVE)
        page.wait_for_load_state("load")
        assert refused == []
    finally:
        context.close()


def test_the_language_switch_submits_itself(browser: Browser, demo_server: DemoServer) -> None:
    context, page = log_in(browser, demo_server, "operator")
    try:
        refused = _watch(page)
        page.goto(f"{demo_server.url}/")
        switch = page.locator("select[name=language]")
        target = "zh-hans" if page.locator("html").get_attribute("lang") == "en" else "en"
        switch.select_option(target)
        expect(page.locator("html")).to_have_attribute("lang", target, timeout=LIVE)
        assert refused == []
    finally:
        context.close()
