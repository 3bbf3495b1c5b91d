"""Possible duplicates before a ticket is accepted, and repeats of a closed ticket of the same caller."""

from __future__ import annotations

from callcenter.models import Ticket, TicketState
from tests.conftest import World, ticket_payload

URL = "/api/intake/duplicates/"


def _take(world: World, **overrides: object) -> dict:  # type: ignore[type-arg]
    response = world.client("operator").post("/api/tickets/", ticket_payload(**overrides), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_an_open_ticket_nearby_and_a_closed_one_of_the_same_caller_are_shown_before_intake(world: World) -> None:
    nearby = _take(world, phone="13900001111", latitude=24.3126, longitude=109.4112)
    closed = _take(world, phone="13812341234", latitude=24.40, longitude=109.50)
    # The earlier matter of this caller was closed (the lifecycle itself is tested elsewhere).
    Ticket.objects.filter(pk=closed["id"]).update(state=TicketState.CLOSED)
    response = world.client("operator").post(
        URL,
        {"subject": "t-garbage", "phone": "13812341234", "latitude": 24.31261, "longitude": 109.41121},
        format="json",
    )
    assert response.status_code == 200, response.content
    rows = {row["id"]: row for row in response.json()["candidates"]}
    assert rows[nearby["id"]]["same_subject"] and not rows[nearby["id"]]["repeat"]
    assert rows[closed["id"]]["repeat"] and rows[closed["id"]]["same_caller"]
    assert rows[closed["id"]]["state_label"] == "已办结"
    # Open tickets (merge masters) come before repeats.
    assert [row["repeat"] for row in response.json()["candidates"]] == sorted(
        row["repeat"] for row in response.json()["candidates"]
    )


def test_a_repeat_is_flagged_on_an_accepted_ticket_too(world: World) -> None:
    closed = _take(world)
    Ticket.objects.filter(pk=closed["id"]).update(state=TicketState.CLOSED)
    again = _take(world, latitude=24.5, longitude=109.6)
    response = world.client("dispatcher").get(f"/api/tickets/{again['id']}/duplicates/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["candidates"] if row["repeat"]] == [closed["id"]]


def test_bad_input_is_named_and_agencies_may_not_ask(world: World) -> None:
    client = world.client("operator")
    bad = client.post(URL, {"subject": "no-such", "phone": "12", "latitude": 24.3}, format="json")
    assert bad.status_code == 400
    assert {"subject", "phone", "latitude"} <= set(bad.json()["fields"])
    assert client.post(URL, {"subject": "t-garbage", "latitude": True}, format="json").status_code == 400
    assert world.client("handler_a").post(URL, {"subject": "t-garbage"}, format="json").status_code == 403
