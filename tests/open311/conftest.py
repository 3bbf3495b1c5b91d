"""Open311 tests: a real HTTP server (pytest-django's live server: Django's own threaded server on a free port,
sharing the test database) and real HTTP clients (requests; the georeport package in one test)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from callcenter.actions import do_create_ticket
from callcenter.models import Ticket
from core import clock
from dispatch.actions import do_dispatch_ticket
from dispatch.actions.work_orders import do_approve_work_order, do_reply_work_order, do_sign_work_order
from dispatch.models import WorkOrder
from exchange.keys.actions import KeyRequest, do_create_key
from organisation.models import Role
from tests.conftest import World, ticket_payload

BASE = "/open311/v2/"


@dataclass
class Open311:
    url: str  # the endpoint's root, ending in /open311/v2/
    world: World
    key: str  # a partner's raw API key with the open311:submit scope

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.url + path, params=params, timeout=30)

    def post(self, path: str, data: dict[str, Any]) -> requests.Response:
        return requests.post(self.url + path, data=data, timeout=30)

    def json(self, path: str, expect: int = 200, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == expect, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        return response.json()

    def xml(self, path: str, expect: int = 200, **params: Any) -> ET.Element:
        response = self.get(path, **params)
        assert response.status_code == expect, response.text
        assert response.headers["Content-Type"].startswith("text/xml")
        assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        return ET.fromstring(response.content)


def issue_key(world: World, *, partner: str = "SF 311", scopes: list[str] | None = None, rate: str = "") -> str:
    """A partner's key as the administrators issue it (its open311:submit scope gives its account the intake role)."""
    key, raw = do_create_key(
        world.users["admin"],
        KeyRequest(
            name=f"{partner} Open311",
            scopes=scopes or ["open311:submit"],
            expires_at=clock.now() + dt.timedelta(days=30),
            partner=partner,
            rate=rate,
        ),
    )
    assert key.user.roles == [Role.OPERATOR] if "open311:submit" in key.scopes else key.user.roles == []
    return raw


@pytest.fixture
def open311(live_server: Any, world: World) -> Open311:
    return Open311(url=live_server.url + BASE, world=world, key=issue_key(world))


def accept(world: World, **overrides: Any) -> Ticket:
    ticket, created = do_create_ticket(ticket_payload(**overrides), actor=world.users["operator"])
    assert created
    return ticket


def replied_and_approved(world: World, ticket: Ticket, reply: str) -> WorkOrder:
    do_dispatch_ticket(ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk)
    order = WorkOrder.objects.get(ticket=ticket)
    do_sign_work_order(order.pk, actor=world.users["handler_a"])
    do_reply_work_order(order.pk, actor=world.users["handler_a"], reply=reply, outcome="resolved")
    return do_approve_work_order(order.pk, actor=world.users["dispatcher"])


def texts(element: ET.Element, path: str) -> list[str]:
    return [node.text or "" for node in element.findall(path)]
