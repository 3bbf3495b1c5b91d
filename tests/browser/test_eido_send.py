"""The commander sends an incident to a partner centre from the command map's incident panel: the panel lists the
configured partner centres, the incident's NENA EIDO is queued in the outbox for the one chosen, and the panel
says so (issue #19, item 7)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import (
    DemoServer,
    api_request,
    api_token,
    free_port,
    logged_in,
    screenshot,
    server_beside,
)

pytestmark = pytest.mark.browser
LIVE = 30_000  # milliseconds a screen may take to show what must appear (a failure bound, not a sleep)
SCENE = (109.4150, 24.3300)  # lon, lat: central Liuzhou

DELIVERIES = """
import json
from exchange.models import Delivery
rows = Delivery.objects.filter(kind="eido", body__contains=NUMBER).values_list("destination", "event_type")
print(json.dumps(sorted(rows)))
"""


@pytest.fixture(scope="module")
def partner_server(demo_server: DemoServer) -> Iterator[DemoServer]:
    """A second server of the same demo city (same database) with two partner centres configured; nothing listens
    at their addresses, and no outbox worker runs here, so a queued EIDO stays queued."""
    nothing_there = free_port()
    partners = {
        "fire119": {"name": "119指挥中心", "url": f"http://127.0.0.1:{nothing_there}/eido"},
        "rescue120": {"name": "120急救中心", "url": f"http://127.0.0.1:{nothing_there}/eido"},
    }
    settings = {
        "HOTLINE_EIDO_PARTNERS": json.dumps(partners, ensure_ascii=False),
    }
    with server_beside(demo_server, settings) as server:
        yield server


def _api(server: DemoServer, method: str, path: str, token: str, body: Any = None) -> Any:
    return api_request(server, method, path, token, body, language="en")


def test_commander_sends_the_incident_to_a_partner_centre(partner_server: DemoServer, browser: Browser) -> None:
    commander = api_token(partner_server, "commander")
    incident = _api(
        partner_server,
        "POST",
        "/api/incidents/",
        commander,
        {
            "type": "fire",
            "level": "III",
            "title": "协同测试：商场起火",
            "latitude": SCENE[1],
            "longitude": SCENE[0],
            "coordinate_system": "wgs84",
        },
    )
    context, page = logged_in(browser, partner_server, "commander")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{partner_server.url}/command/", wait_until="domcontentloaded")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
        page.locator(f"#emg-incident-list button[data-incident-id='{incident['id']}']").click()
        expect(page.locator("#emg-inc-number")).to_have_text(incident["number"], timeout=LIVE)
        partner = page.locator("#emg-send-partner")
        expect(partner.locator("option")).to_have_text(["119指挥中心", "120急救中心"], timeout=LIVE)
        partner.select_option("rescue120")
        page.locator("#emg-send-submit").click()

        status = page.locator("#emg-send-status")
        expect(status).to_have_attribute("data-state", "pending", timeout=LIVE)
        expect(status).to_contain_text("120急救中心")
        expect(page.locator("#emg-timeline li[data-action='send_eido']")).to_have_count(1, timeout=LIVE)
        screenshot(page, "emergency-eido-send")
        code = DELIVERIES.replace("NUMBER", json.dumps(incident["number"]))
        queued = json.loads(partner_server.manage("shell", "-c", code).strip().splitlines()[-1])
        assert queued == [["rescue120", "incident.eido"]]
        assert errors == []
    finally:
        context.close()
        _api(partner_server, "POST", f"/api/incidents/{incident['id']}/cancel/", commander, {"note": "测试结束"})
