"""Simulate the telephone system: calls ring, are answered at an extension, and end."""

from __future__ import annotations

import random
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from callcenter.actions import do_record_call_event
from organisation.models import Role, User


class Command(BaseCommand):
    help = "Simulate incoming calls (ringing, answered at an extension, ended) through the CTI action."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--extension", default="8001", help="the answering operator's extension")
        parser.add_argument("--phone", action="append", help="caller numbers (default: random mobiles)")
        parser.add_argument("--count", type=int, default=1)
        parser.add_argument("--talk-seconds", type=float, default=0.0, help="time between answered and ended")
        parser.add_argument("--keep-open", action="store_true", help="leave the last call answered")

    def handle(self, *args: Any, **options: Any) -> None:
        reporter = (
            User.objects.filter(is_active=True, roles__icontains=Role.ADMIN).order_by("id").first()
            or User.objects.filter(is_active=True, roles__icontains=Role.OPERATOR).order_by("id").first()
        )
        if reporter is None:
            raise CommandError("No active admin or operator user to report calls as.")
        rng = random.Random()
        phones = options["phone"] or []
        for number in range(options["count"]):
            phone = (
                phones[number % len(phones)] if phones else "139" + "".join(rng.choice("0123456789") for _ in range(8))
            )
            call_id = f"SIM-{time.time_ns()}-{number}"
            for event in ("ringing", "answered"):
                call = do_record_call_event(
                    {"call_id": call_id, "event": event, "caller": phone, "extension": options["extension"]},
                    actor=reporter,
                )
            self.stdout.write(f"call {call.pk} ({call_id}) answered at extension {options['extension']}")
            if options["keep_open"] and number == options["count"] - 1:
                break
            if options["talk_seconds"]:
                time.sleep(options["talk_seconds"])  # a simulated conversation, not synchronisation
            do_record_call_event({"call_id": call_id, "event": "ended"}, actor=reporter)
