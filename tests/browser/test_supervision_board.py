"""The e-supervision board in Chromium: KPIs with drill-down, and a red card that arrives live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import DemoServer, logged_in, screenshot
from tests.pinned_time import DEMO_NOW

pytestmark = pytest.mark.browser
LIVE = 30_000  # milliseconds a screen may take to show what must appear (a failure bound, not a sleep)

# Fires, in the demo server's database, every timer due within 40 days of the demo's now: the open work orders'
# clocks run out and the escalation ladder reaches red cards through its real firing path.
FIRE_AHEAD = (
    "import datetime as dt; from dispatch.deadlines.escalations import fire_due_timers; "
    f"print(len(fire_due_timers(now=dt.datetime.fromisoformat('{DEMO_NOW.isoformat()}') + dt.timedelta(days=40))"
    ".escalation_ids))"
)


def test_board_shows_kpis_drilldown_and_a_live_red_card(demo_server: DemoServer, browser: Browser) -> None:
    _context, page = logged_in(browser, demo_server, "supervisor")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The supervisor looks at the board at the demo's now (its default period ends "tomorrow" by the browser's
    # date); only Date is fixed, the page's timers keep running.
    page.clock.set_fixed_time(DEMO_NOW)
    page.goto(f"{demo_server.url}/supervision/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)

    # The KPI table for the last 30 days: the demo city's agencies with their numbers.
    volume = page.locator("#sv-kpi-body button.sv-num[data-metric=volume]").first
    expect(volume).to_be_visible(timeout=LIVE)
    expect(page.locator("#sv-trend svg")).to_be_visible()
    expect(page.locator("#sv-ranking svg")).to_be_visible()

    # A number opens exactly its tickets.
    count = int(volume.inner_text())
    volume.click()
    drill = page.locator("#sv-drill")
    expect(drill).to_be_visible()
    expect(page.locator("#sv-drill-body tr")).to_have_count(count, timeout=LIVE)
    first_link = page.locator("#sv-drill-body tr a").first
    expect(first_link).to_have_attribute("href", re.compile(r"^/tickets/id/\d+/$"))
    # The link opens the ticket page (its actions are there), not raw API JSON.
    opened = page.request.get(demo_server.url + (first_link.get_attribute("href") or ""))
    assert opened.ok and "text/html" in opened.headers["content-type"]
    screenshot(page, "supervision-drilldown")
    page.click("#sv-drill-close")
    expect(drill).to_be_hidden()

    # Deadlines pass while the board is open: red cards arrive without a reload.
    before = page.locator("#sv-red li").count()
    fired = int(demo_server.manage("shell", "-c", FIRE_AHEAD).strip().splitlines()[-1])
    assert fired > 0
    expect(page.locator("#sv-red li.arrived").first).to_be_visible(timeout=LIVE)
    assert page.locator("#sv-red li").count() > before
    expect(page.locator("#sv-red-count")).not_to_have_text(str(before))
    expect(page.locator("#sv-matrix .red").first).to_be_visible()
    screenshot(page, "supervision-board")
    assert errors == []


def test_board_refuses_an_agency_user(demo_server: DemoServer, browser: Browser) -> None:
    _context, page = logged_in(browser, demo_server, "handler")
    response = page.goto(f"{demo_server.url}/supervision/")
    assert response is not None and response.status == 403
