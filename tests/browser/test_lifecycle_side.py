"""The centre's other tools from the screens, in real Chromium, by clicks and typing only (no API call from the
test), each role in its own browser context: an extension request and its approval, urge, supervise (督办) and
the agency's written answer, merging a duplicate into its master, and transfers to the emergency lines
(110/119/120/122) by the transfer list and, off the list, with a reason.

After each step: the rows in the database, and every role's workbench counts equal to the database's
(tests/browser/lifecycle.py). Screenshots: test-artifacts/side-NN-<state>.png.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from dispatch.models import ExtensionRequest, StageClock, SupervisionCase, WorkOrder
from emergency.models import Transfer
from tests.browser.conftest import DemoServer
from tests.browser.lifecycle import (
    LEAD,
    LIVE,
    DemoDb,
    Walk,
    act,
    card,
    intake,
    open_demo_db,
    open_form,
    open_ticket,
    submit,
)

pytestmark = pytest.mark.browser
CST = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def demo_db(demo_server: DemoServer, django_db_blocker: Any) -> Iterator[DemoDb]:
    yield from open_demo_db(demo_server, django_db_blocker)


def test_extension_urge_supervise_merge_and_transfer_from_the_screens(
    demo_server: DemoServer, browser: Browser, demo_db: DemoDb
) -> None:
    walk = Walk(demo_server, browser, demo_db, "side")
    failed = True
    try:
        _walk(walk, demo_server, demo_db)
        failed = False
    finally:
        walk.close(failed)


def _walk(walk: Walk, server: DemoServer, db: DemoDb) -> None:
    operator = walk.desk("operator", "/console/")
    dispatcher = walk.desk("dispatcher", "/tickets/")
    handler = walk.desk("handler", "/tickets/")
    supervisor = walk.desk("supervisor", "/tickets/")
    commander = walk.desk("commander", "/tickets/")

    # The operator takes a call and dispatches it as routing proposes, from the console.
    number = intake(operator.page, title="文惠路占道堆放建筑垃圾", phone="13877005678")
    expect(operator.page.locator("#proposal-lead")).to_contain_text(LEAD, timeout=LIVE)
    operator.page.click("#dispatch-submit")
    db.eventually(lambda: db.rows(WorkOrder).filter(ticket__number=number).count(), 1)
    walk.check(number, "dispatched", {LEAD: "pending_sign"}, operator.page)
    wo = db.read(lambda: db.rows(WorkOrder).get(ticket__number=number))

    # The agency signs and asks for more time, before its deadline, with a reason.
    page = open_ticket(handler, server, number)
    act(page, card(page, LEAD), "sign")
    walk.check(number, "in_progress", {LEAD: "handling"}, page)
    due = db.read(lambda: db.rows(StageClock).get(work_order=wo, stage="handle", stopped_at__isnull=True).due_at)
    wanted = (due + dt.timedelta(days=5)).astimezone(CST).replace(second=0, microsecond=0)
    act(
        page,
        card(page, LEAD),
        "request_extension",
        {"requested_due_at": wanted.strftime("%Y-%m-%dT%H:%M"), "reason": "需协调环卫车辆，周末无法清运。"},
    )
    walk.check(number, "in_progress", {LEAD: "handling"}, page)
    assert db.read(lambda: db.rows(ExtensionRequest).get(work_order=wo).state) == "pending"

    # The supervisor approves it as requested, with the request beside the form; the deadline moves.
    sup = open_ticket(supervisor, server, number)
    form = open_form(sup, card(sup, LEAD), "approve_extension")
    expect(form.locator(".context-box")).to_contain_text("需协调环卫车辆", timeout=LIVE)
    submit(sup, form)
    walk.check(number, "in_progress", {LEAD: "handling"}, sup)
    assert db.read(lambda: db.rows(ExtensionRequest).get(work_order=wo).state) == "approved"
    running = db.read(lambda: db.rows(StageClock).get(work_order=wo, stage="handle", stopped_at__isnull=True))
    assert running.due_at == wanted

    # The dispatcher urges the agency (催办); the supervisor opens a supervision case (督办).
    desk = open_ticket(dispatcher, server, number)
    act(desk, card(desk, LEAD), "urge", {"note": "市民再次来电，请加快处理。"})
    walk.check(number, "in_progress", {LEAD: "handling"}, desk)
    assert db.read(lambda: db.rows(WorkOrder).get(pk=wo.pk).urge_count) == 1
    act(sup, card(sup, LEAD), "supervise", {"instruction": "请于三日内书面说明延期原因及整改措施。"})
    walk.check(number, "in_progress", {LEAD: "handling"}, sup)
    assert db.read(lambda: db.rows(SupervisionCase).get(work_order=wo).state) == "open"

    # The agency answers the case in writing, with the instruction beside its form.
    form = open_form(page, card(page, LEAD), "answer_supervision")
    expect(form.locator(".context-box")).to_contain_text("请于三日内书面说明", timeout=LIVE)
    form.locator("textarea[name=answer]").fill("已协调周末加班清运，预计两日内完成。")
    submit(page, form)
    walk.check(number, "in_progress", {LEAD: "handling"}, page)
    assert db.read(lambda: db.rows(SupervisionCase).get(work_order=wo).state) == "answered"

    # The same caller calls again about the same place: the dispatcher merges it into the first ticket, picking
    # the master among the possible duplicates the form shows.
    again = intake(operator.page, title="文惠路建筑垃圾仍未清运", phone="13877005678")
    walk.check(again, "accepted", {}, operator.page)
    desk = open_ticket(dispatcher, server, again)
    form = open_form(desk, desk.locator("#ticket-actions"), "merge")
    form.locator(".context-box li", has_text=number).locator("button").click()
    expect(form.locator("[name=master_number]")).to_have_value(number)
    submit(desk, form)
    walk.check(again, "merged", {}, desk)
    assert db.ticket(again).master_id == db.ticket(number).pk

    # A fire hazard reported on the hotline: the commander transfers it to 119 by the list, and to 110, which the
    # list does not name for it, only with a reason.
    fire = intake(operator.page, title="文惠路店铺后巷冒烟", phone="13877009999", subject="fire-hazard")
    walk.check(fire, "accepted", {}, operator.page)
    cmd = open_ticket(commander, server, fire)
    act(cmd, cmd.locator("#ticket-actions"), "transfer", {"line": "119", "note": "已电话转119。"})
    walk.check(fire, "accepted", {}, cmd)
    form = open_form(cmd, cmd.locator("#ticket-actions"), "transfer")
    form.locator("select[name=line]").select_option("110")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-error")).to_be_visible(timeout=LIVE)  # off the list: refused, nothing written
    assert db.read(lambda: list(db.rows(Transfer).filter(ticket__number=fire).values_list("line", flat=True))) == [
        "119"
    ]
    form.locator("textarea[name=override_reason]").fill("现场有人员聚集阻碍通行，需公安协助疏导。")
    submit(cmd, form)
    walk.check(fire, "accepted", {}, cmd)
    lines = db.read(
        lambda: list(db.rows(Transfer).filter(ticket__number=fire).order_by("id").values_list("line", "rule_id"))
    )
    assert [line for line, _rule in lines] == ["119", "110"]
    assert lines[0][1] is not None and lines[1][1] is None  # by the list; off it, with the reason
