"""The workbench in Chromium: the dispatcher sees the queue counts, opens a queue, finds a ticket by its number,
and a new ticket raises the count live; an agency's handler sees only masked numbers and no phone search."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import DemoServer, api_request, api_token, logged_in, screenshot

pytestmark = pytest.mark.browser
LIVE = 30_000  # milliseconds a screen may take to show what must appear (a failure bound, not a sleep)


def test_dispatcher_sees_counts_opens_a_queue_and_finds_a_ticket(demo_server: DemoServer, browser: Browser) -> None:
    _context, page = logged_in(browser, demo_server, "dispatcher")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{demo_server.url}/work/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)

    # The tabs show the server's counts, in Chinese.
    token = api_token(demo_server, "dispatcher")
    counts = {q["name"]: q for q in api_request(demo_server, "GET", "/api/queues/", token)["queues"]}
    assert {"to_dispatch", "to_review", "overdue", "red"} <= set(counts)
    for name, queue in counts.items():
        tab = page.locator(f"#wb-tab-{name}")
        expect(tab.locator(".count")).to_have_text(str(queue["count"]), timeout=LIVE)
        expect(tab).to_contain_text(queue["label"])

    # A queue opens with its rows by deadline; each row links to the ticket page.
    busy = next(name for name in ("overdue", "to_review", "to_dispatch", "red") if counts[name]["count"] > 0)
    page.click(f"#wb-tab-{busy}")
    expect(page.locator(f"#wb-tab-{busy}")).to_have_attribute("aria-selected", "true")
    rows = page.locator("#wb-rows tr")
    expect(rows).to_have_count(min(counts[busy]["count"], 50), timeout=LIVE)
    expect(page.locator("#wb-table-title")).to_have_text(counts[busy]["label"])
    expect(rows.first.locator("a.wb-number")).to_have_attribute("href", re.compile(r"^/tickets/12345-\d{8}-\d{6}/$"))
    expect(rows.first.locator(".wb-stage")).not_to_be_empty()
    screenshot(page, "workbench-queue")

    # Search by number: exactly that ticket.
    number = api_request(demo_server, "GET", "/api/tickets/?limit=1", token)["results"][0]["number"]
    page.fill("#wb-f-number", number)
    page.click("#wb-search-submit")
    expect(page.locator("#wb-tab-search")).to_have_attribute("aria-selected", "true", timeout=LIVE)
    expect(rows).to_have_count(1, timeout=LIVE)
    link = rows.first.locator("a.wb-number")
    expect(link).to_have_text(number)
    expect(link).to_have_attribute("href", f"/tickets/{number}/")
    expect(page.locator("#wb-export-csv")).to_have_attribute("href", re.compile(r"export\.csv\?number=" + number))
    screenshot(page, "workbench-search")

    # A bad filter shows the API's field error next to the field.
    page.fill("#wb-f-phone", "12")
    page.click("#wb-search-submit")
    expect(page.locator('[data-error="phone"]')).to_be_visible(timeout=LIVE)
    page.fill("#wb-f-phone", "")

    # A ticket taken elsewhere raises the "to dispatch" count without a reload.
    before = int(page.locator("#wb-tab-to_dispatch .count").inner_text())
    operator = api_token(demo_server, "operator")
    api_request(
        demo_server,
        "POST",
        "/api/tickets/",
        operator,
        {
            "channel": "web",
            "appeal_type": "complaint",
            "subject": "garbage-collection",
            "title": "工作台实时计数",
            "description": "工作台测试：新工单应实时计入待派单。",
        },
    )
    expect(page.locator("#wb-tab-to_dispatch .count")).to_have_text(str(before + 1), timeout=LIVE)
    screenshot(page, "workbench")
    assert errors == []


def test_an_agency_handler_sees_masked_numbers_only(demo_server: DemoServer, browser: Browser) -> None:
    _context, page = logged_in(browser, demo_server, "handler")
    page.goto(f"{demo_server.url}/work/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    expect(page.locator("#wb-tab-to_sign")).to_be_visible(timeout=LIVE)
    assert page.locator("#wb-f-phone").count() == 0 and page.locator("#wb-urge-button").count() == 0
    page.click("#wb-search-submit")
    phones = page.locator("#wb-rows .wb-phone")
    expect(phones.first).to_be_visible(timeout=LIVE)
    for text in phones.all_inner_texts():
        assert text == "" or re.fullmatch(r"\d{3}\*+\d{4}", text), text
