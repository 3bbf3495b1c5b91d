"""The work-order list's text filters refuse a NUL character with a 400 naming the filter (PostgreSQL takes no
NUL in text, so it reached the database as a 500 there; schemathesis found it)."""

from __future__ import annotations

import pytest

from tests.conftest import World


@pytest.mark.parametrize("name", ["state", "agency", "ticket"])
def test_a_nul_in_a_filter_is_a_400_naming_it(world: World, name: str) -> None:
    client = world.client("dispatcher")
    response = client.get("/api/work-orders/", {name: "a\x00b"})
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [name]
    assert client.get("/api/work-orders/", {name: "ab"}).status_code == 200
