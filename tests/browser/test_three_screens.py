"""A ticket travels between the operator console, the commander's map and the agency inbox, live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DemoServer, logged_in, screenshot

pytestmark = pytest.mark.browser
LIVE = 30_000  # milliseconds a screen may take to show what must appear (a failure bound, not a sleep)


def _open(browser: Browser, server: DemoServer, username: str, path: str) -> Page:
    _context, page = logged_in(browser, server, username)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}{path}")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


def test_a_ticket_travels_between_the_three_screens_live(demo_server: DemoServer, browser: Browser) -> None:
    operator = _open(browser, demo_server, "operator", "/console/")
    commander = _open(browser, demo_server, "commander", "/command/")
    agency = _open(browser, demo_server, "handler", "/inbox/")

    # The telephone system reports a call answered at the operator's extension: the number pops in.
    demo_server.manage("simulate_calls", "--extension", "8001", "--keep-open", "--phone", "13812341234")
    expect(operator.locator("#f-phone")).to_have_value(re.compile(r"13812341234"), timeout=LIVE)

    operator.select_option("#f-appeal-type", "complaint")
    operator.fill("#f-subject", "garbage-collection")
    operator.fill("#f-title", "文惠路垃圾未清运")
    operator.fill("#f-description", "小区门口垃圾堆放三天无人清运，气味很大。")
    operator.fill("#f-address", "柳州市城中区文惠路12号")
    operator.fill("#coords-q", "24.3126, 109.4112")
    operator.press("#coords-q", "Enter")
    expect(operator.locator("#proposal-lead")).to_contain_text("城中区城市管理局", timeout=LIVE)
    operator.click("#intake-submit")
    number_box = operator.locator("#ticket-number")
    expect(number_box).to_have_text(re.compile(r"12345-\d{8}-\d{6}"), timeout=LIVE)
    number = number_box.inner_text().strip()
    operator.click("#dispatch-submit")

    # The work order reaches the agency's inbox and the commander's map and feed without a reload.
    row = agency.locator("#inbox-rows li", has_text=number)
    expect(row).to_be_visible(timeout=LIVE)
    expect(commander.locator("#cmd-feed-list")).to_contain_text(number, timeout=LIVE)
    screenshot(commander, "command-after-dispatch")

    # The agency signs from its inbox; operator and commander see the new state live.
    row.click()
    agency.locator("#detail-actions button[data-action=sign]").click()
    agency.locator("#detail-form-host button[type=submit]").click()
    expect(agency.locator("#detail-state")).to_contain_text("办理中", timeout=LIVE)
    expect(operator.locator("#ticket-state")).to_contain_text("办理中", timeout=LIVE)
    expect(commander.locator("#cmd-feed-list li", has_text=number).first).to_contain_text("办理中", timeout=LIVE)

    for page, name in ((operator, "console"), (commander, "command"), (agency, "inbox")):
        screenshot(page, name)
        assert page.js_errors == []  # type: ignore[attr-defined]
