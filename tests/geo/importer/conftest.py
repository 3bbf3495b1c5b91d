"""Fixtures of the importer tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gis import index as spatial_index


@pytest.fixture(autouse=True)
def fresh_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no cached spatial index.

    The cache is keyed by the active layers' (level, id); SQLite rolls the id sequence back with each test's
    transaction, so the next test's first layer gets the same id and would otherwise hit the old cache.
    """
    monkeypatch.setattr(spatial_index, "_current", None)
    yield
