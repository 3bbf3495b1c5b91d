"""Accept the Open311 service requests posted in asynchronous mode (HOTLINE["OPEN311_ASYNC"]): their tokens then
name their tickets. Once with --once; otherwise it keeps polling (every --interval seconds when idle)."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from open311.actions import do_process_submissions


class Command(BaseCommand):
    help = "Accept Open311 service requests waiting behind a token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Process what is waiting, then exit.")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds between polls when idle.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            handled = do_process_submissions(limit=10_000)
            self.stdout.write(f"{handled}")
            return
        idle = threading.Event()
        while True:
            if do_process_submissions() == 0:
                idle.wait(max(0.1, options["interval"]))
