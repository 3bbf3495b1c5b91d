"""The agency inbox on a phone (390x844, touch) in real Chromium: nothing wider than the screen, the details
open over the list with a way back, the ticket's place on the map, and a photo taken in the reply form stored
as an attachment of the ticket (the database is asked, not only the page)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, FilePayload, Page, expect

from gis.coords import wgs84_to_gcj02
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
AGENCY = "lz-chengzhong-cgj"  # the demo handler's agency
PLACE = (24.31873, 109.41562)  # in 城中区, WGS84


def _db(server: DemoServer, code: str) -> Any:
    return json.loads(server.manage("shell", "-c", code).strip().splitlines()[-1])


def _attachments(server: DemoServer, ticket_id: int) -> list[dict[str, Any]]:
    """The ticket's attachment rows, as the server's database holds them."""
    return list(
        _db(
            server,
            "import json; from dispatch.attachments.models import Attachment; "
            f"print(json.dumps(list(Attachment.objects.filter(ticket_id={ticket_id}).order_by('id').values("
            "'id', 'work_order_id', 'kind', 'content_type', 'original_name', 'uploaded_by__username', 'thumbnail'))))",
        )
    )


def _work_order_state(server: DemoServer, wo_id: int) -> list[str]:
    return list(
        _db(
            server,
            f"import json; from dispatch.models import WorkOrder; w = WorkOrder.objects.get(pk={wo_id}); "
            "print(json.dumps([w.state, w.reply_text]))",
        )
    )


def _camera_photo(name: str, colour: tuple[int, int, int]) -> FilePayload:
    """What a phone's camera input hands over (phones name every photo alike)."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return {"name": name, "mimeType": "image/jpeg", "buffer": out.getvalue()}


def _work_order_in_hand(
    server: DemoServer, place: tuple[float, float] = PLACE, phone: str = "13912340390"
) -> tuple[int, int, str]:
    """A ticket with a place, dispatched to the demo agency and signed: (ticket id, work order id, its number)."""
    operator, dispatcher, handler = (api_token(server, name) for name in ("operator", "dispatcher", "handler"))
    agency_id = next(a["id"] for a in api_request(server, "GET", "/api/agencies/", operator) if a["code"] == AGENCY)
    ticket = api_request(
        server,
        "POST",
        "/api/tickets/",
        operator,
        {
            "channel": "phone",
            "phone": phone,
            "appeal_type": "complaint",
            "subject": "garbage-collection",
            "title": "手机端测试：路边垃圾堆放",
            "description": "文惠路路边垃圾堆放，请清理。",
            "address": "柳州市城中区文惠路30号",
            "latitude": place[0],
            "longitude": place[1],
        },
    )
    api_request(server, "POST", f"/api/tickets/{ticket['id']}/dispatch/", dispatcher, {"lead_agency_id": agency_id})
    work_order = _db(
        server,
        "import json; from dispatch.models import WorkOrder; "
        f"w = WorkOrder.objects.get(ticket_id={ticket['id']}); print(json.dumps([w.pk, w.number]))",
    )
    api_request(server, "POST", f"/api/work-orders/{work_order[0]}/sign/", handler, {})
    return ticket["id"], work_order[0], work_order[1]


def _phone(browser: Browser, server: DemoServer, username: str, path: str) -> Page:
    """A phone-sized touch screen (390x844, like an iPhone) with the user's session (logged in as the suite does)."""
    desktop, _page = logged_in(browser, server, username)
    session = desktop.storage_state()
    desktop.close()
    context = browser.new_context(
        storage_state=session,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}{path}")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


def _no_sideways_scroll(page: Page) -> None:
    widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide on a {widths[1]} px screen"


