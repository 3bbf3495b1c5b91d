"""Sockets die and come back (and on Redis, redis-server restarts) while events keep coming:
afterwards every screen has applied every event of its scope exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DemoServer, api_request, api_token, logged_in, screenshot

pytestmark = pytest.mark.browser
LIVE = 30_000
AGENCY = "lz-chengzhong-cgj"  # the demo handler's agency


def _open(browser: Browser, server: DemoServer, username: str, path: str) -> Page:
    _context, page = logged_in(browser, server, username)
    page.goto(f"{server.url}{path}")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    return page


def _db(server: DemoServer, code: str) -> Any:
    return json.loads(server.manage("shell", "-c", code).strip().splitlines()[-1])


def _ticket_through_api(server: DemoServer, operator: str, dispatcher: str, agency_id: int, n: int) -> None:
    created = api_request(
        server,
        "POST",
        "/api/tickets/",
        operator,
        {
            "channel": "phone",
            "phone": f"1391234{n:04d}",
            "appeal_type": "complaint",
            "subject": "garbage-collection",
            "description": f"第{n}条测试诉求",
            "latitude": 24.3126,
            "longitude": 109.4112,
        },
    )
    api_request(server, "POST", f"/api/tickets/{created['id']}/dispatch/", dispatcher, {"lead_agency_id": agency_id})


DOWNTIME_WRITES = """
from callcenter.actions import do_create_ticket
from dispatch.actions import do_dispatch_ticket
from organisation.models import Agency, User
operator, dispatcher = User.objects.get(username="operator"), User.objects.get(username="dispatcher")
agency = Agency.objects.get(code="AGENCY_CODE")
for n in range(2):
    ticket, _ = do_create_ticket({"channel": "phone", "phone": "1398888000" + str(n), "appeal_type": "complaint",
        "subject": "garbage-collection", "description": "停机期间的诉求", "latitude": 24.3126,
        "longitude": 109.4112}, actor=operator)
    do_dispatch_ticket(ticket.pk, actor=dispatcher, lead_agency_id=agency.pk)
print("[]")
""".replace("AGENCY_CODE", AGENCY)


def test_every_screen_applies_every_event_exactly_once_across_restarts(
    demo_server: DemoServer, browser: Browser
) -> None:
    start = _db(
        demo_server,
        "from realtime.models import Event; from django.db.models import Max; "
        "print(Event.objects.aggregate(m=Max('id'))['m'] or 0)",
    )
    screens = {
        "console": _open(browser, demo_server, "operator", "/console/"),
        "command": _open(browser, demo_server, "commander", "/command/"),
        "inbox": _open(browser, demo_server, "handler", "/inbox/"),
    }
    operator, dispatcher = api_token(demo_server, "operator"), api_token(demo_server, "dispatcher")
    agency_id = next(
        a["id"] for a in api_request(demo_server, "GET", "/api/agencies/", operator) if a["code"] == AGENCY
    )

    _ticket_through_api(demo_server, operator, dispatcher, agency_id, 1)
    # Every socket drops with the server; events are written meanwhile straight through the actions.
    demo_server.stop()
    for page in screens.values():
        expect(page.locator("#live-state")).not_to_have_attribute("data-state", "live", timeout=LIVE)
    _db(demo_server, DOWNTIME_WRITES)
    demo_server.start()
    for page in screens.values():
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    _ticket_through_api(demo_server, operator, dispatcher, agency_id, 2)
    if demo_server.redis_port is not None:
        # The doorbell goes away and comes back; the log poll and group renewal carry the events.
        demo_server.restart_redis()
        _ticket_through_api(demo_server, operator, dispatcher, agency_id, 3)
    _ticket_through_api(demo_server, operator, dispatcher, agency_id, 4)

    expected_all = _db(
        demo_server,
        f"from realtime.models import Event; import json; print(json.dumps("
        f"list(Event.objects.filter(id__gt={start}).order_by('id')"
        f".values_list('id', flat=True))))",
    )
    expected_agency = _db(
        demo_server,
        f"from realtime.models import EventAgency; from dispatch.models import Agency; "
        f"import json; print(json.dumps(sorted(EventAgency.objects.filter("
        f"event_id__gt={start}, agency_id=Agency.objects.get(code='{AGENCY}').pk)"
        f".values_list('event_id', flat=True))))",
    )
    assert len(expected_all) >= 15 and expected_agency  # 5+ tickets x (created, work order, dispatched)
    for name, page in screens.items():
        wanted = expected_agency if name == "inbox" else expected_all
        page.wait_for_function(f"() => HotlineLive.applied.includes({wanted[-1]})", timeout=LIVE)
        applied = [i for i in page.evaluate("HotlineLive.applied") if i > start]
        assert len(applied) == len(set(applied)), f"{name} applied an event twice"
        assert sorted(applied) == wanted, f"{name} missed or gained events"
        screenshot(page, f"{name}-after-restarts")
