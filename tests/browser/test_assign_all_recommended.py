""" "一键调派全部推荐" (assign all recommended) on the command map sends every unit the panel recommends, of
every needed type, not only each type's first (issue #17: it sent 3 of the 9 it listed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import DemoServer, api_request, screenshot
from tests.browser.two_factor import api_token, log_in

pytestmark = pytest.mark.browser
LIVE = 30_000  # milliseconds a screen may take to show what must appear (a failure bound, not a sleep)
SCENE = (109.4300, 24.3300)  # lon, lat: central Liuzhou, with fire engines, ambulances and police cars around


def _api(server: DemoServer, method: str, path: str, token: str, body: Any = None) -> Any:
    return api_request(server, method, path, token, body, language="en")


def test_assign_all_recommended_sends_every_listed_unit(demo_server: DemoServer, browser: Browser) -> None:
    gateway = api_token(demo_server, "admin")
    commander = api_token(demo_server, "commander")
    # Every unit reports from its home station now, so that recommendations (fresh positions only) list them.
    units = _api(demo_server, "GET", "/api/units/?limit=500", gateway)["results"]
    now = dt.datetime.now(dt.UTC).isoformat()
    fixes = [
        {"device_id": u["device_id"], "lon": u["station"]["lon"], "lat": u["station"]["lat"], "time": now}
        for u in units
        if u["device_id"]
    ]
    assert _api(demo_server, "POST", "/api/avl/positions/", gateway, {"positions": fixes})["accepted"] == len(fixes)
    incident = _api(
        demo_server,
        "POST",
        "/api/incidents/",
        commander,
        {
            "type": "fire",
            "level": "III",
            "title": "一键调派测试：仓库起火",
            "latitude": SCENE[1],
            "longitude": SCENE[0],
            "coordinate_system": "wgs84",
            "area_kind": "point",
        },
    )
    recommended = _api(demo_server, "GET", f"/api/incidents/{incident['id']}/recommendations/?per_type=3", commander)
    listed = {row["unit"]["id"] for rows in recommended["recommendations"].values() for row in rows}
    # Several types, several units of some type: the old button sent only each type's first.
    assert len(recommended["types"]) > 1 and len(listed) > len(recommended["types"])

    context, page = log_in(browser, demo_server, "commander")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{demo_server.url}/command/", wait_until="domcontentloaded")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
        page.locator(f"#emg-incident-list button[data-incident-id='{incident['id']}']").click()
        expect(page.locator("#emg-inc-number")).to_have_text(incident["number"], timeout=LIVE)
        expect(page.locator("#emg-recs li.emg-rec")).to_have_count(len(listed), timeout=LIVE)
        shown = {int(i) for i in page.locator("#emg-recs li.emg-rec").evaluate_all("n => n.map(x => x.dataset.unitId)")}
        assert shown == listed
        expect(page.locator("#emg-assign-all")).to_be_enabled(timeout=LIVE)
        page.locator("#emg-assign-all").click()

        expect(page.locator("#emg-assigned li[data-unit-id]")).to_have_count(len(listed), timeout=LIVE)
        assigned = {
            int(i)
            for i in page.locator("#emg-assigned li[data-unit-id]").evaluate_all("n => n.map(x => x.dataset.unitId)")
        }
        assert assigned == listed
        expect(page.locator("#emg-inc-state")).to_have_attribute("data-state", "dispatched", timeout=LIVE)
        screenshot(page, "emergency-assign-all")
        rows = _api(demo_server, "GET", f"/api/incidents/{incident['id']}/assignments/", commander)["assignments"]
        assert {row["unit"] for row in rows} == listed
        assert errors == []
    finally:
        context.close()
        # Leave the units available and the incident cancelled for the screens that come after.
        for unit_id in listed:
            status = _api(demo_server, "GET", f"/api/units/{unit_id}/", commander)["status"]
            if status != "available":
                for action in ("clear", "make_available"):
                    _api(demo_server, "POST", f"/api/units/{unit_id}/transition/", commander, {"action": action})
        _api(demo_server, "POST", f"/api/incidents/{incident['id']}/cancel/", commander, {"note": "测试结束"})
