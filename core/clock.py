"""The one time source for domain writes.

Actions read the time here instead of calling timezone.now() directly, so that the demo loader can
replay a month of plausible history and tests can pin the clock, without patching.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

_pinned: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("pinned_now", default=None)


def now() -> dt.datetime:
    pinned = _pinned.get()
    return pinned if pinned is not None else timezone.now()


@contextlib.contextmanager
def pinned_at(moment: dt.datetime) -> Iterator[None]:
    if timezone.is_naive(moment):
        raise ValueError("pinned time must be timezone-aware")
    token = _pinned.set(moment)
    try:
        yield
    finally:
        _pinned.reset(token)


def local_zone() -> ZoneInfo:
    """The city's time zone (settings.TIME_ZONE, Asia/Shanghai): days, deadlines and numbers are local."""
    return ZoneInfo(settings.TIME_ZONE)
