"""The whole lifecycle of one ticket from the screens, in real Chromium, by clicks and typing only: no API call from
the test. Each role works in its own browser context (its working screen and its workbench open side by side):

intake with a photo (operator, console) - dispatch to a lead and a co-handler (dispatcher, ticket page) - both
agencies sign (inbox, ticket page) - the lead asks to return it (退单申请) and the centre rejects the return
(退单审核) - the lead replies with a photo (inbox) - the centre sends the reply back - the lead replies again, the
co-handler replies - the centre approves both - revisit unsatisfied (operator, from the revisit queue) - redo of
the lead's work order - reply - approve - revisit satisfied - close.

After each step: the ticket's and its work orders' states in the database, and every role's workbench counts equal
to the database's (tests/browser/lifecycle.py). Screenshots: test-artifacts/walk-NN-<state>.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from dispatch.attachments.models import Attachment
from dispatch.models import WorkOrder
from tests.browser.conftest import DemoServer
from tests.browser.lifecycle import (
    CO,
    CO_USER,
    LEAD,
    LIVE,
    DemoDb,
    Walk,
    act,
    card,
    co_handler_user,
    intake,
    open_demo_db,
    open_form,
    open_ticket,
    photo,
    state_of,
    submit,
)

pytestmark = pytest.mark.browser

P, H, RR, R, A, C = "pending_sign", "handling", "return_requested", "replied", "approved", "closed"


@pytest.fixture
def demo_db(demo_server: DemoServer, django_db_blocker: Any) -> Iterator[DemoDb]:
    yield from open_demo_db(demo_server, django_db_blocker)


def _files(db: DemoDb, number: str, kind: str) -> int:
    return db.read(lambda: db.rows(Attachment).filter(ticket__number=number, kind=kind).count())  # type: ignore[no-any-return]


def test_a_ticket_from_intake_to_close_by_every_role_from_the_screens(
    demo_server: DemoServer, browser: Browser, demo_db: DemoDb, tmp_path: Path
) -> None:
    co_handler_user(demo_server)
    walk = Walk(demo_server, browser, demo_db, "walk")
    failed = True
    try:
        _walk(walk, demo_server, demo_db, tmp_path)
        failed = False
    finally:
        walk.close(failed)


def _walk(walk: Walk, server: DemoServer, db: DemoDb, tmp_path: Path) -> None:
    operator = walk.desk("operator", "/console/")
    dispatcher = walk.desk("dispatcher", "/tickets/")
    handler = walk.desk("handler", "/inbox/")
    co = walk.desk(CO_USER, "/tickets/")

    # 1. The operator takes the call with a photo of the place and accepts the ticket.
    number = intake(
        operator.page,
        title="文惠路垃圾桶满溢",
        phone="13877001234",
        files=[photo(tmp_path, "scene.jpg", (90, 140, 60))],
    )
    db.eventually(lambda: db.rows(Attachment).filter(ticket__number=number, kind="intake").count(), 1)
    walk.check(number, "accepted", {}, operator.page)

    # 2. The dispatcher finds it by number and dispatches it to the lead agency with a co-handler.
    page = open_ticket(dispatcher, server, number)
    expect(page.locator("#ticket-attachments img[alt='scene.jpg']")).to_have_count(1, timeout=LIVE)
    form = open_form(page, page.locator("#ticket-actions"), "dispatch")
    expect(form.locator(".context-box")).to_contain_text(LEAD, timeout=LIVE)
    form.locator("select[name=lead_agency_id]").select_option(label=LEAD)
    form.locator("select[name=co_agency_ids]").select_option(label=CO)
    form.locator("textarea[name=instructions]").fill("请主办单位清理，生态环境分局配合核查异味。")
    submit(page, form)
    walk.check(number, "dispatched", {LEAD: P, CO: P}, page)

    # 3. The lead signs in its inbox; the co-handler signs on the ticket page.
    inbox = handler.page
    inbox.locator("#inbox-rows li", has_text=number).click()
    inbox.locator("#detail-actions button[data-action=sign]").click()
    inbox.locator("#detail-form-host button[type=submit]").click()
    expect(inbox.locator("#detail-form-host form")).to_have_count(0, timeout=LIVE)
    walk.check(number, "in_progress", {LEAD: H, CO: P}, inbox)
    co_page = open_ticket(co, server, number)
    expect(co_page.locator("article.wo-card")).to_have_count(1)  # its own work order only
    act(co_page, card(co_page, CO), "sign")
    walk.check(number, "in_progress", {LEAD: H, CO: H}, co_page)

    # 4. The lead asks the centre to take its work order back (退单申请), on the ticket page.
    lead_page = open_ticket(handler, server, number)
    act(
        lead_page,
        card(lead_page, LEAD),
        "return",
        {"reason": "垃圾桶属小区物业管理范围。", "legal_basis": "《柳州市物业管理条例》第二十条"},
    )
    walk.check(number, "in_progress", {LEAD: RR, CO: H}, lead_page)

    # 5. The centre rejects the return (退单审核), with the agency's reason shown beside the form.
    lead_card = card(page, LEAD)
    form = open_form(page, lead_card, "reject_return")
    expect(form.locator(".context-box")).to_contain_text("垃圾桶属小区物业管理范围", timeout=LIVE)
    form.locator("textarea[name=reason]").fill("道路垃圾桶由城管局负责，请继续办理。")
    submit(page, form)
    walk.check(number, "in_progress", {LEAD: H, CO: H}, page)

    # 6. The lead replies from its inbox, with a photo of the cleaned place.
    inbox = handler.goto(server, "/inbox/")
    inbox.locator("#inbox-rows li", has_text=number).click()
    inbox.locator("#detail-actions button[data-action=reply]").click()
    reply = inbox.locator("#detail-form-host form")
    reply.locator("select[name=outcome]").select_option("resolved")
    reply.locator("textarea[name=reply]").fill("已清理垃圾桶周边。")
    reply.locator('[data-role="photo-input"]').set_input_files([str(photo(tmp_path, "cleaned.jpg", (200, 200, 210)))])
    reply.locator("button[type=submit]").click()
    expect(inbox.locator("#detail-form-host form")).to_have_count(0, timeout=LIVE)
    db.eventually(lambda: _files(db, number, "reply"), 1)
    walk.check(number, "in_progress", {LEAD: R, CO: H}, inbox)

    # 7. The centre sends the reply back: the photo and the reply stand beside the form.
    expect(page.locator("#ticket-attachments img[alt='cleaned.jpg']")).to_have_count(1, timeout=LIVE)
    form = open_form(page, card(page, LEAD), "send_back")
    expect(form.locator(".context-box")).to_contain_text("已清理垃圾桶周边", timeout=LIVE)
    form.locator("textarea[name=note]").fill("请说明异味来源是否已处理，并补充与市民沟通情况。")
    submit(page, form)
    walk.check(number, "in_progress", {LEAD: H, CO: H}, page)

    # 8. The lead replies again, the co-handler replies: the ticket is replied.
    # The lead's second reply goes from the ticket page, with a photo of its own.
    lead_page = open_ticket(handler, server, number)
    form = open_form(lead_page, card(lead_page, LEAD), "reply")
    form.locator("select[name=outcome]").select_option("resolved")
    form.locator("textarea[name=reply]").fill("已清理并消杀，已电话告知市民。")
    form.locator('[data-role="photo-input"]').set_input_files([str(photo(tmp_path, "disinfected.jpg", (30, 60, 200)))])
    expect(form.locator(".photo-preview img")).to_have_count(1)
    submit(lead_page, form)
    walk.check(number, "in_progress", {LEAD: R, CO: H}, lead_page)
    assert _files(db, number, "reply") == 2  # stored before the reply was sent
    expect(lead_page.locator("#ticket-attachments img[alt='disinfected.jpg']")).to_have_count(1, timeout=LIVE)
    act(co_page, card(co_page, CO), "reply", {"outcome": "explained", "reply": "现场无污水外溢，已向市民解释。"})
    walk.check(number, "replied", {LEAD: R, CO: R}, co_page)

    # 9. The centre approves both replies: the ticket awaits its revisit.
    act(page, card(page, LEAD), "approve")
    walk.check(number, "replied", {LEAD: A, CO: R}, page)
    act(page, card(page, CO), "approve")
    walk.check(number, "pending_revisit", {LEAD: A, CO: A}, page)

    # 10. The operator opens it from the revisit queue and records an unsatisfied caller.
    revisit = _from_queue(operator, server, "to_revisit", number)
    form = open_form(revisit, revisit.locator("#ticket-actions"), "revisit")
    expect(form.locator(".context-box")).to_contain_text("已清理并消杀", timeout=LIVE)
    expect(form.locator(".context-box")).to_contain_text("13877001234")  # the centre calls back
    form.locator("select[name=satisfaction]").select_option("unsatisfied")
    form.locator("select[name=resolved]").select_option("false")
    form.locator("textarea[name=note]").fill("市民反映仍有异味。")
    submit(revisit, form)
    walk.check(number, "revisited", {LEAD: A, CO: A}, revisit)

    # 11. The dispatcher sends the lead's work order back for redo.
    form = open_form(page, page.locator("#ticket-actions"), "redo")
    lead_id = db.read(lambda: db.rows(WorkOrder).get(ticket__number=number, agency__name=LEAD).pk)
    form.locator(f"input[name=work_order_ids][value='{lead_id}']").check()
    form.locator("textarea[name=note]").fill("请彻底消除异味后再回复。")
    submit(page, form)
    walk.check(number, "in_progress", {LEAD: H, CO: A}, page)
    assert db.ticket(number).redo_count == 1

    # 12. The lead replies, the centre approves.
    act(lead_page, card(lead_page, LEAD), "reply", {"outcome": "resolved", "reply": "已更换垃圾桶并每日消杀。"})
    walk.check(number, "replied", {LEAD: R, CO: A}, lead_page)
    act(page, card(page, LEAD), "approve")
    walk.check(number, "pending_revisit", {LEAD: A, CO: A}, page)

    # 13. The caller is satisfied now; the dispatcher closes the ticket.
    revisit = _from_queue(operator, server, "to_revisit", number)
    act(revisit, revisit.locator("#ticket-actions"), "revisit", {"satisfaction": "satisfied", "resolved": "true"})
    walk.check(number, "revisited", {LEAD: A, CO: A}, revisit)
    act(page, page.locator("#ticket-actions"), "close", {"note": "市民满意，办结。"})
    walk.check(number, "closed", {LEAD: C, CO: C}, page)
    expect(page.locator("#ticket-actions button")).to_have_count(0, timeout=LIVE)
    expect(page.locator("#ticket-timeline")).to_contain_text("办结", timeout=LIVE)
    state_of(page, LEAD, C)
    timeline = page.locator("#ticket-timeline").inner_text()
    for code in ("reject_return", "send_back", "follow_work_orders", "return_requested", "pending_revisit"):
        assert code not in timeline


def _from_queue(desk, server: DemoServer, queue: str, number: str):  # type: ignore[no-untyped-def]
    """Open a ticket from a workbench queue: the queue's tab, then the ticket's row."""
    work = desk.goto(server, "/work/")
    work.locator(f"#wb-tab-{queue}").click()
    work.locator("#wb-rows a.wb-number", has_text=number).click()
    expect(work.locator("#ticket-number")).to_have_text(number, timeout=LIVE)
    expect(work.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    return work
