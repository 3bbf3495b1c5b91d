"""The operator console with two cities: a pin in the second city is routed to its agencies, a pin outside every
city's service area shows a warning and no proposed agency."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import PASSWORD, DemoServer, screenshot


def test_console_warns_of_a_pin_outside_every_service_area(demo_server: DemoServer, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{demo_server.url}/accounts/login/")
        page.fill("#id_username", "operator")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{demo_server.url}/")
        page.goto(f"{demo_server.url}/console/")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
        page.fill("#f-subject", "garbage-collection")
        # Central Guilin, the demo's second city: routed to a Guilin agency.
        page.fill("#coords-q", "25.2800, 110.2900")
        page.press("#coords-q", "Enter")
        expect(page.locator("#proposal-lead")).to_contain_text("秀峰区")
        warning = page.locator("#boundary-warning")
        expect(warning).to_be_hidden()
        # Beijing: outside both cities. A warning, and no agency proposed.
        page.fill("#coords-q", "39.9100, 116.3900")
        page.press("#coords-q", "Enter")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("不在任何服务范围内")
        expect(page.locator("#proposal-lead")).to_contain_text("未找到")
        expect(page.locator("#proposal-reasons")).not_to_contain_text("outside_service_area")
        screenshot(page, "console-outside-service-area")
    finally:
        context.close()
