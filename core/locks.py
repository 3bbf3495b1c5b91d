"""The one lock order of the write path, and the one way to take row locks.

Every action that changes rows locks them first, always in this order, each kind in primary-key order:

1. tickets (dispatch/locks.py),
2. the work orders of those tickets (dispatch/locks.py),
3. incidents (emergency/locks.py),
4. the agency links (tasks) of those incidents (emergency/locks.py),
5. units (emergency/locks.py).

Two actions then never wait on each other in opposite orders. Locks name their own table
(``of=("self",)``): a row read through ``select_related`` is read, not locked - on PostgreSQL a plain
``FOR UPDATE`` over a join would lock the joined Subject or Agency row too and tie unrelated cases together.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.db import models

from core.errors import NotFound

M = TypeVar("M", bound=models.Model)


def lock_one(rows: models.QuerySet[M], pk: int, *, missing: str) -> M:
    """One row, locked; NotFound(missing) when it does not exist (or is outside ``rows``)."""
    row = rows.select_for_update(of=("self",)).filter(pk=pk).first()
    if row is None:
        raise NotFound(missing)
    return row


def lock_many(rows: models.QuerySet[M], pks: Iterable[int], *, missing: str) -> dict[int, M]:
    """Rows by pk, locked in pk order; NotFound(missing) unless every pk exists."""
    ids = sorted(set(pks))
    locked = {row.pk: row for row in rows.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")}
    if len(locked) != len(ids):
        raise NotFound(missing)
    return locked


def lock_all(rows: models.QuerySet[M]) -> list[M]:
    """Every row of ``rows``, locked in pk order."""
    return list(rows.select_for_update(of=("self",)).order_by("pk"))
