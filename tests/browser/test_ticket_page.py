"""The ticket page in a real browser: a ticket is dispatched, signed, replied to and approved from its page,
by clicks and typing only (no API call from the test), while the other side's page follows live."""

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
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


def _accept_a_ticket(browser: Browser, server: DemoServer) -> str:
    """The operator takes a call in the console (typing only) and accepts the ticket without dispatching it."""
    operator = _open(browser, server, "operator", "/console/")
    expect(operator.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    operator.fill("#f-phone", "13812345678")
    operator.fill("#f-caller-name", "覃女士")
    operator.select_option("#f-appeal-type", "complaint")
    operator.fill("#f-subject", "garbage-collection")
    operator.fill("#f-title", "文惠路垃圾桶满溢")
    operator.fill("#f-description", "文惠路口垃圾桶满溢两天，无人清理。")
    operator.fill("#f-address", "柳州市城中区文惠路20号")
    operator.fill("#coords-q", "24.3126, 109.4112")
    operator.press("#coords-q", "Enter")
    expect(operator.locator("#proposal-lead")).to_contain_text("城中区城市管理局", timeout=LIVE)
    operator.click("#intake-submit")
    number_box = operator.locator("#ticket-number")
    expect(number_box).to_have_text(re.compile(r"12345-\d{8}-\d{6}"), timeout=LIVE)
    number = number_box.inner_text().strip()
    operator.context.close()
    return number


def _open_by_number(page: Page, number: str) -> None:
    """Type the number into the page's own "open a ticket by number" form."""
    page.fill("#open-number", number)
    page.press("#open-number", "Enter")
    expect(page.locator("#ticket-number")).to_have_text(number, timeout=LIVE)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)


def _act(page: Page, scope: str, action: str) -> None:
    page.locator(f"{scope} button[data-action={action}]").click()
    expect(page.locator(f"form.action-form[data-action={action}]")).to_be_visible()


def _submit(page: Page, action: str) -> None:
    page.locator(f"form.action-form[data-action={action}] button[type=submit]").click()
    expect(page.locator(f"form.action-form[data-action={action}]")).to_have_count(0, timeout=LIVE)


def test_dispatch_sign_reply_and_approve_from_the_ticket_page(demo_server: DemoServer, browser: Browser) -> None:
    number = _accept_a_ticket(browser, demo_server)

    # The dispatcher opens the ticket by its number and dispatches it to the proposed agency.
    dispatcher = _open(browser, demo_server, "dispatcher", "/tickets/")
    _open_by_number(dispatcher, number)
    expect(dispatcher.locator("#ticket-state")).to_have_text("已受理")
    expect(dispatcher.locator("#ticket-timeline")).to_contain_text("受理", timeout=LIVE)
    _act(dispatcher, "#ticket-actions", "dispatch")
    form = dispatcher.locator("form.action-form[data-action=dispatch]")
    expect(form.locator(".context-box")).to_contain_text("城中区城市管理局", timeout=LIVE)
    # The routing proposal chose the lead. Another lead without a reason is refused by the API, and its field
    # error stands next to the field it names.
    lead = form.locator("select[name=lead_agency_id]")
    expect(lead.locator("option:checked")).to_have_text("城中区城市管理局")
    lead.select_option(label="柳州市城市管理行政执法局")
    form.locator("button[type=submit]").click()
    override = form.locator("textarea[name=override_reason]")
    expect(override).to_have_attribute("aria-invalid", "true", timeout=LIVE)
    override_field = form.locator(".field", has=dispatcher.locator("[name=override_reason]"))
    expect(override_field.locator(".field-error")).to_be_visible()
    screenshot(dispatcher, "ticket-page-dispatch-form")
    lead.select_option(label="城中区城市管理局")
    form.locator("textarea[name=instructions]").fill("请两日内清理并回复。")
    _submit(dispatcher, "dispatch")
    expect(dispatcher.locator("#ticket-state")).to_have_text("已派单", timeout=LIVE)
    card = dispatcher.locator("article.wo-card").first
    expect(card).to_contain_text("城中区城市管理局")
    expect(card.locator("[data-part=state]")).to_have_text("待签收")
    expect(card.locator("button[data-action=approve]")).to_have_count(0)
    expect(dispatcher.locator("#ticket-timeline")).to_contain_text("派单", timeout=LIVE)
    screenshot(dispatcher, "ticket-page-dispatched")

    # The agency's handler opens the same ticket: only its own work order and its own actions; masked caller.
    handler = _open(browser, demo_server, "handler", "/tickets/")
    _open_by_number(handler, number)
    expect(handler.locator("#ticket-actions button")).to_have_count(0)
    expect(handler.locator("#ticket-callers")).not_to_contain_text("13812345678")
    # Revealing the number asks for a reason (recorded), then shows it.
    handler.locator("#reveal-button").click()
    handler.locator("#reveal-form-host input[name=reason]").fill("需电话联系市民确认具体位置")
    handler.locator("#reveal-form-host button[type=submit]").click()
    expect(handler.locator("#ticket-callers")).to_contain_text("13812345678", timeout=LIVE)
    _act(handler, "article.wo-card", "sign")
    _submit(handler, "sign")
    expect(handler.locator("article.wo-card [data-part=state]")).to_have_text("办理中", timeout=LIVE)
    # The dispatcher's page follows live, without a reload.
    expect(dispatcher.locator("article.wo-card [data-part=state]")).to_have_text("办理中", timeout=LIVE)

    _act(handler, "article.wo-card", "reply")
    reply = handler.locator("form.action-form[data-action=reply]")
    reply.locator("button[type=submit]").click()
    # Required fields are checked before anything is sent; the errors stand next to their fields.
    expect(reply.locator(".field-error")).to_have_count(2)
    reply.locator("select[name=outcome]").select_option("resolved")
    reply.locator("textarea[name=reply]").fill("已安排环卫工人清理完毕，并与市民沟通。")
    _submit(handler, "reply")
    expect(handler.locator("article.wo-card [data-part=state]")).to_have_text("已回复，待审核", timeout=LIVE)
    screenshot(handler, "ticket-page-agency-replied")

    # Back on the dispatcher's page (live): the reply is there, and approving shows it beside the form.
    wo_card = dispatcher.locator("article.wo-card").first
    expect(wo_card.locator("button[data-action=approve]")).to_be_visible(timeout=LIVE)
    expect(wo_card.locator("[data-part=reply]")).to_contain_text("已安排环卫工人清理完毕")
    _act(dispatcher, "article.wo-card", "approve")
    beside = dispatcher.locator("form.action-form[data-action=approve] .context-box")
    expect(beside).to_contain_text("已安排环卫工人清理完毕")
    _submit(dispatcher, "approve")
    expect(dispatcher.locator("#ticket-state")).to_have_text("待回访", timeout=LIVE)
    expect(dispatcher.locator("#ticket-actions button[data-action=revisit]")).to_be_visible()
    expect(dispatcher.locator("#ticket-timeline")).to_contain_text("审核通过", timeout=LIVE)
    # Times are the city's; codes never show.
    timeline = dispatcher.locator("#ticket-timeline").inner_text()
    for code in ("pending_sign", "follow_work_orders", "approve", "dispatched"):
        assert code not in timeline
    screenshot(dispatcher, "ticket-page-approved")

    for page in (dispatcher, handler):
        assert page.js_errors == []  # type: ignore[attr-defined]
