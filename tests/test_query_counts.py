"""Reads cost a constant number of queries however many rows they return (no N+1).

Each test measures a GET with a few rows, adds ten more rows of every related kind, and measures
again: the count must be identical, and the response must really have grown.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter import actions as intake
from callcenter.models import Ticket
from dispatch import actions as dispatching
from dispatch.actions import tickets as ticket_actions
from dispatch.models import WorkOrder
from organisation import actions as organisation_actions
from organisation.models import Subject
from tests.conftest import World, ticket_payload

PHONE = "13812341234"
_serial = itertools.count(1)


def _ticket(world: World, **overrides: Any) -> Ticket:
    ticket, _created = intake.do_create_ticket(ticket_payload(**overrides), actor=world.users["operator"])
    return ticket


def grow(world: World, n: int) -> None:
    """n more dispatched tickets (lead agency_a, co agency_b; the lead signed), articles, agencies, subjects."""
    users = world.users
    parent = Subject.objects.get(code="t-appearance")
    for _ in range(n):
        k = next(_serial)
        ticket = _ticket(world, caller_confidential=k % 2 == 0, caller_name=f"市民{k}")
        dispatching.do_dispatch_ticket(
            ticket.pk, actor=users["dispatcher"], lead_agency_id=world.agency_a.pk, co_agency_ids=[world.agency_b.pk]
        )
        lead = WorkOrder.objects.get(ticket=ticket, agency=world.agency_a)
        dispatching.do_sign_work_order(lead.pk, actor=users["handler_a"])
        intake.do_save_article(
            {
                "code": f"kb-{k}",
                "title": f"垃圾清运指引{k}",
                "body": "垃圾清运的办理说明。",
                "subjects": ["t-garbage", "t-vendors"],
                "keywords": "垃圾 清运",
            }
        )
        organisation_actions.do_upsert_agency(
            code=f"street-{k}", name=f"街道{k}", kind="street", function="street_office", parent_code="cgj"
        )
        organisation_actions.do_save_subject(
            Subject(code=f"t-extra-{k}", name=f"其他{k}", parent=parent), actor=None, changed=()
        )


def count(client: APIClient, url: str) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries.captured_queries), response.json()


def rows(body: Any) -> int:
    if isinstance(body, list):
        return len(body)
    for key in ("results", "tickets"):
        if key in body:
            return len(body[key])
    raise AssertionError(body)


LIST_URLS = {
    "tickets": "/api/tickets/",
    "work-orders": "/api/work-orders/",
    "knowledge": "/api/knowledge/",
    "agencies": "/api/agencies/",
    "subjects": "/api/subjects/",
    "appeal-types": "/api/appeal-types/",
}
CASES = [(name, who) for name in LIST_URLS for who in ("dispatcher", "handler_a")]


@pytest.mark.parametrize(("name", "who"), CASES, ids=[f"{name}-{who}" for name, who in CASES])
def test_list_query_count_does_not_grow_with_rows(
    world: World, name: str, who: str, django_assert_num_queries: Callable[..., Any]
) -> None:
    url = LIST_URLS[name]
    client = world.client(who)
    grow(world, 3)
    client.get(url)  # warm-up: first-request work is not what is measured
    queries, small = count(client, url)
    grow(world, 10)
    with django_assert_num_queries(queries):
        response = client.get(url)
    big = response.json()
    if name != "appeal-types":  # a fixed list; measured anyway to catch stray per-row queries
        assert rows(big) >= rows(small) + 10
    if who == "handler_a" and name in ("tickets", "work-orders"):
        assert PHONE not in json.dumps(big) and rows(big) == 13


def test_caller_history_query_count_does_not_grow_with_rows(world: World) -> None:
    """Caller history is for the centre only (agencies get 403: see tests/access/)."""
    client = world.client("dispatcher")

    def lookup() -> tuple[int, Any]:
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/api/callers/history/", {"phone": PHONE}, format="json")
        assert response.status_code == 200, response.content
        return len(queries.captured_queries), response.json()

    grow(world, 3)
    lookup()
    queries, small = lookup()
    grow(world, 10)
    more_queries, big = lookup()
    assert rows(big) == rows(small) + 10
    assert more_queries == queries


@pytest.mark.parametrize("who", ["dispatcher", "handler_a"])
def test_knowledge_search_query_count_does_not_grow_with_hits(world: World, who: str) -> None:
    """Search hits come from in_bulk(); their subjects must be prefetched (was one query per hit)."""
    client = world.client(who)
    url = "/api/knowledge/?q=垃圾清运"
    grow(world, 3)
    client.get(url)
    queries, small = count(client, url)
    grow(world, 10)
    more_queries, big = count(client, url)
    assert (rows(small), rows(big)) == (3, 10)
    assert more_queries == queries


def _busy_ticket(world: World) -> tuple[Ticket, WorkOrder]:
    ticket = _ticket(world)
    dispatching.do_dispatch_ticket(
        ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk, co_agency_ids=[world.agency_b.pk]
    )
    lead = WorkOrder.objects.get(ticket=ticket, agency=world.agency_a)
    dispatching.do_sign_work_order(lead.pk, actor=world.users["handler_a"])
    return ticket, lead


def _pile_onto(world: World, ticket: Ticket, lead: WorkOrder) -> None:
    """Extension and supervision rounds on the lead, ten more callers (merged duplicates), then the lead
    returns and the ticket is re-dispatched with ten co-handlers: eleven more work orders."""
    users = world.users
    for k in range(5):
        due = timezone.now() + dt.timedelta(days=60 + 10 * k)
        dispatching.do_request_extension(lead.pk, actor=users["handler_a"], reason=f"延期{k}", requested_due_at=due)
        dispatching.do_decide_extension(lead.pk, actor=users["dispatcher"], approve=True, note="同意")
        dispatching.do_supervise_work_order(lead.pk, actor=users["supervisor"], instruction=f"督办{k}")
        dispatching.do_answer_supervision(lead.pk, actor=users["handler_a"], answer=f"答复{k}")
        dispatching.do_urge_work_order(lead.pk, actor=users["dispatcher"], note=f"催办{k}")
    for k in range(10):
        duplicate = _ticket(world, phone=f"1390000{k:04d}", caller_name=f"重复{k}", caller_confidential=True)
        ticket_actions.do_merge_ticket(duplicate.pk, actor=users["operator"], master_id=ticket.pk, note="重复诉求")
    dispatching.do_return_work_order(lead.pk, actor=users["handler_a"], reason="需另行指定", legal_basis="三定方案")
    dispatching.do_approve_return(lead.pk, actor=users["dispatcher"], reason="同意退回")
    co_handlers = [
        organisation_actions.do_upsert_agency(
            code=f"extra-{k}", name=f"单位{k}", kind="department", function="urban_management"
        ).pk
        for k in range(10)
    ]
    dispatching.do_redispatch_ticket(
        ticket.pk, actor=users["dispatcher"], lead_agency_id=world.agency_a.pk, co_agency_ids=co_handlers
    )


@pytest.mark.parametrize("who", ["dispatcher", "handler_a"])
def test_ticket_detail_query_count_does_not_grow(
    world: World, who: str, django_assert_num_queries: Callable[..., Any]
) -> None:
    ticket, lead = _busy_ticket(world)
    client = world.client(who)
    urls = [
        f"/api/tickets/{ticket.pk}/",
        f"/api/tickets/{ticket.pk}/timeline/",
        f"/api/work-orders/{lead.pk}/",
        f"/api/work-orders/{lead.pk}/timeline/",
    ]
    for url in urls:
        client.get(url)
    before = {url: count(client, url) for url in urls}
    _pile_onto(world, ticket, lead)
    for url in urls:
        queries, small = before[url]
        with django_assert_num_queries(queries):
            big = client.get(url).json()
        if url.endswith("/timeline/"):
            assert len(big) > len(small) + 10
    detail = client.get(f"/api/tickets/{ticket.pk}/").json()
    assert len(detail["callers"]) == 11
    assert len(detail["work_orders"]) == (13 if who == "dispatcher" else 2)
    wo = client.get(f"/api/work-orders/{lead.pk}/").json()
    assert len(wo["extension_requests"]) == 5 and len(wo["supervision_cases"]) == 5
