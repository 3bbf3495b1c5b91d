"""Import one jurisdiction layer (GeoJSON, GeoPackage or zipped Shapefile) as a new version of its level.

    manage.py import_jurisdictions streets.gpkg --level street --code-field code --name-field name

The file is read and checked by ``gis.importer.read_layer`` and written by ``gis.actions.do_import_layer``;
a refused layer writes nothing and exits non-zero with every problem on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from pyproj import CRS
from pyproj.exceptions import CRSError

from core.errors import DomainError
from gis.actions import do_import_layer
from gis.coords import CoordinateSystem
from gis.importer import LayerRefused, read_layer
from gis.models import JurisdictionLayer, Level

NAME_MAX_LENGTH = JurisdictionLayer._meta.get_field("name").max_length or 120
SOURCE_MAX_LENGTH = JurisdictionLayer._meta.get_field("source").max_length or 300


def report_lines(report: dict[str, Any]) -> list[str]:
    """The import report (repairs, overlaps, gaps) as lines of text, for the command and the admin."""
    lines = []
    for repair in report.get("repaired", []):
        lines.append(
            _("Repaired feature %(feature)s (%(code)s): %(reason)s, area changed by %(change).4f%%.")
            % {
                "feature": repair.get("feature"),
                "code": repair.get("code"),
                "reason": repair.get("reason"),
                "change": float(repair.get("area_change", 0.0)) * 100,
            }
        )
    for overlap in report.get("overlaps", []):
        lines.append(
            _("Overlap between %(a)s and %(b)s: %(area)s m².")
            % {"a": overlap.get("a"), "b": overlap.get("b"), "area": overlap.get("area_m2")}
        )
    gaps = report.get("gaps") or {}
    if gaps.get("count"):
        lines.append(
            _("Gaps: %(count)s, %(area)s m² in all.") % {"count": gaps.get("count"), "area": gaps.get("area_m2")}
        )
    return lines


def refused_problems(exc: LayerRefused) -> list[str]:
    """One line per refused feature, or the reason the whole file was refused."""
    features = [p for p in exc.fields.get("features", []) if p != "empty"]
    return features or [exc.message]


class Command(BaseCommand):
    help = "Import a jurisdiction layer (GeoJSON, GeoPackage, zipped Shapefile) as a new version of its level."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A .geojson/.json, .gpkg or .zip (Shapefile) file.")
        parser.add_argument("--level", required=True, choices=Level.values)
        parser.add_argument("--code-field", required=True, help="Attribute holding the administrative code.")
        parser.add_argument("--name-field", required=True, help="Attribute holding the name.")
        parser.add_argument("--parent-field", default=None, help="Attribute holding the containing code.")
        parser.add_argument("--layer", default=None, help="Layer inside the file (GeoPackage); default: the first.")
        parser.add_argument(
            "--coordinate-system",
            default=CoordinateSystem.WGS84.value,
            choices=[system.value for system in CoordinateSystem],
            help="What the coordinates really are once in longitude/latitude: GCJ-02 and BD-09 are converted.",
        )
        parser.add_argument(
            "--assume-crs", default=None, help="CRS of a file that does not name one, e.g. EPSG:4326 or EPSG:32649."
        )
        parser.add_argument("--name", default=None, help="Name of the layer version; default: the file name.")
        parser.add_argument("--no-activate", action="store_true", help="Import without switching routing to it.")
        parser.add_argument("--generated", action="store_true", help="The polygons are synthetic, not surveyed.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        # call_command(...) passes options without argparse's choices check: check them here too.
        if options["level"] not in Level.values:
            raise CommandError(_("Unknown level %(level)s.") % {"level": options["level"]})
        if options["coordinate_system"] not in {system.value for system in CoordinateSystem}:
            raise CommandError(_("Unknown coordinate system %(system)s.") % {"system": options["coordinate_system"]})
        if not path.exists():
            raise CommandError(_("No such file: %(path)s") % {"path": path})
        assume_crs = options["assume_crs"]
        if assume_crs:
            try:
                CRS.from_user_input(assume_crs)
            except CRSError as exc:
                message = _("Unknown coordinate system %(crs)s: %(error)s") % {"crs": assume_crs, "error": exc}
                raise CommandError(message) from exc
        name = options["name"] or path.name
        if len(name) > NAME_MAX_LENGTH:
            raise CommandError(_("The layer name is longer than %(max)d characters.") % {"max": NAME_MAX_LENGTH})
        try:
            prepared = read_layer(
                path,
                code_field=options["code_field"],
                name_field=options["name_field"],
                parent_field=options["parent_field"] or None,
                declared_system=options["coordinate_system"],
                assume_crs=assume_crs or None,
                layer=options["layer"] or None,
            )
            layer = do_import_layer(
                prepared,
                level=options["level"],
                name=name,
                source=str(path)[-SOURCE_MAX_LENGTH:],
                generated=options["generated"],
                activate=not options["no_activate"],
            )
        except LayerRefused as exc:
            for problem in refused_problems(exc):
                self.stderr.write(problem)
            raise CommandError(_("The layer was not imported: %(reason)s") % {"reason": exc.message}) from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            _("Imported %(level)s layer version %(version)d (%(name)s): %(count)d features, %(state)s.")
            % {
                "level": layer.get_level_display(),
                "version": layer.version,
                "name": layer.name,
                "count": layer.feature_count,
                "state": _("active") if layer.active else _("not active"),
            }
        )
        self.stdout.write(_("Source coordinate system: %(crs)s.") % {"crs": layer.source_crs})
        lines = report_lines(layer.report)
        for line in lines:
            self.stdout.write(line)
        if not lines:
            self.stdout.write(_("No repairs, overlaps or gaps."))
