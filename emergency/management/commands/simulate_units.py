"""Move the demo units: each tick sends one AVL report through the real ingest (see simulation.py)."""

from __future__ import annotations

import os
import random
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from emergency.units.simulation import Simulator
from organisation.models import Role, User


class Command(BaseCommand):
    help = "Simulate AVL devices: units patrol, drive to their incidents and back, reporting positions."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between reports (default 2)")
        parser.add_argument("--ticks", type=int, default=0, help="stop after this many reports (default: never)")
        parser.add_argument("--no-auto-status", action="store_true", help="only move; never press status buttons")
        parser.add_argument("--seed", type=int, default=6)
        parser.add_argument("--as-user", default="admin", help="the AVL gateway account (an administrator)")
        parser.add_argument(
            "--stop-with-parent", action="store_true", help="exit when the starting process (e.g. Daphne) ends"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = User.objects.filter(username=options["as_user"]).first()
        if actor is None or not actor.has_role(Role.ADMIN):
            raise CommandError(f"{options['as_user']!r} is not an administrator; load the demo city first.")
        simulator = Simulator(
            actor=actor,
            rng=random.Random(options["seed"]),
            interval=options["interval"],
            auto_status=not options["no_auto_status"],
        )
        ticks = 0
        parent = os.getppid()
        self.stdout.write(f"Simulating units every {options['interval']} s (Ctrl-C stops).")
        try:
            while not options["ticks"] or ticks < options["ticks"]:
                if options["stop_with_parent"] and os.getppid() != parent:
                    break  # the server is gone (we were re-parented)
                started = time.monotonic()
                if not connection.in_atomic_block:  # (inside a test's transaction the connection must stay)
                    close_old_connections()  # a long-running command must not keep a dead connection
                simulator.tick()
                ticks += 1
                if not options["ticks"] or ticks < options["ticks"]:
                    time.sleep(max(0.0, options["interval"] - (time.monotonic() - started)))
        except KeyboardInterrupt:
            pass
        self.stdout.write(f"Sent {ticks} reports.")
