"""The outbox worker: send due deliveries (webhooks and the kinds other apps register), then sleep until the
next is due.

Run any number beside the web processes and the timer workers; exchange/outbox.py says why that is safe.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.worker import Round, run_loop
from exchange.outbox import DEFAULT_BATCH, DEFAULT_LEASE_SECONDS, drain, drain_once, next_due_at, setting
from realtime.actions import do_beat

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Send due outbox deliveries (signed webhooks and others), with retries; sleep until the next is due."

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

        def round_once() -> Round:
            do_beat("outbox")
            result = drain_once(batch=batch, lease_seconds=lease)
            if result.claimed:
                logger.info(
                    "outbox round: delivered %d, failed %d, parked %d", result.delivered, result.failed, result.parked
                )
                return Round(again=True)  # more may be due now
            return Round(next_due_at=next_due_at())

        self.stdout.write(f"run_outbox: ready (batch {batch}, lease {lease:g}s, longest sleep {cap:g}s)")
        self.stdout.flush()
        run_loop(
            "outbox",
            round_once=round_once,
            wait=threading.Event().wait,
            longest_sleep=cap,
            stop_with_parent=options["stop_with_parent"],
        )
        self.stdout.write("run_outbox: stopped")
