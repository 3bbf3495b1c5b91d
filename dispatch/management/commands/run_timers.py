"""The timer worker: fire due escalation timers, then sleep until the next one (or until rung).

Run any number of these beside the web processes; see dispatch/deadlines/escalations.py for why that is safe.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import clock
from core.worker import Round, run_loop
from dispatch.deadlines.actions import do_fill_missing_deadlines
from dispatch.deadlines.escalations import DEFAULT_BATCH, DEFAULT_LEASE_SECONDS, fire_due_timers, next_wake_at
from dispatch.deadlines.timers import max_sleep_seconds, wake_bell
from realtime.actions import do_beat

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Fire due escalation timers (warning, yellow card, red card); sleep until the next deadline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="timers claimed per transaction")
        parser.add_argument("--lease", type=float, default=DEFAULT_LEASE_SECONDS, help="claim lease in seconds")
        parser.add_argument(
            "--max-sleep", type=float, default=None, help="longest sleep in seconds (default: the setting, 30)"
        )
        parser.add_argument("--once", action="store_true", help="fire what is due now and exit")
        parser.add_argument(
            "--stop-with-parent", action="store_true", help="exit when the starting process (e.g. Daphne) ends"
        )
        parser.add_argument(
            "--now", type=dt.datetime.fromisoformat, default=None, help="with --once: fire what is due at this time"
        )

    def _fill_missing_deadlines(self) -> None:
        # Clocks that started without a deadline because their year was unknown then (before the provisional
        # calendar, or past every calendar until a year is published) get one as soon as a calendar covers it.
        filled = do_fill_missing_deadlines()
        if filled.recomputed:
            self.stdout.write(f"run_timers: {filled.recomputed} running clocks without a deadline got one")

    def handle(self, *args: Any, **options: Any) -> None:
        batch, lease = options["batch"], options["lease"]
        if options["once"]:
            moment = options["now"]
            if moment is not None and moment.tzinfo is None:
                raise CommandError("--now needs a time zone offset, e.g. 2026-03-04T00:00:00+08:00")
            with clock.pinned_at(moment) if moment is not None else contextlib.nullcontext():
                self._fill_missing_deadlines()
                result = fire_due_timers(batch=batch, lease_seconds=lease)
            self.stdout.write(f"fired {result.fired}, cancelled {result.cancelled}")
            return
        cap = options["max_sleep"] if options["max_sleep"] is not None else max_sleep_seconds()

        def round_once() -> Round:
            do_beat("timers")  # /health/ready: a timer worker is alive
            result = fire_due_timers(batch=batch, lease_seconds=lease)
            if result.claimed:
                logger.info("fired %d, cancelled %d", result.fired, result.cancelled)
            return Round(next_due_at=next_wake_at())

        self._fill_missing_deadlines()
        doorbell = wake_bell()
        self.stdout.write(f"run_timers: ready (batch {batch}, lease {lease:g}s, longest sleep {cap:g}s)")
        self.stdout.flush()
        try:
            run_loop(
                "timers",
                round_once=round_once,
                wait=doorbell.wait,
                longest_sleep=cap,
                stop_with_parent=options["stop_with_parent"],
            )
        finally:
            doorbell.close()
        self.stdout.write("run_timers: stopped")
