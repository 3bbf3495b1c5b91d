"""Canned phrases (常用语) in Chromium: the dispatcher adds a reply phrase on the editing page (/phrases/) and
deactivates another; the operator inserts an intake phrase of the typed subject into the description, with the
address filled in; the agency handler inserts the new reply phrase, with the ticket's address and number filled
in, and the deactivated one is not offered; the ticket page offers it in its reply form too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DemoServer, api_request, api_token, logged_in, screenshot

pytestmark = pytest.mark.browser
LIVE = 30_000  # milliseconds a screen may take to show what must appear (a failure bound, not a sleep)
AGENCY = "lz-chengzhong-cgj"  # the demo handler's agency
PLACE = (24.31873, 109.41562)  # in 城中区, WGS84
ADDRESS = "柳州市城中区文惠路18号"


def _db(server: DemoServer, code: str) -> Any:
    return json.loads(server.manage("shell", "-c", code).strip().splitlines()[-1])


def _signed_work_order(server: DemoServer) -> tuple[int, str]:
    """A garbage ticket dispatched to the demo agency and signed: (work order id, ticket number)."""
    operator, dispatcher, handler = (api_token(server, name) for name in ("operator", "dispatcher", "handler"))
    agency_id = next(a["id"] for a in api_request(server, "GET", "/api/agencies/", operator) if a["code"] == AGENCY)
    ticket = api_request(
        server,
        "POST",
        "/api/tickets/",
        operator,
        {
            "channel": "phone",
            "phone": "13912340518",
            "appeal_type": "complaint",
            "subject": "garbage-collection",
            "title": "常用语测试：垃圾堆放",
            "description": "路边垃圾堆放，请清理。",
            "address": ADDRESS,
            "latitude": PLACE[0],
            "longitude": PLACE[1],
        },
    )
    api_request(server, "POST", f"/api/tickets/{ticket['id']}/dispatch/", dispatcher, {"lead_agency_id": agency_id})
    wo_id = _db(
        server,
        "import json; from dispatch.models import WorkOrder; "
        f"print(json.dumps(WorkOrder.objects.get(ticket_id={ticket['id']}).pk))",
    )
    api_request(server, "POST", f"/api/work-orders/{wo_id}/sign/", handler, {})
    return wo_id, ticket["number"]


def _open_picker(page: Page, textarea: str) -> Any:
    picker = page.locator(f"{textarea} + .phrase-picker")
    picker.locator("button.phrase-toggle").click()
    panel = picker.locator(".phrase-panel")
    expect(panel).to_be_visible()
    return panel


def test_phrases_are_kept_by_the_centre_and_inserted_by_operator_and_agency(
    demo_server: DemoServer, browser: Browser
) -> None:
    errors: list[str] = []

    # The dispatcher adds a reply phrase for 垃圾清运 and deactivates the demo's "已安排清运".
    _context, editor = logged_in(browser, demo_server, "dispatcher")
    editor.on("pageerror", lambda error: errors.append(str(error)))
    editor.goto(f"{demo_server.url}/phrases/")
    expect(editor.locator("#ph-rows tr").first).to_be_visible(timeout=LIVE)
    editor.select_option("#ph-kind", "reply")
    editor.select_option("#ph-subject", "garbage-collection")
    editor.fill("#ph-title", "清运完毕并已回复")
    editor.fill("#ph-body", "工单{number}：已于{date}清运{address}的垃圾，并电话告知来电人。")
    editor.click("#ph-save")
    expect(editor.locator("#ph-saved")).to_contain_text("清运完毕并已回复", timeout=LIVE)
    expect(editor.locator("#ph-rows")).to_contain_text("清运完毕并已回复")

    editor.select_option("#ph-filter-kind", "reply")
    editor.select_option("#ph-filter-subject", "garbage-collection")
    old = editor.locator("#ph-rows tr", has_text="已安排清运")
    expect(old).to_have_count(1, timeout=LIVE)
    old.locator("button.link").click()
    expect(editor.locator("#ph-title")).to_have_value("已安排清运")
    editor.uncheck("#ph-active")
    editor.click("#ph-save")
    expect(editor.locator("#ph-saved")).to_be_visible(timeout=LIVE)
    expect(editor.locator("#ph-rows tr", has_text="已安排清运")).to_have_count(0, timeout=LIVE)

    # A bad placeholder is refused next to the text field.
    editor.click("#ph-new")
    editor.select_option("#ph-kind", "intake")
    editor.fill("#ph-title", "错误的占位符")
    editor.fill("#ph-body", "请联系{caller}。")
    editor.click("#ph-save")
    expect(editor.locator("#ph-body")).to_have_attribute("aria-invalid", "true", timeout=LIVE)
    expect(editor.locator(".ph-field-error")).to_contain_text("{caller}")
    screenshot(editor, "phrases-editor")
    saved = _db(
        demo_server,
        "import json; from callcenter.models import Phrase; "
        "new = Phrase.objects.filter(title='清运完毕并已回复').values_list('kind', 'subject__code'); "
        "print(json.dumps([sorted(new), Phrase.objects.get(title='已安排清运').active, "
        "Phrase.objects.filter(title='错误的占位符').count()]))",
    )
    assert saved == [[["reply", "garbage-collection"]], False, 0]

    # The operator types the subject and the address, then inserts the subject's intake phrase.
    _context, console = logged_in(browser, demo_server, "operator")
    console.on("pageerror", lambda error: errors.append(str(error)))
    console.goto(f"{demo_server.url}/console/")
    console.fill("#f-subject", "垃圾清运")
    console.fill("#f-address", ADDRESS)
    panel = _open_picker(console, "#f-description")
    options = panel.locator("button.phrase-option")
    expect(options.filter(has_text="垃圾未及时清运")).to_have_count(1, timeout=LIVE)
    expect(options.filter(has_text="来电人要求回复")).to_have_count(1)  # a phrase of any subject
    expect(options.filter(has_text="路灯不亮")).to_have_count(0)  # another subject's
    screenshot(console, "phrases-console-picker")
    options.filter(has_text="垃圾未及时清运").click()
    expect(panel).to_be_hidden()
    description = console.locator("#f-description")
    expect(description).to_have_value(
        f"来电人反映：{ADDRESS}附近生活垃圾堆放多日未清运，气味难闻、蚊蝇滋生，影响周边居民生活，请求尽快清运。"
    )
    expect(description).to_be_focused()

    # The agency handler inserts the new reply phrase into the reply form of a signed work order.
    wo_id, number = _signed_work_order(demo_server)
    _context, inbox = logged_in(browser, demo_server, "handler")
    inbox.on("pageerror", lambda error: errors.append(str(error)))
    inbox.goto(f"{demo_server.url}/inbox/")
    inbox.locator(f"#wo-row-{wo_id}").click(timeout=LIVE)
    inbox.locator("#detail-actions button[data-action=reply]").click(timeout=LIVE)
    form = inbox.locator("form.action-form[data-action=reply]")
    panel = _open_picker(inbox, "#f-reply-reply")
    options = panel.locator("button.phrase-option")
    expect(options.filter(has_text="清运完毕并已回复")).to_have_count(1, timeout=LIVE)
    expect(options.filter(has_text="已安排清运")).to_have_count(0)  # deactivated
    expect(options.filter(has_text="垃圾未及时清运")).to_have_count(0)  # an intake phrase: not for agencies
    panel.locator(".phrase-filter").fill("清运完毕")
    expect(options).to_have_count(1)
    options.first.click()
    reply = form.locator("textarea[name=reply]")
    text = reply.input_value()
    assert text.startswith(f"工单{number}：已于") and f"清运{ADDRESS}的垃圾" in text and "{" not in text, text
    screenshot(inbox, "phrases-inbox-reply")

    # The same picker in the reply form of the ticket page.
    inbox.goto(f"{demo_server.url}/tickets/{number}/")
    inbox.locator("article.wo-card button[data-action=reply]").click(timeout=LIVE)
    panel = _open_picker(inbox, "form.action-form[data-action=reply] textarea[name=reply]")
    panel.locator("button.phrase-option", has_text="清运完毕并已回复").click(timeout=LIVE)
    text = inbox.locator("form.action-form[data-action=reply] textarea[name=reply]").input_value()
    assert text.startswith(f"工单{number}：已于") and "{" not in text, text
    assert errors == []