def test_the_inbox_works_on_a_phone_with_map_and_photo_reply(demo_server: DemoServer, browser: Browser) -> None:
    ticket_id, wo_id, number = _work_order_in_hand(demo_server)
    page = _phone(browser, demo_server, "handler", "/inbox/")

    # The list fits the screen; the desktop's column header and keyboard hints are gone.
    row = page.locator(f"#wo-row-{wo_id}")
    expect(row).to_be_visible(timeout=LIVE)
    expect(page.locator(".inbox-columns")).to_be_hidden()
    _no_sideways_scroll(page)
    screenshot(page, "inbox-phone-list")

    # A tap opens the details over the list.
    row.tap()
    expect(page.locator("#detail-title")).to_have_text(number, timeout=LIVE)
    expect(page.locator("#detail-back")).to_be_visible()
    expect(page.locator("#inbox-rows")).to_be_hidden()
    _no_sideways_scroll(page)

    # The ticket's place is on the map: the marker is drawn inside the map's box, at the ticket's coordinates.
    stored_place = _db(
        demo_server,
        f"import json; from callcenter.models import Ticket; t = Ticket.objects.get(pk={ticket_id}); "
        "print(json.dumps([t.latitude, t.longitude]))",
    )
    assert stored_place == pytest.approx(list(PLACE), abs=1e-6)
    map_box = page.locator("#detail-map")
    marker = map_box.locator("path.inbox-map-marker")
    expect(marker).to_be_visible(timeout=LIVE)
    expect(map_box).to_have_attribute("data-latitude", str(stored_place[0]))
    expect(map_box).to_have_attribute("data-longitude", str(stored_place[1]))
    box, dot = map_box.bounding_box(), marker.bounding_box()
    assert box and dot and box["width"] <= 390
    centre = (dot["x"] + dot["width"] / 2, dot["y"] + dot["height"] / 2)
    assert box["x"] < centre[0] < box["x"] + box["width"] and box["y"] < centre[1] < box["y"] + box["height"]
    screenshot(page, "inbox-phone-detail")

    # The reply form with a photo from the camera input (a generated JPEG stands for the camera).
    page.locator("#detail-actions button[data-action=reply]").tap()
    form = page.locator("form.action-form[data-action=reply]")
    expect(form).to_be_visible()
    photo_input = form.locator('input[data-role="photo-input"]')
    expect(photo_input).to_have_attribute("capture", "environment")
    expect(photo_input).to_have_attribute("accept", "image/*")
    # A file that is no photo is refused by the server: nothing else is sent, the work order stays in hand.
    not_a_photo: FilePayload = {"name": "image.jpg", "mimeType": "image/jpeg", "buffer": b"not a picture at all"}
    photo_input.set_input_files([not_a_photo])
    form.locator("select[name=outcome]").select_option("resolved")
    form.locator("textarea[name=reply]").fill("已清理完毕，现场照片见附件。")
    form.locator("button[type=submit]").tap()
    expect(form.locator(".photo-status.photo-error")).to_contain_text("image.jpg", timeout=LIVE)
    expect(form.locator(".form-error")).to_be_visible()
    expect(form.locator("button[type=submit]")).to_be_enabled()
    assert _attachments(demo_server, ticket_id) == []
    assert _work_order_state(demo_server, wo_id) == ["handling", ""]

    # A real photo instead, and the reply goes.
    photo_input.set_input_files([_camera_photo("image.jpg", (200, 40, 40))])
    preview = form.locator(".photo-preview img")
    expect(preview).to_have_count(1)
    page.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=preview.element_handle(), timeout=LIVE)
    _no_sideways_scroll(page)
    screenshot(page, "inbox-phone-reply-form")
    form.locator("button[type=submit]").tap()
    expect(form).to_have_count(0, timeout=LIVE)

    # The database holds the photo as the reply's proof on this work order, uploaded by the handler.
    rows = _attachments(demo_server, ticket_id)
    assert len(rows) == 1
    stored = rows[0]
    assert stored["work_order_id"] == wo_id
    assert (stored["kind"], stored["content_type"], stored["original_name"]) == ("reply", "image/jpeg", "image.jpg")
    assert stored["uploaded_by__username"] == "handler" and stored["thumbnail"]
    assert _work_order_state(demo_server, wo_id) == ["replied", "已清理完毕，现场照片见附件。"]

    # Its thumbnail shows in the details (the scoped thumbnail URL, really loaded).
    thumb = page.locator(f'#detail-files img[src="/api/attachments/{stored["id"]}/thumbnail/"]')
    expect(thumb).to_be_visible(timeout=LIVE)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(), timeout=LIVE)
    _no_sideways_scroll(page)
    screenshot(page, "inbox-phone-replied")

    # Back to the list: it is there again and the details are out of the way.
    page.locator("#detail-back").tap()
    expect(page.locator("#inbox-rows")).to_be_visible()
    expect(page.locator("#inbox-detail")).to_be_hidden()
    _no_sideways_scroll(page)
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def gcj_server(demo_server: DemoServer) -> Iterator[DemoServer]:
    """A second server of the same demo city (same database) whose base map is GCJ-02 tiles (that never load)."""
    nothing_there = free_port()
    settings = {
        "HOTLINE_MAP_TILES": "custom",
        "HOTLINE_MAP_TILE_URL": f"http://127.0.0.1:{nothing_there}/{{z}}/{{x}}/{{y}}.png",
        "HOTLINE_MAP_TILE_COORDINATE_SYSTEM": "gcj02",
    }
    with server_beside(demo_server, settings) as server:
        yield server


def test_on_gcj02_tiles_the_inbox_map_shows_the_place_shifted(gcj_server: DemoServer, browser: Browser) -> None:
    place = (24.3126, 109.4112)  # in 城中区 too, so the demo agency is the proposal
    _ticket_id, wo_id, number = _work_order_in_hand(gcj_server, place, phone="13912340391")
    page = _phone(browser, gcj_server, "handler", "/inbox/")
    page.locator(f"#wo-row-{wo_id}").tap()
    expect(page.locator("#detail-title")).to_have_text(number, timeout=LIVE)
    expect(page.locator("#detail-map path.inbox-map-marker")).to_be_visible(timeout=LIVE)
    shown = page.evaluate(
        "async () => { const view = (await import('/static/dispatch/inbox/map.js')).mapView();"
        " const ll = view.marker.getLatLng(); return [ll.lng, ll.lat]; }"
    )
    gcj_lon, gcj_lat = wgs84_to_gcj02(place[1], place[0])
    # The marker sits on the GCJ-02 shift of the stored WGS84 point (some hundreds of metres away from it).
    assert abs(shown[0] - float(gcj_lon)) < 1e-7 and abs(shown[1] - float(gcj_lat)) < 1e-7
    assert abs(shown[0] - place[1]) + abs(shown[1] - place[0]) > 1e-3
    expect(page.locator("#detail-map")).to_have_attribute("data-latitude", str(place[0]))
    expect(page.locator("#detail-map .basemap-notice")).to_be_visible(timeout=LIVE)  # the tiles fail, and it says so
    _no_sideways_scroll(page)
    screenshot(page, "inbox-phone-gcj02")
    assert page.js_errors == []  # type: ignore[attr-defined]
