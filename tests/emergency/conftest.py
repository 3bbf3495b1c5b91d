"""Fixtures every emergency test gets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dispatch.emergency.unit_index import forget_index


@pytest.fixture(autouse=True)
def fresh_unit_index() -> Iterator[None]:
    """Each test starts with no cached units index, as a new process would (the database was rolled back)."""
    forget_index()
    yield
    forget_index()
