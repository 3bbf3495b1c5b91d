"""Load the demo city's units (emergency/data/units.json); idempotent by call sign."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from emergency.units.actions import do_upsert_unit

DATA = Path(__file__).resolve().parents[2] / "data" / "units.json"


class Command(BaseCommand):
    help = "Load the Liuzhou demo units (fire, ambulance, police, utility crews) with their home stations."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--file", default=str(DATA), help="units JSON file ({'units': [...]})")

    def handle(self, *args: Any, **options: Any) -> None:
        specs = json.loads(Path(options["file"]).read_text(encoding="utf-8"))["units"]
        created = 0
        for spec in specs:
            _unit, is_new = do_upsert_unit(spec)
            created += int(is_new)
        self.stdout.write(f"Units: {len(specs)} in the file, {created} new.")
