"""Queue the archive transfer of every closed ticket and/or incident closed in a range of dates (归档批处理).

    manage.py archive_batch --from 2026-01-01 --to 2026-03-31 [--kind tickets|incidents|all]

The packages go out through the outbox (the worker ``run_outbox`` builds and delivers them). Already archived
ones are skipped, so running a range twice queues nothing new.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from archive import actions
from core.errors import DomainError


class Command(BaseCommand):
    help = "Queue archive packages of tickets and incidents closed in a range of dates (Asia/Shanghai)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="closed_from", required=True, help="first closing date, YYYY-MM-DD")
        parser.add_argument("--to", dest="closed_to", required=True, help="last closing date, YYYY-MM-DD")
        parser.add_argument("--kind", default="all", choices=actions.BATCH_KINDS)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = actions.do_archive_batch(
                options["closed_from"], options["closed_to"], kind=options["kind"], actor=None
            )
        except DomainError as error:
            details = getattr(error, "fields", None) or {}
            raise CommandError(f"{error} {details}".strip()) from None
        self.stdout.write(f"queued: {result.tickets} tickets, {result.incidents} incidents")
