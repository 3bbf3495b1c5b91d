"""The base map in a real browser: a unit standing on a ticket's spot never takes the ticket's click on the
command map; and on GCJ-02 tiles (a second server of the same demo city configured with
HOTLINE_MAP_TILE_COORDINATE_SYSTEM=gcj02 and tiles on a port where nothing listens) every marker is drawn
at the GCJ-02 shift of its WGS84 point, a click on the console map puts the pin back on the WGS84 point,
and tiles that fail to load leave the screens working."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from gis.coords import gcj02_to_wgs84, wgs84_to_gcj02
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
SPOT = (109.4021, 24.3262)  # lon, lat in 城中区 (WGS84): a ticket and a unit on exactly the same point
GCJ_TICKET = (109.4180, 24.3050)  # lon, lat (WGS84) of the ticket checked on GCJ-02 tiles


def _api(server: DemoServer, method: str, path: str, token: str, body: Any = None) -> Any:
    return api_request(server, method, path, token, body, language="en")


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    north = (a[1] - b[1]) * 111_320
    east = (a[0] - b[0]) * 111_320 * math.cos(math.radians(b[1]))
    return math.hypot(north, east)


def _gcj(lon: float, lat: float) -> tuple[float, float]:
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    return float(gcj_lon), float(gcj_lat)


def _ticket_at(server: DemoServer, lon: float, lat: float, title: str) -> dict[str, Any]:
    return _api(  # type: ignore[no-any-return]
        server,
        "POST",
        "/api/tickets/",
        api_token(server, "operator"),
        {
            "channel": "phone",
            "phone": "13912345678",
            "appeal_type": "complaint",
            "subject": "garbage-collection",
            "title": title,
            "description": "路边垃圾堆放多日无人清运。",
            "latitude": lat,
            "longitude": lon,
        },
    )


def _place_unit(server: DemoServer, lon: float, lat: float) -> dict[str, Any]:
    """A repair crew reporting from (lon, lat) through the real AVL ingest; returns the unit."""
    gateway = api_token(server, "admin")
    units = _api(server, "GET", "/api/units/?limit=500", gateway)["results"]
    unit = next(u for u in units if u["unit_type"] == "repair_crew" and u["device_id"])
    fix = {"device_id": unit["device_id"], "lon": lon, "lat": lat, "time": _now_iso()}
    assert _api(server, "POST", "/api/avl/positions/", gateway, {"positions": [fix]})["accepted"] == 1
    return unit  # type: ignore[no-any-return]


def _send_home(server: DemoServer, unit: dict[str, Any]) -> None:
    station = unit["station"]
    fix = {"device_id": unit["device_id"], "lon": station["lon"], "lat": station["lat"], "time": _now_iso()}
    _api(server, "POST", "/api/avl/positions/", api_token(server, "admin"), {"positions": [fix]})


COMMAND_MODULES_JS = """async () => {
  window.__cmd = {
    state: await import('/static/emergency/command/state.js'),
    markers: await import('/static/emergency/command/markers.js'),
  };
}"""


def _open_command_map(page: Page, server: DemoServer, ticket_id: int) -> None:
    """The command map with its tickets loaded (the first fit done), the modules on window.__cmd for the test."""
    page.goto(f"{server.url}/command/", wait_until="domcontentloaded")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    page.evaluate(COMMAND_MODULES_JS)
    page.wait_for_function(
        "(id) => { const s = window.__cmd.state.state; return s.map && !s.firstLoad && s.tickets.has(id); }",
        arg=ticket_id,
        timeout=LIVE,
    )


def _zoom_command_map_to(page: Page, lon: float, lat: float) -> None:
    page.evaluate(
        "([lat, lon]) => { const s = window.__cmd.state;"
        " s.state.map.setView(s.display.toMap(lat, lon), 17, { animate: false }); }",
        [lat, lon],
    )


def test_a_unit_on_a_tickets_spot_never_takes_the_tickets_click(demo_server: DemoServer, browser: Browser) -> None:
    ticket = _ticket_at(demo_server, *SPOT, title="车辆停在投诉点上")
    unit = _place_unit(demo_server, *SPOT)
    context, page = logged_in(browser, demo_server, "commander")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _open_command_map(page, demo_server, ticket["id"])
        unit_marker = page.locator(f".emg-unit[data-unit-id='{unit['id']}']")
        expect(unit_marker).to_have_attribute("data-lat", str(SPOT[1]), timeout=LIVE)
        _zoom_command_map_to(page, *SPOT)
        ticket_marker = page.locator(f"path[data-ticket-id='{ticket['id']}']")
        expect(ticket_marker).to_be_visible(timeout=LIVE)
        expect(unit_marker).to_be_visible(timeout=LIVE)

        # The unit's marker is drawn exactly where the ticket's is, and the ticket's is on top.
        ticket_box, unit_box = ticket_marker.bounding_box(), unit_marker.bounding_box()
        assert ticket_box is not None and unit_box is not None
        x, y = ticket_box["x"] + ticket_box["width"] / 2, ticket_box["y"] + ticket_box["height"] / 2
        assert math.hypot(unit_box["x"] + unit_box["width"] / 2 - x, unit_box["y"] + unit_box["height"] / 2 - y) < 2
        on_top = page.evaluate(
            "([x, y]) => { const n = document.elementFromPoint(x, y); const t = n && n.closest('[data-ticket-id]');"
            " return t ? t.dataset.ticketId : null; }",
            [x, y],
        )
        assert on_top == str(ticket["id"])
        screenshot(page, "basemap-unit-on-ticket")

        # A click there opens the ticket's details, not the unit.
        page.mouse.click(x, y)
        expect(page.locator("#cmd-details-body .cmd-number")).to_have_text(ticket["number"], timeout=LIVE)

        # The units layer can be switched off and on; the ticket stays.
        page.uncheck("#emg-l-units")
        expect(unit_marker).to_have_count(0, timeout=LIVE)
        expect(ticket_marker).to_be_visible()
        page.check("#emg-l-units")
        expect(unit_marker).to_be_visible(timeout=LIVE)
        assert errors == []
    finally:
        context.close()
        _send_home(demo_server, unit)


@pytest.fixture(scope="module")
def gcj_server(demo_server: DemoServer) -> Iterator[DemoServer]:
    """A second server of the same demo city (same database), whose base map is GCJ-02 tiles that never load."""
    nothing_there = free_port()
    settings = {
        "HOTLINE_MAP_TILES": "custom",
        "HOTLINE_MAP_TILE_URL": f"http://127.0.0.1:{nothing_there}/{{z}}/{{x}}/{{y}}.png",
        "HOTLINE_MAP_TILE_COORDINATE_SYSTEM": "gcj02",
        "HOTLINE_MAP_TILE_ATTRIBUTION": "测试瓦片 <b>GCJ-02</b>",
    }
    with server_beside(demo_server, settings) as server:
        yield server


LATLNG_OF_JS = """([attribute, id]) => {
  let found = null;
  window.__cmd.state.state.map.eachLayer(function (layer) {
    const node = layer.getElement && layer.getElement();
    if (node && node.dataset && node.dataset[attribute] === String(id)) found = layer.getLatLng();
  });
  return found && [found.lng, found.lat];
}"""


def test_on_gcj02_tiles_the_command_map_draws_every_marker_shifted(gcj_server: DemoServer, browser: Browser) -> None:
    ticket = _ticket_at(gcj_server, *GCJ_TICKET, title="火星坐标底图上的工单")
    unit_at = (GCJ_TICKET[0], GCJ_TICKET[1] + 0.002)
    unit = _place_unit(gcj_server, *unit_at)
    incident_at = (GCJ_TICKET[0] + 0.002, GCJ_TICKET[1])
    incident = _api(
        gcj_server,
        "POST",
        "/api/incidents/",
        api_token(gcj_server, "operator"),
        {
            "type": "traffic_accident",
            "level": "IV",
            "title": "火星坐标底图上的事件",
            "latitude": incident_at[1],
            "longitude": incident_at[0],
            "coordinate_system": "wgs84",
            "area_kind": "circle",
            "area_radius_m": 100,
        },
    )
    context, page = logged_in(browser, gcj_server, "commander")
    errors: list[str] = []
    layer_requests: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda r: layer_requests.append(r.url) if "/api/geo/layers/" in r.url else None)
    try:
        _open_command_map(page, gcj_server, ticket["id"])
        _zoom_command_map_to(page, *GCJ_TICKET)
        expect(page.locator(f"path[data-ticket-id='{ticket['id']}']")).to_be_visible(timeout=LIVE)
        expect(page.locator(f".emg-unit[data-unit-id='{unit['id']}']")).to_be_visible(timeout=LIVE)
        expect(page.locator(f".emg-incident[data-incident-id='{incident['id']}']")).to_be_visible(timeout=LIVE)

        # Each marker's LatLng on the map is the GCJ-02 shift of its WGS84 point (some 500 m here).
        shown = page.evaluate(
            "(id) => { const ll = window.__cmd.markers.ticketMarker(id).getLatLng(); return [ll.lng, ll.lat]; }",
            ticket["id"],
        )
        expected = _gcj(*GCJ_TICKET)
        assert _metres(expected, GCJ_TICKET) > 100
        assert abs(shown[0] - expected[0]) < 1e-7 and abs(shown[1] - expected[1]) < 1e-7
        unit_shown = page.evaluate(LATLNG_OF_JS, ["unitId", unit["id"]])
        assert _metres(tuple(unit_shown), _gcj(*unit_at)) < 0.05
        incident_shown = page.evaluate(LATLNG_OF_JS, ["incidentId", incident["id"]])
        assert _metres(tuple(incident_shown), _gcj(*incident_at)) < 0.05

        # Jurisdictions come from the server in GCJ-02; the tiles fail, the screen says so and keeps working.
        assert layer_requests and all("coordinate_system=gcj02" in url for url in layer_requests)
        expect(page.locator("#cmd-map .basemap-notice")).to_be_visible(timeout=LIVE)
        attribution = page.locator("#cmd-map .leaflet-control-attribution")
        expect(attribution).to_contain_text("测试瓦片 <b>GCJ-02</b>")  # shown as text, never as HTML
        page.locator(f"path[data-ticket-id='{ticket['id']}']").click()
        expect(page.locator("#cmd-details-body .cmd-number")).to_have_text(ticket["number"], timeout=LIVE)
        screenshot(page, "basemap-gcj02-command")
        assert errors == []
    finally:
        context.close()
        _send_home(gcj_server, unit)


def test_on_gcj02_tiles_a_click_on_the_console_map_pins_the_wgs84_point(
    gcj_server: DemoServer, browser: Browser
) -> None:
    context, page = logged_in(browser, gcj_server, "operator")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{gcj_server.url}/console/", wait_until="domcontentloaded")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
        expect(page.locator("#map path.leaflet-interactive").first).to_be_attached(timeout=LIVE)  # the districts
        page.evaluate("async () => { window.__console = await import('/static/callcenter/console/map.js'); }")
        # The first fit to the city has finished (Leaflet ignores a new view during a zoom animation).
        page.wait_for_function(
            "() => { const map = window.__console.mapView().map;"
            " return map.getZoom() > 4 && !map.getContainer().querySelector('.leaflet-zoom-anim'); }",
            timeout=LIVE,
        )
        page.evaluate(
            "([lat, lon]) => { const view = window.__console.mapView();"
            " view.map.setView(view.display.toMap(lat, lon), 16, { animate: false });"
            " view.map.once('click', (e) => { window.__clicked = [e.latlng.lng, e.latlng.lat]; }); }",
            [24.3126, 109.4112],
        )
        box = page.locator("#map").bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] / 2 + 37, box["y"] + box["height"] / 2 + 23)
        page.wait_for_function("() => window.HotlineConsole.state.pin !== null && window.__clicked", timeout=LIVE)
        clicked, pin, drawn = page.evaluate(
            """() => {
              let drawn = null;
              window.__console.mapView().map.eachLayer(function (layer) {
                if (layer.options && layer.options.draggable) drawn = layer.getLatLng();
              });
              const pin = window.HotlineConsole.state.pin;
              return [window.__clicked, [pin.longitude, pin.latitude], drawn && [drawn.lng, drawn.lat]];
            }"""
        )
        assert _metres(tuple(clicked), _gcj(109.4112, 24.3126)) < 200  # the click landed where the view was set
        wgs_lon, wgs_lat = gcj02_to_wgs84(*clicked)
        assert _metres(tuple(pin), (float(wgs_lon), float(wgs_lat))) < 1  # the pin is the clicked point in WGS84
        assert _metres(tuple(pin), tuple(clicked)) > 100  # ... not the GCJ-02 numbers themselves
        assert drawn is not None and _metres(tuple(drawn), tuple(clicked)) < 1  # and is drawn where clicked
        expect(page.locator("#pin-summary")).to_contain_text(f"{pin[1]:.6f}, {pin[0]:.6f}")
        expect(page.locator("#map .basemap-notice")).to_be_visible(timeout=LIVE)
        expect(page.locator("#map")).to_have_class(re.compile(r"\bno-tiles\b"))  # the look without tiles
        screenshot(page, "basemap-gcj02-console")
        assert errors == []
    finally:
        context.close()
