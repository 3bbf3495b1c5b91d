"""One installation, several cities: each city's centre screens receive that city's live events and snapshot,
installation-wide events reach every city, and staff named to no city see every city (issue #19)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from callcenter.actions import do_create_ticket
from callcenter.models import Ticket
from config.asgi import application
from dispatch.deadlines.escalations import escalation_events
from dispatch.snapshots import open_tickets, open_work_orders
from organisation.actions import do_upsert_agency, do_upsert_user
from organisation.models import Role, User
from realtime.audience import audience_of, may_receive
from realtime.events import append_event
from realtime.models import Event
from realtime.queries import events_for, snapshot
from tests.conftest import World, ticket_payload
from tests.geo.test_cities import IN_ALPHA_WEST, IN_BETA, Cities, two_cities
from tests.sockets import ORIGIN, session_cookie


@pytest.fixture
def cities(world: World) -> Cities:
    return two_cities(world)


WAIT = 10  # seconds a test waits for a message that must come (a failure, not a sleep)
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _staff(cities: Cities) -> dict[str, User]:
    """An alpha dispatcher, a beta operator (through beta's centre) and the installation-wide admin."""
    beta_centre = do_upsert_agency(code="beta-12345", name="乙市12345", kind="centre", function="hotline")
    beta_centre.city = cities.beta
    beta_centre.save(update_fields=["city"])
    beta = do_upsert_user(username="beta_operator", password=None, roles=[Role.OPERATOR], agency_code="beta-12345")
    alpha = cities.world.users["dispatcher"]
    alpha.city = cities.alpha
    alpha.save(update_fields=["city"])
    return {"alpha": alpha, "beta": User.objects.get(pk=beta.pk), "admin": cities.world.users["admin"]}


def _ticket_at(point: tuple[float, float], actor: User) -> Ticket:
    lon, lat = point
    ticket, _ = do_create_ticket(ticket_payload(latitude=lat, longitude=lon), actor=actor)
    return ticket


@pytest.mark.django_db
def test_each_citys_centre_receives_its_own_citys_events_and_installation_wide_ones(cities: Cities) -> None:
    staff = _staff(cities)
    alpha, beta, admin = (audience_of(staff[who]) for who in ("alpha", "beta", "admin"))
    assert alpha is not None and beta is not None and admin is not None
    assert (alpha.city_id, beta.city_id, admin.city_id) == (cities.alpha.pk, cities.beta.pk, None)
    assert len({alpha.group_key, beta.group_key, admin.group_key}) == 3  # never one encoding for two scopes

    in_beta = _ticket_at(IN_BETA, staff["alpha"])  # the place decides the city, not the centre taking the call
    in_alpha = _ticket_at(IN_ALPHA_WEST, staff["beta"])
    with transaction.atomic():
        wide = append_event("reference.changed", {"kind": "subject", "id": 1, "action": "changed", "fields": []})
    beta_events = list(Event.objects.filter(ticket_id=in_beta.pk))
    alpha_events = list(Event.objects.filter(ticket_id=in_alpha.pk))
    assert beta_events and {e.city_id for e in beta_events} == {cities.beta.pk}
    assert alpha_events and {e.city_id for e in alpha_events} == {cities.alpha.pk}

    def seen(audience: Any) -> set[int]:
        return set(events_for(audience).values_list("id", flat=True))

    everything = {e.pk for e in [*beta_events, *alpha_events, wide]}
    assert seen(alpha) & everything == {wide.pk, *(e.pk for e in alpha_events)}
    assert seen(beta) & everything == {wide.pk, *(e.pk for e in beta_events)}
    assert seen(admin) & everything == everything
    # The live path decides exactly as the replay query does.
    for audience in (alpha, beta, admin):
        assert {e.pk for e in [*beta_events, *alpha_events, wide] if may_receive(audience, e)} == seen(audience) & (
            everything
        )


@pytest.mark.django_db
def test_a_citys_snapshot_holds_only_its_own_open_work(cities: Cities) -> None:
    staff = _staff(cities)
    in_beta = _ticket_at(IN_BETA, staff["admin"])
    in_alpha = _ticket_at(IN_ALPHA_WEST, staff["admin"])
    alpha, beta, admin = (audience_of(staff[who]) for who in ("alpha", "beta", "admin"))
    assert alpha is not None and beta is not None and admin is not None
    assert {row["id"] for row in open_tickets(alpha)} == {in_alpha.pk}
    assert {row["id"] for row in open_tickets(beta)} == {in_beta.pk}
    assert {row["id"] for row in open_tickets(admin)} >= {in_alpha.pk, in_beta.pk}
    assert all(row["ticket_id"] == in_alpha.pk for row in open_work_orders(alpha))
    assert {row["id"] for row in snapshot(beta)["tickets"]} == {in_beta.pk}


def test_escalations_are_announced_per_agency_and_city() -> None:
    """The timer worker's batch may hold the centre's own stages of two cities' tickets: one event per city."""
    item = {"escalation_id": 1, "ticket_id": 7}
    other = {"escalation_id": 2, "ticket_id": 8}
    events = escalation_events({(None, 1): [item], (None, 2): [other], (5, 1): [{**item, "escalation_id": 3}]}, AT)
    assert [(agencies, city) for _payload, _ticket, agencies, city in events] == [([], 1), ([], 2), ([5], 1)]


# --- the sockets themselves ---------------------------------------------------------------------------------


async def _live_socket(user: User) -> WebsocketCommunicator:
    cookie = await database_sync_to_async(session_cookie)(user)
    socket = WebsocketCommunicator(application, "/ws/events/", headers=[ORIGIN, cookie])
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    while json.loads(await socket.receive_from(timeout=WAIT))["kind"] != "live":
        pass
    return socket


async def _next_event(socket: WebsocketCommunicator) -> dict[str, Any]:
    message = json.loads(await socket.receive_from(timeout=WAIT))
    return message["events"][0] if message["kind"] == "events" else message


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_citys_screen_is_not_sent_another_citys_ticket(cities: Cities, stop_hubs: None) -> None:
    staff = await database_sync_to_async(_staff)(cities)
    alpha_socket = await _live_socket(staff["alpha"])
    beta_socket = await _live_socket(staff["beta"])
    in_beta = await database_sync_to_async(_ticket_at)(IN_BETA, staff["admin"])
    first_beta = await _next_event(beta_socket)
    assert first_beta["type"] == "ticket.created" and first_beta["ticket_id"] == in_beta.pk
    # Then a ticket in alpha: alpha's screen's first event is that one; beta's was never sent to it.
    in_alpha = await database_sync_to_async(_ticket_at)(IN_ALPHA_WEST, staff["admin"])
    first_alpha = await _next_event(alpha_socket)
    assert first_alpha["type"] == "ticket.created" and first_alpha["ticket_id"] == in_alpha.pk
    await alpha_socket.disconnect()
    await beta_socket.disconnect()
