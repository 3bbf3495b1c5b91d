"""The commander turns a ticket into an incident on the live map, assigns the recommended fire engine
with one click and watches it drive to the scene: positions through the real AVL ingest, statuses
through the units API, every change reaching the open page over the socket (no reload). Incidents and
unit status changes also reach the map's live feed (a click opens the incident); unit moves do not."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as NotYet

from tests.browser.conftest import DemoServer, api_request, api_token, logged_in, screenshot

pytestmark = pytest.mark.browser
LIVE = 30_000  # milliseconds a screen may take to show what must appear (a failure bound, not a sleep)
DRIVE_DEADLINE_SECONDS = 90  # how long the simulated device may report before the unit must be at the scene
SCENE = (109.4120, 24.3380)  # lon, lat: 柳北区, about 2 km from the nearest fire station


def _api(server: DemoServer, method: str, path: str, token: str, body: Any = None) -> Any:
    return api_request(server, method, path, token, body, language="en")


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _report(server: DemoServer, gateway: str, fixes: list[dict[str, Any]]) -> dict[str, Any]:
    """One AVL report through the real ingest, as the AVL gateway account sends it (docs/AVL.md)."""
    result = _api(server, "POST", "/api/avl/positions/", gateway, {"positions": fixes})
    assert result["accepted"] == len(fixes), result
    return result  # type: ignore[no-any-return]


def _board_count(page: Page, unit_type: str, status: str) -> int:
    return int(page.locator(f"#emg-board td[data-type='{unit_type}'][data-status='{status}']").inner_text())


def _expect_board(page: Page, unit_type: str, status: str, count: int) -> None:
    expect(page.locator(f"#emg-board td[data-type='{unit_type}'][data-status='{status}']")).to_have_text(
        str(count), timeout=LIVE
    )


NEAR_JS = """([id, lon, lat, metres]) => {
  const node = document.querySelector(`.emg-unit[data-unit-id="${id}"]`);
  if (!node || !node.dataset.lat) return false;
  const north = (Number(node.dataset.lat) - lat) * 111320;
  const east = (Number(node.dataset.lon) - lon) * 111320 * Math.cos(lat * Math.PI / 180);
  return Math.hypot(north, east) < metres;
}"""


ON_TOP_JS = """([unitId, incidentId, pixels]) => {
  const unit = document.querySelector(`.emg-unit[data-unit-id="${unitId}"]`);
  const scene = document.querySelector(`.emg-incident[data-incident-id="${incidentId}"]`);
  if (!unit || !scene) return false;
  const a = unit.getBoundingClientRect();
  const b = scene.getBoundingClientRect();
  return Math.hypot(a.x + a.width / 2 - (b.x + b.width / 2), a.y + a.height / 2 - (b.y + b.height / 2)) < pixels;
}"""


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    north = (a[1] - b[1]) * 111320
    east = (a[0] - b[0]) * 111320 * math.cos(math.radians(b[1]))
    return math.hypot(north, east)


def test_commander_assigns_the_recommended_fire_engine_and_watches_it_arrive(
    demo_server: DemoServer, browser: Browser
) -> None:
    gateway = api_token(demo_server, "admin")  # the AVL gateway account of an integration
    operator = api_token(demo_server, "operator")
    crew = api_token(demo_server, "commander")  # the command desk presses the unit's status buttons for its crew

    # Every unit reports from its home station, so the map and the board start fresh.
    units = _api(demo_server, "GET", "/api/units/?limit=500", gateway)["results"]
    _report(
        demo_server,
        gateway,
        [
            {"device_id": u["device_id"], "lon": u["station"]["lon"], "lat": u["station"]["lat"], "time": _now_iso()}
            for u in units
            if u["device_id"]
        ],
    )
    on_map = sum(1 for u in units if u["device_id"])

    context, page = logged_in(browser, demo_server, "commander")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{demo_server.url}/command/", wait_until="domcontentloaded")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    expect(page.locator(".emg-unit[data-unit-id]")).to_have_count(on_map, timeout=LIVE)
    expect(page.locator("#emg-board td[data-type='all'][data-status='stale']")).to_have_text("0", timeout=LIVE)
    screenshot(page, "emergency-map")
    # The units layer toggles off and on.
    page.uncheck("#emg-l-units")
    expect(page.locator(".emg-unit[data-unit-id]")).to_have_count(0, timeout=LIVE)
    page.check("#emg-l-units")
    expect(page.locator(".emg-unit[data-unit-id]")).to_have_count(on_map, timeout=LIVE)
    available_before = _board_count(page, "fire_engine", "available")
    dispatched_before = _board_count(page, "fire_engine", "dispatched")
    on_scene_before = _board_count(page, "fire_engine", "on_scene")

    # A caller reports smoke from a building: the ticket reaches the commander's live feed.
    ticket = _api(
        demo_server,
        "POST",
        "/api/tickets/",
        operator,
        {
            "channel": "phone",
            "phone": "13912340119",
            "appeal_type": "complaint",
            "subject": "fire-hazard",
            "title": "柳北居民楼冒烟",
            "description": "居民楼四层窗口冒出浓烟，疑似起火。",
            "latitude": SCENE[1],
            "longitude": SCENE[0],
        },
    )
    feed_line = page.locator("#cmd-feed-list button", has_text=ticket["number"]).first
    expect(feed_line).to_be_visible(timeout=LIVE)
    feed_line.click()

    # Create the incident from the ticket's panel.
    page.locator("#emg-escalate").click()
    form = page.locator("#emg-escalate-form")
    form.locator("select[name=type]").select_option("fire")
    form.locator("select[name=level]").select_option("III")
    form.locator("input[name=area_radius_m]").fill("300")
    page.locator("#emg-escalate-submit").click()
    expect(page.locator("#emg-inc-state")).to_have_attribute("data-state", "reported", timeout=LIVE)
    incident_number = page.locator("#emg-inc-number").inner_text().strip()
    incident_row = page.locator("#emg-incident-list button", has_text=incident_number)
    expect(incident_row).to_be_visible(timeout=LIVE)
    incident_id = incident_row.get_attribute("data-incident-id")
    incident_marker = page.locator(f".emg-incident[data-incident-id='{incident_id}']")
    expect(incident_marker).to_be_visible(timeout=LIVE)

    # Link the fire service, the first suggested agency, with its task.
    page.locator("#emg-link").click()
    suggested = page.locator("#emg-link-form optgroup").first.locator("option").first
    expect(suggested).to_be_attached(timeout=LIVE)
    agency_id = suggested.get_attribute("value")
    page.locator("#emg-link-form select[name=agency_id]").select_option(agency_id)
    page.locator("#emg-link-form input[name=task]").fill("灭火救援，搜救被困人员")
    page.locator("#emg-link-form button[type=submit]").click()
    expect(page.locator(f"#emg-agencies li[data-agency-id='{agency_id}']")).to_have_attribute(
        "data-status", "notified", timeout=LIVE
    )

    # The CAP export link answers with a CAP 1.2 alert for this incident.
    cap_href = page.locator("a.emg-cap").get_attribute("href")
    cap = page.request.get(f"{demo_server.url}{cap_href}")
    assert cap.ok
    assert "urn:oasis:names:tc:emergency:cap:1.2" in cap.text()

    # The recommendation lists the nearest fresh fire engines; assign the first with one click.
    first_engine = page.locator("#emg-recs ul[data-type='fire_engine'] li.emg-rec").first
    expect(first_engine).to_be_visible(timeout=LIVE)
    unit_id = int(first_engine.get_attribute("data-unit-id") or "0")
    engine = next(u for u in units if u["id"] == unit_id)
    assert engine["unit_type"] == "fire_engine"
    nearest = min(
        (u for u in units if u["unit_type"] == "fire_engine" and u["status"] == "available" and u["device_id"]),
        key=lambda u: _metres((u["station"]["lon"], u["station"]["lat"]), SCENE),
    )
    assert unit_id == nearest["id"]  # the recommendation is the nearest available engine
    screenshot(page, "emergency-recommendation")
    first_engine.locator("button.emg-assign").click()

    marker = page.locator(f".emg-unit[data-unit-id='{unit_id}']")
    expect(page.locator(f"#emg-assigned li[data-unit-id='{unit_id}']")).to_be_visible(timeout=LIVE)
    expect(marker).to_have_attribute("data-status", "dispatched", timeout=LIVE)
    expect(page.locator("#emg-inc-state")).to_have_attribute("data-state", "dispatched", timeout=LIVE)
    _expect_board(page, "fire_engine", "available", available_before - 1)
    _expect_board(page, "fire_engine", "dispatched", dispatched_before + 1)

    # The crew sets off; its device reports positions approaching the scene until the map shows it there.
    _api(demo_server, "POST", f"/api/units/{unit_id}/transition/", crew, {"action": "en_route"})
    expect(marker).to_have_attribute("data-status", "en_route", timeout=LIVE)
    _expect_board(page, "fire_engine", "dispatched", dispatched_before)
    start = (engine["station"]["lon"], engine["station"]["lat"])
    start_box = marker.bounding_box()
    assert start_box is not None
    steps = 12
    route = [
        (start[0] + (SCENE[0] - start[0]) * i / steps, start[1] + (SCENE[1] - start[1]) * i / steps)
        for i in range(1, steps + 1)
    ]
    halfway_seen = False
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=DRIVE_DEADLINE_SECONDS)
    at_scene = False
    step = 0
    while not at_scene:
        assert dt.datetime.now(dt.UTC) < deadline, "the unit never reached the scene on the map"
        lon, lat = route[min(step, len(route) - 1)]
        step += 1
        _report(
            demo_server,
            gateway,
            [{"device_id": engine["device_id"], "lon": lon, "lat": lat, "time": _now_iso(), "speed": 12.0}],
        )
        if not halfway_seen:
            # The marker leaves the station: somewhere on the road, closer to the scene than the station was.
            try:
                page.wait_for_function(
                    NEAR_JS, arg=[unit_id, SCENE[0], SCENE[1], _metres(start, SCENE) * 0.8], timeout=1500
                )
                halfway_seen = True
                screenshot(page, "emergency-en-route")
            except NotYet:  # the device keeps reporting (unit.moved events coalesce per 5 s)
                continue
        try:
            page.wait_for_function(NEAR_JS, arg=[unit_id, SCENE[0], SCENE[1], 30], timeout=1500)
            at_scene = True
        except NotYet:  # not there on the map yet: the next report
            continue
    assert halfway_seen

    # On the rendered map the engine's marker now sits on the incident's marker (once any pan has settled).
    page.locator(f"#emg-assigned button[data-unit-id='{unit_id}']").click()  # centres the map on the unit
    expect(marker).to_be_in_viewport(timeout=LIVE)
    page.wait_for_function(ON_TOP_JS, arg=[unit_id, incident_id, 12], timeout=LIVE)

    # The crew reports on scene: marker, board, assignment, incident state and timeline follow live.
    _api(demo_server, "POST", f"/api/units/{unit_id}/transition/", crew, {"action": "arrive"})
    expect(marker).to_have_attribute("data-status", "on_scene", timeout=LIVE)
    expect(marker).to_have_class(re.compile(r"emg-status-on_scene"), timeout=LIVE)
    _expect_board(page, "fire_engine", "on_scene", on_scene_before + 1)
    expect(page.locator(f"#emg-assigned li[data-unit-id='{unit_id}']")).to_have_attribute(
        "data-status", "on_scene", timeout=LIVE
    )
    expect(page.locator("#emg-inc-state")).to_have_attribute("data-state", "on_scene", timeout=LIVE)
    expect(page.locator("#emg-timeline li[data-action='unit_arrive']")).to_have_count(1, timeout=LIVE)
    expect(page.locator("#emg-timeline li[data-action='unit_dispatch']")).to_have_count(1, timeout=LIVE)
    screenshot(page, "emergency-on-scene")
    assert errors == []
    context.close()


def test_an_operator_reports_a_new_incident_at_a_point_on_the_map(demo_server: DemoServer, browser: Browser) -> None:
    context, page = logged_in(browser, demo_server, "operator")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{demo_server.url}/command/", wait_until="domcontentloaded")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    expect(page.locator(".emg-incident[data-incident-id]").first).to_be_attached(timeout=LIVE)

    # "New incident" opens the form at the map's centre; a right-click on the map places it there instead.
    page.locator("#emg-new").click()
    form = page.locator("#emg-new-form")
    centre_lat = float(form.locator("input[name=latitude]").input_value())
    box = page.locator("#cmd-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] - 60, box["y"] + 60, button="right")
    expect(form.locator("input[name=latitude]")).not_to_have_value(str(centre_lat), timeout=LIVE)
    assert float(form.locator("input[name=latitude]").input_value()) > centre_lat  # north of the centre

    form.locator("select[name=type]").select_option("gas_leak")
    form.locator("input[name=title]").fill("地图选点上报的燃气泄漏")
    page.locator("#emg-new-submit").click()
    expect(page.locator("#emg-inc-state")).to_have_attribute("data-state", "reported", timeout=LIVE)
    expect(page.locator("#emg-incident-list button", has_text="地图选点上报的燃气泄漏")).to_be_visible(timeout=LIVE)
    # An operator reports; the command buttons and the assignment belong to the command desk.
    expect(page.locator("#emg-actions button")).to_have_count(0)
    expect(page.locator("#emg-recs")).to_be_hidden()
    screenshot(page, "emergency-operator-report")
    assert errors == []
    context.close()


def test_units_whose_positions_age_turn_grey_on_the_map_and_the_board(
    demo_server: DemoServer, browser: Browser
) -> None:
    gateway = api_token(demo_server, "admin")
    units = _api(demo_server, "GET", "/api/units/?limit=500", gateway)["results"]
    reporting = [u for u in units if u["device_id"]]
    _report(
        demo_server,
        gateway,
        [
            {"device_id": u["device_id"], "lon": u["station"]["lon"], "lat": u["station"]["lat"], "time": _now_iso()}
            for u in reporting
        ],
    )
    context, page = logged_in(browser, demo_server, "commander")
    page.clock.install()  # the page's own clock, so that it can be moved past the stale age
    page.goto(f"{demo_server.url}/command/", wait_until="domcontentloaded")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    expect(page.locator(".emg-unit[data-unit-id]")).to_have_count(len(reporting), timeout=LIVE)
    expect(page.locator(".emg-unit.emg-stale")).to_have_count(0)
    expect(page.locator("#emg-board td[data-type='all'][data-status='stale']")).to_have_text("0")

    # No device reports for three minutes (the stale age is two): every unit turns grey, the board counts them.
    page.clock.fast_forward("03:00")
    expect(page.locator(".emg-unit.emg-stale")).to_have_count(len(reporting), timeout=LIVE)
    expect(page.locator("#emg-board td[data-type='all'][data-status='stale']")).to_have_text(
        str(len(reporting)), timeout=LIVE
    )
    expect(page.locator("#emg-unit-list .emg-row-stale")).to_have_count(len(reporting), timeout=LIVE)
    screenshot(page, "emergency-stale")

    context.close()


def test_incident_and_unit_status_lines_reach_the_live_feed_but_unit_moves_do_not(
    demo_server: DemoServer, browser: Browser
) -> None:
    gateway = api_token(demo_server, "admin")
    operator = api_token(demo_server, "operator")
    commander = api_token(demo_server, "commander")
    units = _api(demo_server, "GET", "/api/units/?limit=500", gateway)["results"]
    ambulance = next(
        u for u in units if u["unit_type"] == "ambulance" and u["status"] == "available" and u["device_id"]
    )
    home = (ambulance["station"]["lon"], ambulance["station"]["lat"])
    _report(
        demo_server,
        gateway,
        [{"device_id": ambulance["device_id"], "lon": home[0], "lat": home[1], "time": _now_iso()}],
    )

    context, page = logged_in(browser, demo_server, "commander")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{demo_server.url}/command/", wait_until="domcontentloaded")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    marker = page.locator(f".emg-unit[data-unit-id='{ambulance['id']}']")
    expect(marker).to_be_attached(timeout=LIVE)

    # An operator reports an incident through the API: its line reaches the open map's feed, once.
    incident = _api(
        demo_server,
        "POST",
        "/api/incidents/",
        operator,
        {
            "type": "traffic_accident",
            "level": "IV",
            "title": "实时动态测试：两车追尾",
            "latitude": home[1] + 0.004,
            "longitude": home[0],
            "coordinate_system": "wgs84",
            "area_kind": "point",
        },
    )
    incident_lines = page.locator("#cmd-feed-list li.emg-feed-incident", has_text=incident["number"])
    expect(incident_lines).to_have_count(1, timeout=LIVE)
    expect(incident_lines.first).to_contain_text("实时动态测试：两车追尾")
    screenshot(page, "emergency-feed")
    # A click on the line opens the incident's panel, as a ticket's line opens the ticket.
    incident_lines.first.locator("button").click()
    expect(page.locator("#emg-inc-number")).to_have_text(incident["number"], timeout=LIVE)
    expect(page.locator("#emg-inc-state")).to_have_attribute("data-state", "reported", timeout=LIVE)
    page.locator("#cmd-details .cmd-details-actions button").last.click()  # close the panel
    expect(page.locator("#emg-inc-number")).to_have_count(0, timeout=LIVE)

    # The command desk assigns the ambulance: one status line naming the unit, which opens the incident too.
    _api(demo_server, "POST", f"/api/incidents/{incident['id']}/assign/", commander, {"unit_ids": [ambulance["id"]]})
    unit_lines = page.locator("#cmd-feed-list li", has_text=ambulance["call_sign"])
    expect(unit_lines).to_have_count(1, timeout=LIVE)
    expect(unit_lines.first).to_have_class(re.compile(r"emg-feed-unit"))
    expect(incident_lines.first).to_be_visible()
    unit_lines.first.locator("button").click()
    expect(page.locator("#emg-inc-number")).to_have_text(incident["number"], timeout=LIVE)

    # The device reports the ambulance driving north until the map shows it there (unit.moved events applied).
    target = (home[0], home[1] + 0.003)
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=DRIVE_DEADLINE_SECONDS)
    steps = 6
    step = 0
    while True:
        assert dt.datetime.now(dt.UTC) < deadline, "the unit never moved on the map"
        step += 1
        lat = home[1] + (target[1] - home[1]) * min(step, steps) / steps
        _report(
            demo_server,
            gateway,
            [{"device_id": ambulance["device_id"], "lon": home[0], "lat": lat, "time": _now_iso(), "speed": 10.0}],
        )
        try:
            page.wait_for_function(NEAR_JS, arg=[ambulance["id"], target[0], target[1], 30], timeout=1500)
            break
        except NotYet:  # unit.moved events coalesce per 5 s: the next report
            continue
    # The crew sets off: the status line that follows the moves is the only new line naming the unit, so the
    # moves (applied before it, in event order) added none.
    _api(demo_server, "POST", f"/api/units/{ambulance['id']}/transition/", commander, {"action": "en_route"})
    expect(marker).to_have_attribute("data-status", "en_route", timeout=LIVE)
    expect(unit_lines).to_have_count(2, timeout=LIVE)
    expect(unit_lines.first).to_have_class(re.compile(r"emg-feed-unit"))
    screenshot(page, "emergency-feed-units")

    # Leave the ambulance available again for the screens that come after.
    for action in ("clear", "make_available"):
        _api(demo_server, "POST", f"/api/units/{ambulance['id']}/transition/", commander, {"action": action})
    expect(marker).to_have_attribute("data-status", "available", timeout=LIVE)
    assert errors == []
    context.close()
