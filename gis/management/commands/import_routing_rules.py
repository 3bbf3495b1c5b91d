"""Import routing rules from a CSV file (see gis.actions.RULE_COLUMNS); every line is checked first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import InvalidInput
from gis.actions import RULE_COLUMNS, do_import_routing_rules


class Command(BaseCommand):
    help = f"Import routing rules from CSV with the columns {', '.join(RULE_COLUMNS)}."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--replace", action="store_true", help="delete every existing rule first")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text = options["path"].read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc}") from exc
        try:
            count = do_import_routing_rules(text, replace=options["replace"])
        except InvalidInput as exc:
            for problem in exc.fields.get("rows", []) + exc.fields.get("columns", []):
                self.stderr.write(str(problem))
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Imported {count} routing rules.")
