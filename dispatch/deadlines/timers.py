"""Timer rows of the escalation ladder, and the doorbell that wakes sleeping timer workers.

Actions call arm_clock() when a stage clock starts and cancel_clocks() when clocks stop, inside their
transaction. A worker sleeps until the next due timer (at most MAX_SLEEP_SECONDS); creating a timer that
falls due sooner than that rings the doorbell after commit so that a sleeping worker looks again:

- PostgreSQL: ``NOTIFY hotline_timers`` in the writing transaction (delivered on commit, to any machine).
- SQLite (one machine by nature): the doorbell "timers" on this machine.

Both are the one wake-up primitive's transports (core/doorbell.py).

A lost ring costs at most MAX_SLEEP_SECONDS of lag, never a lost timer: the rows are the truth.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import doorbell
from dispatch.models import Escalation, EscalationLevel, StageClock, Timer, TimerOutcome

PG_CHANNEL = "hotline_timers"
BELL = "timers"


def max_sleep_seconds() -> float:
    return float(settings.HOTLINE.get("TIMER_MAX_SLEEP_SECONDS", 30))


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


# --- arming ----------------------------------------------------------------------------------------


def timers_for(clock_row: StageClock, *, skip_levels: Iterable[str] = ()) -> list[Timer]:
    from dispatch.deadlines.policies import levels

    wanted = set(levels()) - set(skip_levels)
    rows = []
    if clock_row.warn_at is not None and EscalationLevel.WARNING in wanted:
        rows.append(Timer(clock=clock_row, level=EscalationLevel.WARNING, fire_at=clock_row.warn_at))
    if clock_row.due_at is not None and EscalationLevel.OVERDUE in wanted:
        rows.append(Timer(clock=clock_row, level=EscalationLevel.OVERDUE, fire_at=clock_row.due_at))
    return rows


def arm_clock(clock_row: StageClock, *, skip_levels: Iterable[str] = ()) -> list[Timer]:
    """Create the pending timers of a clock that just started (inside the caller's transaction)."""
    rows = Timer.objects.bulk_create(timers_for(clock_row, skip_levels=skip_levels))
    ring_if_soon(t.fire_at for t in rows)
    return rows


def cancel_clocks(clock_ids: list[int], at: dt.datetime) -> int:
    """Cancel timers of stopped clocks that were not due yet; ones already due still fire (they were true)."""
    if not clock_ids:
        return 0
    return Timer.objects.filter(clock_id__in=clock_ids, done_at__isnull=True, fire_at__gt=at).update(
        done_at=at, outcome=TimerOutcome.CANCELLED, claim_token="", claimed_until=None
    )


def fired_levels(clock_id: int) -> set[str]:
    return set(Escalation.objects.filter(clock_id=clock_id).values_list("level", flat=True))


# --- the doorbell ----------------------------------------------------------------------------------


def ring_if_soon(fire_times: Iterable[dt.datetime]) -> None:
    """Ring after commit when a new timer falls due before a sleeping worker would look anyway."""
    # Wall-clock time on purpose: workers sleep in real time, whatever time an action was pinned to.
    horizon = timezone.now() + dt.timedelta(seconds=max_sleep_seconds())
    if not any(t <= horizon for t in fire_times):
        return
    if is_postgres():
        doorbell.notify_postgres(PG_CHANNEL)
    else:
        transaction.on_commit(lambda: doorbell.ring(BELL), robust=True)


def wake_bell() -> doorbell.PostgresBell | doorbell.SocketBell:
    """What a worker sleeps on: PostgreSQL LISTEN, or the doorbell "timers" on this machine."""
    return doorbell.PostgresBell(PG_CHANNEL) if is_postgres() else doorbell.SocketBell(BELL)
