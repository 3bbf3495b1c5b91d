"""The operator console in a browser set to another time zone, and a new matter after a knowledge search."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.browser.conftest import PASSWORD, DemoServer, logged_in, screenshot


def _console(browser: Browser, server: DemoServer, timezone_id: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", timezone_id=timezone_id)
    page = context.new_page()
    page.goto(f"{server.url}/accounts/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    page.goto(f"{server.url}/console/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    return context, page


def test_console_times_are_the_citys_whatever_the_browsers_zone(demo_server: DemoServer, browser: Browser) -> None:
    context, page = _console(browser, demo_server, "America/New_York")
    try:
        # 23:29 UTC on 6 December is 07:29 on 7 December in Shanghai, and 18:29 on 6 December in New York.
        shown = page.evaluate(
            "async () => { const m = await import('/static/callcenter/console/helpers.js');"
            " return [m.shortTime('2026-12-06T23:29:00Z'), m.localDay(new Date('2026-12-06T23:29:00Z'))]; }"
        )
        assert shown[1] == "2026-12-07"
        assert shown[0].endswith("07:29") and "18:29" not in shown[0]
    finally:
        context.close()


def test_a_new_matter_does_not_keep_the_previous_callers_articles(demo_server: DemoServer, browser: Browser) -> None:
    context, page = _console(browser, demo_server, "Asia/Shanghai")
    try:
        page.fill("#kb-q", "路灯")
        page.click("#kb-form button[type=submit]")
        expect(page.locator("#kb-results li").first).to_be_visible()
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#intake-reset")
        expect(page.locator("#kb-results li")).to_have_count(0)
        expect(page.locator("#kb-q")).to_have_value("")
        screenshot(page, "console-new-matter")
    finally:
        context.close()


def test_possible_duplicates_show_while_the_ticket_is_typed(demo_server: DemoServer, browser: Browser) -> None:
    context, page = _console(browser, demo_server, "Asia/Shanghai")
    try:
        # A first caller reports a lamp; the ticket is accepted.
        page.fill("#f-phone", "13700001234")
        page.select_option("#f-appeal-type", "complaint")
        page.fill("#f-subject", "street-light-fault")
        page.fill("#f-description", "路灯不亮，晚上很黑。")
        page.fill("#coords-q", "24.3200, 109.4200")
        page.press("#coords-q", "Enter")
        expect(page.locator("#proposal-lead")).not_to_be_empty()
        page.click("#intake-submit")
        number = page.locator("#ticket-number")
        expect(number).to_have_text(re.compile(r"12345-\d{8}-\d{6}"))
        first = number.inner_text().strip()
        # A second caller about the same lamp: before anything is accepted, the first ticket is offered.
        page.click("#intake-reset")
        page.fill("#f-phone", "13700005678")
        page.fill("#f-subject", "street-light-fault")
        page.fill("#coords-q", "24.32005, 109.42005")
        page.press("#coords-q", "Enter")
        box = page.locator("#draft-duplicates")
        expect(box.locator("a", has_text=first)).to_be_visible()
        screenshot(page, "console-draft-duplicates")
    finally:
        context.close()


def test_command_map_times_are_the_citys_whatever_the_browsers_zone(demo_server: DemoServer, browser: Browser) -> None:
    # The commander's session (password and one-time code), in a browser in New York.
    first, _page = logged_in(browser, demo_server, "commander")
    state = first.storage_state()
    first.close()
    context = browser.new_context(
        storage_state=state, viewport={"width": 1366, "height": 768}, locale="zh-CN", timezone_id="America/New_York"
    )
    page = context.new_page()
    try:
        page.goto(f"{demo_server.url}/command/")
        shown = page.evaluate(
            "async () => { const m = await import('/static/emergency/command/helpers.js');"
            " return m.formatTime('2026-12-06T23:29:00Z'); }"
        )
        assert shown == "07:29:00"
    finally:
        context.close()
