"""Delete events older than the retention window (HOTLINE_EVENT_RETENTION_HOURS, default 24)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from realtime.actions import do_prune_events


class Command(BaseCommand):
    help = "Prune the event log; clients behind the pruned part get a snapshot when they reconnect."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, default=None, help="retention in hours (default: the setting)")

    def handle(self, *args: Any, **options: Any) -> None:
        retention = dt.timedelta(hours=options["hours"]) if options["hours"] is not None else None
        self.stdout.write(f"Pruned {do_prune_events(retention=retention)} events.")
