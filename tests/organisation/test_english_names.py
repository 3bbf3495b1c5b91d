"""Reference data in the reader's language (issue #17): agencies, subjects and appeal types show their English
names to a user who reads English, and their Chinese names otherwise, in the API the screens use and in the
server-rendered pages. Data without an English name stays Chinese in both."""

from __future__ import annotations

import copy
import datetime as dt
import html
import json
import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from callcenter import actions as intake
from core import clock
from dispatch import actions as dispatching
from dispatch.models import WorkOrder
from organisation.actions import do_load_taxonomy, do_upsert_agency
from tests.conftest import TAXONOMY, World, english_client, ticket_payload
from tests.pinned_time import WORKDAY_MORNING
from tests.second_factor import verified_login

ENGLISH_SUBJECTS = {
    "t-urban": "Urban and rural construction",
    "t-appearance": "City appearance",
    "t-garbage": "Rubbish",
}


def _with_english_subjects(node: dict[str, Any]) -> None:
    if node["code"] in ENGLISH_SUBJECTS:
        node["name_en"] = ENGLISH_SUBJECTS[node["code"]]
    for child in node.get("children", []):
        _with_english_subjects(child)


@pytest.fixture
def scene(world: World) -> dict[str, Any]:
    do_upsert_agency(
        code="cgj",
        name="市城管局",
        name_en="City Urban Management Bureau",
        kind="department",
        function="urban_management",
    )
    taxonomy: dict[str, Any] = copy.deepcopy(TAXONOMY)
    for root in taxonomy["subjects"]:
        _with_english_subjects(root)
    do_load_taxonomy(taxonomy)
    with clock.pinned_at(WORKDAY_MORNING):
        ticket, _created = intake.do_create_ticket(ticket_payload(), actor=world.users["operator"])
        dispatching.do_dispatch_ticket(
            ticket.pk,
            actor=world.users["dispatcher"],
            lead_agency_id=world.agency_a.pk,
            co_agency_ids=[world.agency_b.pk],
            override_reason="测试指定",
        )
    work_order = WorkOrder.objects.get(ticket=ticket, agency=world.agency_a)
    return {"ticket": ticket, "work_order": work_order}


def _api(world: World, who: str, language: str) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    client.force_authenticate(world.users[who])
    return client


def _page(world: World, who: str, language: str) -> Client:
    client = english_client() if language == "en" else Client()
    if who in ("supervisor", "commander", "auditor", "admin"):
        return verified_login(client, world.users[who])
    client.force_login(world.users[who])
    return client


@pytest.mark.parametrize(
    ("language", "agency", "other_agency", "subject", "path", "appeal_type"),
    [
        (
            "en",
            "City Urban Management Bureau",
            "市住建局",
            "Rubbish",
            "Urban and rural construction > City appearance > Rubbish",
            "Complaint",
        ),
        ("zh-hans", "市城管局", "市住建局", "垃圾清运", "城乡建设 > 市容环卫 > 垃圾清运", "投诉"),
    ],
)
def test_names_follow_the_readers_language(
    world: World,
    scene: dict[str, Any],
    language: str,
    agency: str,
    other_agency: str,
    subject: str,
    path: str,
    appeal_type: str,
) -> None:
    ticket, work_order = scene["ticket"], scene["work_order"]
    dispatcher = _api(world, "dispatcher", language)

    # The API the screens read.
    detail = dispatcher.get(f"/api/work-orders/{work_order.pk}/").json()
    assert detail["agency"]["name"] == agency
    assert detail["ticket"]["subject"] == path
    listed = {a["code"]: a["name"] for a in dispatcher.get("/api/agencies/").json()}
    assert listed["cgj"] == agency and listed["zjj"] == other_agency  # no English name: Chinese in both
    found = dispatcher.get(f"/api/tickets/{ticket.pk}/").json()
    assert found["subject"]["name"] == subject and found["subject"]["path"] == path
    queue_rows = dispatcher.get("/api/search/tickets/", {"q": ticket.number}).json()["results"]
    (row,) = [r for r in queue_rows if r["ticket"]["number"] == ticket.number]
    assert row["ticket"]["subject"]["path"] == path
    assert {wo["agency"]["name"] for wo in row["work_orders"]} == {agency, other_agency}
    handler = _api(world, "handler_a", language)
    assert handler.get(f"/api/work-orders/{work_order.pk}/").json()["agency"]["name"] == agency
    with clock.pinned_at(WORKDAY_MORNING + dt.timedelta(hours=1)):
        board = _api(world, "supervisor", language).get(
            "/api/supervision/kpis/", {"from": "2026-03-02", "to": "2026-03-03"}
        )
    assert board.status_code == 200, board.content
    names = {row["agency"]["code"]: row["agency"]["name"] for row in board.json()["agencies"]}
    assert names["cgj"] == agency and names["zjj"] == other_agency

    # The pages rendered on the server.
    page = _page(world, "dispatcher", language).get(f"/tickets/{ticket.number}/").content.decode()
    assert appeal_type in page and agency in page
    workbench = _page(world, "dispatcher", language).get("/work/").content.decode()
    assert agency in workbench and html.escape(path) in workbench
    console = _page(world, "operator", language).get("/console/").content.decode()
    found_config = re.search(r'<script id="screen-config" type="application/json">(.*?)</script>', console, re.S)
    assert found_config is not None
    config = json.loads(found_config[1])
    assert {a["code"]: a["name"] for a in config["appeal_types"]}["complaint"] == appeal_type
    assert {s["code"]: s["path"] for s in config["subjects"]}["t-garbage"] == path


def test_a_screens_own_api_requests_speak_the_screens_language(world: World, scene: dict[str, Any]) -> None:
    """A browser set up in English shows Chinese screens by default; the data a screen loads (its requests carry
    the session) is Chinese too, not English from Accept-Language. Integrations (no session) still get it."""
    screen = Client()
    screen.force_login(world.users["dispatcher"])
    agencies = screen.get("/api/agencies/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").json()
    assert {a["code"]: a["name"] for a in agencies}["cgj"] == "市城管局"
    chosen = english_client()
    chosen.force_login(world.users["dispatcher"])
    agencies = chosen.get("/api/agencies/").json()
    assert {a["code"]: a["name"] for a in agencies}["cgj"] == "City Urban Management Bureau"
    integration = _api(world, "dispatcher", "en")
    agencies = integration.get("/api/agencies/").json()
    assert {a["code"]: a["name"] for a in agencies}["cgj"] == "City Urban Management Bureau"
