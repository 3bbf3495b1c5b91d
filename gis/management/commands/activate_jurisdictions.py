"""Switch routing of one level to an imported layer version: ``manage.py activate_jurisdictions street 3``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from core.errors import DomainError
from gis.actions import do_activate_layer
from gis.models import JurisdictionLayer, Level


class Command(BaseCommand):
    help = "Activate a jurisdiction layer version; routing uses it from its next lookup, without a restart."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("level", choices=Level.values)
        parser.add_argument("version", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        level, version = options["level"], options["version"]
        layer = JurisdictionLayer.objects.filter(level=level, version=version).first()
        if layer is None:
            known = ", ".join(
                str(v)
                for v in JurisdictionLayer.objects.filter(level=level)
                .order_by("version")
                .values_list("version", flat=True)
            )
            raise CommandError(
                _("No %(level)s layer version %(version)s (versions: %(known)s).")
                % {"level": level, "version": version, "known": known or "-"}
            )
        try:
            layer = do_activate_layer(layer.pk)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            _("Activated %(layer)s (%(name)s, %(count)d features).")
            % {"layer": str(layer), "name": layer.name, "count": layer.feature_count}
        )
