"""The outbox worker: send due deliveries (webhooks), then sleep until the next is due (or until rung).

Run any number beside the web processes and the timer workers; exchange/outbox.py says why that is safe.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from core import clock
from exchange.outbox import DEFAULT_BATCH, DEFAULT_LEASE_SECONDS, drain, drain_once, next_due_at, setting
from realtime.actions import do_beat

logger = logging.getLogger(__name__)


def _term_when_parent_dies() -> None:
    """Linux: SIGTERM when the parent ends; elsewhere the loop notices a new parent pid."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class Command(BaseCommand):
    help = "Send due outbox deliveries (signed webhooks), with retries; sleep until the next one is due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="deliveries claimed per round")
        parser.add_argument("--lease", type=float, default=DEFAULT_LEASE_SECONDS, help="claim lease in seconds")
        parser.add_argument(
            "--max-sleep", type=float, default=None, help="longest sleep in seconds (default: the setting, 5)"
        )
        parser.add_argument("--once", action="store_true", help="send what is due now and exit")
        parser.add_argument("--stop-with-parent", action="store_true", help="exit when the starting process ends")

    def handle(self, *args: Any, **options: Any) -> None:
        batch, lease = options["batch"], options["lease"]
        if options["once"]:
            result = drain(batch=batch, lease_seconds=lease)
            self.stdout.write(f"delivered {result.delivered}, failed {result.failed}, parked {result.parked}")
            return
        cap = options["max_sleep"] if options["max_sleep"] is not None else setting("OUTBOX_MAX_SLEEP_SECONDS", 5)
        stop = threading.Event()

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            stop.set()  # ends the sleep at once; a round in progress finishes its current send first

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        parent = os.getppid()
        if options["stop_with_parent"]:
            _term_when_parent_dies()
        self.stdout.write(f"run_outbox: ready (batch {batch}, lease {lease:g}s, longest sleep {cap:g}s)")
        self.stdout.flush()
        while not stop.is_set():
            try:
                do_beat("outbox")
                result = drain_once(batch=batch, lease_seconds=lease)
                if result.claimed:
                    logger.info(
                        "outbox round: delivered %d, failed %d, parked %d",
                        result.delivered,
                        result.failed,
                        result.parked,
                    )
                    continue  # more may be due now
                due = next_due_at()
            except Exception:
                # A database hiccup must not end the worker; the rows are still there next time.
                logger.exception("outbox round failed")
                close_old_connections()
                due = None
            sleep = cap if due is None else (due - clock.now()).total_seconds()
            stop.wait(min(max(sleep, 0.0), cap))
            if options["stop_with_parent"] and os.getppid() != parent:
                break
        self.stdout.write("run_outbox: stopped")
