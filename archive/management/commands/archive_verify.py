"""Re-check archive packages (BagIt validation of every checksum, and the checksum recorded at transfer).

    manage.py archive_verify [--folder PATH]

Checks every package in the folder (default: ARCHIVE_DESTINATION when it is a folder). Prints one line per
package, in the active language (settings.LANGUAGE_CODE, Chinese by default); exits with status 1 if any
package fails. Packages delivered to an HTTP endpoint are re-checked where
the records office keeps them: copy or mount that folder and name it with --folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from archive import rules
from archive.verify import verify_folder


class Command(BaseCommand):
    help = "Validate archive packages (BagIt checksums) in a folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--folder", help="folder of packages (default: ARCHIVE_DESTINATION when a folder)")

    def handle(self, *args: Any, **options: Any) -> None:
        folder = options.get("folder") or rules.destination()
        if not folder or rules.is_url(folder) or not Path(folder).is_dir():
            raise CommandError(_("Name a folder of archive packages with --folder."))
        checked = failed = 0
        for finding in verify_folder(Path(folder)):
            checked += 1
            if finding.ok:
                self.stdout.write(_("OK: %(package)s") % {"package": finding.package})
            else:
                failed += 1
                self.stdout.write(_("FAILED: %(package)s") % {"package": finding.package})
                for problem in finding.problems:
                    self.stdout.write(f"        {problem}")
        summary = ngettext(
            "%(checked)d package checked, %(failed)d failed.",
            "%(checked)d packages checked, %(failed)d failed.",
            checked,
        )
        self.stdout.write(summary % {"checked": checked, "failed": failed})
        if failed:
            raise CommandError(
                _("%(failed)d of %(checked)d packages failed verification.") % {"failed": failed, "checked": checked}
            )
