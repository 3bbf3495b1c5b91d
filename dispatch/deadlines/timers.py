"""Timer rows of the escalation ladder, and the doorbell that wakes sleeping timer workers.

Actions call arm_clock() when a stage clock starts and cancel_clocks() when clocks stop, inside their
transaction. A worker sleeps until the next due timer (at most MAX_SLEEP_SECONDS); creating a timer that
falls due sooner than that rings the doorbell after commit so that a sleeping worker looks again:

- PostgreSQL: ``NOTIFY hotline_timers`` in the writing transaction (delivered on commit, to any machine).
- SQLite (one machine by nature): a datagram to each worker's Unix socket in VAR_DIR/timer-wake/.

A lost ring costs at most MAX_SLEEP_SECONDS of lag, never a lost timer: the rows are the truth.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import select
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dispatch.models import Escalation, EscalationLevel, StageClock, Timer, TimerOutcome

PG_CHANNEL = "hotline_timers"


def max_sleep_seconds() -> float:
    return float(settings.HOTLINE.get("TIMER_MAX_SLEEP_SECONDS", 30))


def wake_dir() -> Path:
    return Path(settings.VAR_DIR) / "timer-wake"


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
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {PG_CHANNEL}")
    else:
        transaction.on_commit(ring_local_workers, robust=True)


def ring_local_workers() -> None:
    directory = wake_dir()
    if not directory.is_dir():
        return
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sender.setblocking(False)
    try:
        for path in directory.glob("*.sock"):
            try:
                sender.sendto(b"!", str(path))
            except (ConnectionRefusedError, FileNotFoundError):
                # The worker is gone: its socket file is stale.
                with contextlib.suppress(OSError):
                    path.unlink()
            except (BlockingIOError, OSError):
                # Its queue is full: it has been rung already.
                pass
    finally:
        sender.close()


class Doorbell:
    """What a worker waits on: a PostgreSQL LISTEN connection or a Unix datagram socket."""

    def __init__(self) -> None:
        self._pg: Any = None
        self._sock: socket.socket | None = None
        self._path: Path | None = None
        if is_postgres():
            import psycopg

            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            params.pop("prepare_threshold", None)
            self._pg = psycopg.connect(**params, autocommit=True)
            self._pg.execute(f"LISTEN {PG_CHANNEL}")
        else:
            directory = wake_dir()
            directory.mkdir(parents=True, exist_ok=True)
            self._path = directory / f"{os.getpid()}.sock"
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.bind(str(self._path))
            self._sock.setblocking(False)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when rung."""
        seconds = max(0.0, seconds)
        if self._pg is not None:
            rung = False
            for _notice in self._pg.notifies(timeout=seconds, stop_after=1):
                rung = True
            # Several rings may be queued: one look at the table answers them all.
            for _notice in self._pg.notifies(timeout=0):
                pass
            return rung
        assert self._sock is not None
        readable, _w, _x = select.select([self._sock], [], [], seconds)
        if not readable:
            return False
        with contextlib.suppress(BlockingIOError):
            while self._sock.recv(64):
                pass
        return True

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
        if self._sock is not None:
            self._sock.close()
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
