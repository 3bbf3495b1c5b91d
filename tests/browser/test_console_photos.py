"""Intake photos in the operator console, in real Chromium: photos chosen in the intake form are stored on the
ticket once it is accepted, and a photo chosen after that goes to the accepted ticket at once (the database is
asked, not only the page)."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, FilePayload, expect

from tests.browser.conftest import DemoServer, logged_in, screenshot

pytestmark = pytest.mark.browser
LIVE = 30_000  # milliseconds a screen may take to show what must appear (a failure bound, not a sleep)


def _db(server: DemoServer, code: str) -> Any:
    return json.loads(server.manage("shell", "-c", code).strip().splitlines()[-1])


def _photo(name: str, colour: tuple[int, int, int], fmt: str) -> FilePayload:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), colour).save(out, fmt)
    return {"name": name, "mimeType": f"image/{fmt.lower()}", "buffer": out.getvalue()}


def _attachments(server: DemoServer, number: str) -> list[dict[str, Any]]:
    return list(
        _db(
            server,
            "import json; from dispatch.attachments.models import Attachment; "
            f"print(json.dumps(list(Attachment.objects.filter(ticket__number='{number}').order_by('id').values("
            "'work_order_id', 'kind', 'content_type', 'original_name', 'uploaded_by__username', 'thumbnail'))))",
        )
    )


def test_intake_photos_are_stored_on_the_new_ticket(demo_server: DemoServer, browser: Browser) -> None:
    _context, operator = logged_in(browser, demo_server, "operator")
    errors: list[str] = []
    operator.on("pageerror", lambda error: errors.append(str(error)))
    operator.goto(f"{demo_server.url}/console/")
    expect(operator.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)

    operator.fill("#f-phone", "13812340391")
    operator.select_option("#f-appeal-type", "complaint")
    operator.fill("#f-subject", "garbage-collection")
    operator.fill("#f-title", "照片受理测试：垃圾桶破损")
    operator.fill("#f-description", "市民发来照片：垃圾桶破损，垃圾散落。")
    operator.fill("#f-address", "柳州市城中区文惠路40号")
    photos = operator.locator('#intake input[data-role="photo-input"]')
    expect(photos).to_have_attribute("capture", "environment")
    photos.set_input_files([_photo("scene.jpg", (30, 120, 200), "JPEG"), _photo("closeup.png", (30, 160, 60), "PNG")])
    expect(operator.locator("#photos-preview img")).to_have_count(2)
    operator.click("#intake-submit")
    number_box = operator.locator("#ticket-number")
    expect(number_box).to_have_text(re.compile(r"12345-\d{8}-\d{6}"), timeout=LIVE)
    number = number_box.inner_text().strip()
    expect(operator.locator("#photos-preview li.stored")).to_have_count(2, timeout=LIVE)
    screenshot(operator, "console-intake-photos")

    rows = _attachments(demo_server, number)
    assert [(r["original_name"], r["content_type"]) for r in rows] == [
        ("scene.jpg", "image/jpeg"),
        ("closeup.png", "image/png"),
    ]
    assert all(r["kind"] == "intake" and r["work_order_id"] is None for r in rows)
    assert all(r["uploaded_by__username"] == "operator" and r["thumbnail"] for r in rows)

    # A photo chosen after acceptance goes onto the same ticket at once.
    photos.set_input_files([_photo("later.jpg", (220, 200, 30), "JPEG")])
    expect(operator.locator("#photos-preview li.stored")).to_have_count(1, timeout=LIVE)
    rows = _attachments(demo_server, number)
    assert [r["original_name"] for r in rows] == ["scene.jpg", "closeup.png", "later.jpg"]

    # A new intake starts without photos.
    operator.click("#intake-reset")
    expect(operator.locator("#photos-preview li")).to_have_count(0)
    assert photos.evaluate("input => input.files.length") == 0
    assert errors == []
