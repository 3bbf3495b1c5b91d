"""The loop every background worker runs (timers, outbox): a round, then a sleep until the next work is due.

A round claims and does what is due and says when the next work falls due. The loop:

- runs rounds until SIGTERM or SIGINT; a signal during a round lets that round finish, a signal during the
  sleep ends the sleep at once (the handler raises out of the blocking wait, whatever the wait is);
- survives a failing round (a database restart, say): it logs it, drops the broken connections and sleeps
  the longest sleep, because the rows are still there next time;
- with ``stop_with_parent``, ends when the process that started it ends (Linux: the kernel sends SIGTERM;
  elsewhere the loop notices a new parent pid within the longest sleep).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from django.db import close_old_connections

from core import clock

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Round:
    """What a round found: ``again`` runs the next round at once (it may not have finished what is due)."""

    again: bool = False
    next_due_at: dt.datetime | None = None


class _Stop(Exception):
    pass


def term_when_parent_dies() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def run_loop(
    name: str,
    *,
    round_once: Callable[[], Round],
    wait: Callable[[float], object],
    longest_sleep: float,
    stop_with_parent: bool = False,
) -> None:
    """Run rounds until stopped. ``wait(seconds)`` blocks for at most that long (a doorbell may end it early)."""
    stopping = sleeping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if sleeping:
            raise _Stop

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parent = os.getppid()
    if stop_with_parent:
        term_when_parent_dies()
    with contextlib.suppress(_Stop):  # raised by the handler only while waiting
        while not stopping:
            try:
                found = round_once()
            except Exception:
                logger.exception("%s round failed", name)
                close_old_connections()
                found = Round()
            if found.again:
                continue
            due = found.next_due_at
            sleep = longest_sleep if due is None else (due - clock.now()).total_seconds()
            sleep = min(max(sleep, 0.0), longest_sleep)
            if sleep > 0 and not stopping:
                sleeping = True
                try:
                    wait(sleep)
                finally:
                    sleeping = False
            if stop_with_parent and os.getppid() != parent:
                break
