"""Loading gazetteer files (CSV or GeoJSON) into the database, all rows checked before anything is written."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from gis.actions import GazetteerRow, do_replace_gazetteer
from gis.geocoding.address import canonical_district, normalize_address
from gis.models import PlaceKind

#: The demo gazetteer shipped with the app (see gis/data/README.md for its provenance).
DEMO_GAZETTEER_PATH = Path(__file__).resolve().parent.parent / "data" / "liuzhou_gazetteer.csv"

#: Coordinate systems a file may declare, by every spelling accepted, to the name gis.coords uses.
_COORDINATE_SYSTEMS = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
}
_TRUE = {"true", "t", "yes", "y", "1", "是"}
_FALSE = {"false", "f", "no", "n", "0", "否"}
_REQUIRED_CSV_COLUMNS = ("name", "kind", "latitude", "longitude")
_NAME_MAX_LENGTH = 120
_NORMALIZED_MAX_LENGTH = 160
#: How many problems a refusal lists before summarising the rest.
_MAX_LISTED_PROBLEMS = 20


class GazetteerFileRefused(ValueError):
    """The file had bad rows; nothing was written. ``problems`` names each one by line or feature number (in the
    language active when the file was read)."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        listed = "; ".join(problems[:_MAX_LISTED_PROBLEMS])
        more = len(problems) - _MAX_LISTED_PROBLEMS
        if more > 0:
            listed += _("; and %(count)d more") % {"count": more}
        message = _("%(file)s: %(count)d problem(s), nothing loaded: %(problems)s") % {
            "file": path.name,
            "count": len(problems),
            "problems": listed,
        }
        super().__init__(message)
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class _RawRecord:
    where: str  # "line 7" or "feature 3" (translated), for error messages
    fields: Mapping[str, Any]
    latitude: Any
    longitude: Any
    problem: str = ""  # found while reading, e.g. a feature that is not a Point


@dataclasses.dataclass(frozen=True)
class _CheckedRecord:
    name: str
    normalized: str
    kind: str
    district: str
    latitude: float
    longitude: float
    generated: bool
    system: str


def _coordinate_system(value: Any) -> str | None:
    return _COORDINATE_SYSTEMS.get(str(value).strip().lower())


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _coordinate(value: Any, label: str, bound: float, problems: list[str]) -> float:
    """``label``: the coordinate's translated name."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(_("%(label)s %(value)s is not a number") % {"label": label, "value": repr(value)})
        return math.nan
    if not math.isfinite(number) or not -bound <= number <= bound:
        problems.append(
            _("%(label)s %(value)s out of range [-%(bound)s, %(bound)s]")
            % {"label": label, "value": repr(value), "bound": f"{bound:g}"}
        )
    return number


def _check(
    record: _RawRecord, *, default_generated: bool | None, default_system: str
) -> tuple[_CheckedRecord, list[str]]:
    problems: list[str] = []
    name = str(record.fields.get("name") or "").strip()
    normalized = normalize_address(name)
    if not name:
        problems.append(_("missing name"))
    elif len(name) > _NAME_MAX_LENGTH:
        problems.append(_("name longer than %(count)d characters") % {"count": _NAME_MAX_LENGTH})
    elif not normalized:
        problems.append(_("name %(name)s has nothing left to match after normalisation") % {"name": repr(name)})
    elif len(normalized) > _NORMALIZED_MAX_LENGTH:
        problems.append(_("normalised name longer than %(count)d characters") % {"count": _NORMALIZED_MAX_LENGTH})
    kind = str(record.fields.get("kind") or "").strip().lower()
    if kind not in PlaceKind.values:
        expected = ", ".join(sorted(PlaceKind.values))
        problems.append(
            _("unknown kind %(kind)s (expected one of %(expected)s)") % {"kind": repr(kind), "expected": expected}
        )
    latitude = longitude = math.nan
    if record.problem:
        problems.append(record.problem)
    else:
        latitude = _coordinate(record.latitude, _("latitude"), 90.0, problems)
        longitude = _coordinate(record.longitude, _("longitude"), 180.0, problems)
    raw_generated = record.fields.get("generated")
    generated: bool | None = default_generated
    if raw_generated not in (None, ""):
        generated = _flag(raw_generated)
        if generated is None:
            problems.append(_("generated %(value)s is not true/false") % {"value": repr(raw_generated)})
    system = default_system
    if raw_system := str(record.fields.get("crs") or "").strip():
        system = _coordinate_system(raw_system) or ""
        if not system:
            expected = ", ".join(sorted(_COORDINATE_SYSTEMS))
            problems.append(
                _("unknown crs %(crs)s (expected one of %(expected)s)")
                % {"crs": repr(raw_system), "expected": expected}
            )
    checked = _CheckedRecord(
        name=name,
        normalized=normalized,
        kind=kind,
        district=canonical_district(str(record.fields.get("district") or "")),
        latitude=latitude,
        longitude=longitude,
        generated=bool(generated),
        system=system,
    )
    return checked, [_where(record.where, problem) for problem in problems]


def _where(where: str, problem: str) -> str:
    return _("%(where)s: %(problem)s") % {"where": where, "problem": problem}


def _decoded(path: Path) -> str:
    raw = path.read_bytes()
    try:
        # utf-8-sig: spreadsheets save CSV with a byte-order mark, which would otherwise glue onto the first header.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Excel on a Chinese Windows saves "CSV" in the ANSI code page, GBK, of which GB18030 is a superset.
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise GazetteerFileRefused(path, [_("neither UTF-8 nor GB18030 text")]) from None


def _csv_records(path: Path) -> Iterator[_RawRecord]:
    with io.StringIO(_decoded(path), newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [column.strip().lower() for column in reader.fieldnames or []]
        missing = [column for column in _REQUIRED_CSV_COLUMNS if column not in columns]
        if missing:
            problem = _("missing column(s) %(columns)s") % {"columns": ", ".join(missing)}
            raise GazetteerFileRefused(path, [_where(_("line %(line)d") % {"line": 1}, problem)])
        reader.fieldnames = columns
        for row in reader:
            fields = {key: value for key, value in row.items() if key is not None}
            # line_num is the last physical line read, right even when a quoted field spans lines.
            where = _("line %(line)d") % {"line": reader.line_num}
            yield _RawRecord(where, fields, fields.get("latitude"), fields.get("longitude"))


def _geojson_records(path: Path) -> Iterator[_RawRecord]:
    try:
        document = json.loads(_decoded(path))
    except json.JSONDecodeError as error:
        raise GazetteerFileRefused(path, [_("not valid GeoJSON: %(error)s") % {"error": error}]) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise GazetteerFileRefused(path, [_("not a GeoJSON FeatureCollection")])
    for number, feature in enumerate(document.get("features") or [], start=1):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        properties = (feature.get("properties") if isinstance(feature, dict) else None) or {}
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        where = _("feature %(number)d") % {"number": number}
        if not (
            isinstance(geometry, dict)
            and geometry.get("type") == "Point"
            and isinstance(coordinates, list)
            and len(coordinates) >= 2
            and isinstance(properties, dict)
        ):
            fields = properties if isinstance(properties, dict) else {}
            yield _RawRecord(where, fields, None, None, problem=_("geometry is not a Point with two coordinates"))
            continue
        yield _RawRecord(where, properties, coordinates[1], coordinates[0])


def _to_wgs84(records: list[_CheckedRecord]) -> list[_CheckedRecord]:
    """Convert every record not in WGS84, one vectorised call per coordinate system."""
    converted = list(records)
    for system in {record.system for record in records} - {"wgs84"}:
        # Imported here: gis.coords pulls in numpy and shapely, which a WGS84-only load does not need.
        from gis.coords import to_wgs84

        indices = [i for i, record in enumerate(records) if record.system == system]
        longitudes, latitudes = to_wgs84(
            [records[i].longitude for i in indices], [records[i].latitude for i in indices], system
        )
        for i, longitude, latitude in zip(indices, longitudes.tolist(), latitudes.tolist(), strict=True):
            converted[i] = dataclasses.replace(records[i], longitude=longitude, latitude=latitude, system="wgs84")
    return converted


def _rows(
    records: Iterable[_RawRecord], path: Path, *, generated: bool | None, coordinate_system: str
) -> list[GazetteerRow]:
    checked: list[_CheckedRecord] = []
    problems: list[str] = []
    for record in records:
        entry, record_problems = _check(record, default_generated=generated, default_system=coordinate_system)
        checked.append(entry)
        problems.extend(record_problems)
    if problems:
        raise GazetteerFileRefused(path, problems)
    if not checked:
        # Loading an empty file would silently delete everything the source had.
        raise GazetteerFileRefused(path, [_("no entries")])
    return [
        GazetteerRow(
            name=entry.name,
            normalized=entry.normalized,
            kind=entry.kind,
            district=entry.district,
            latitude=entry.latitude,
            longitude=entry.longitude,
            generated=entry.generated,
        )
        for entry in _to_wgs84(checked)
    ]


def load_gazetteer_file(
    path: str | os.PathLike[str],
    *,
    source: str | None = None,
    generated: bool | None = None,
    coordinate_system: str | None = None,
) -> int:
    """Replace the entries of ``source`` (default: the file's name) with the file's; returns how many.

    CSV (UTF-8, or GBK as saved by Excel on Chinese Windows; header row): ``name, kind, district, latitude,
    longitude`` and optionally ``generated`` (true/false) and ``crs``; other columns are ignored.
    GeoJSON: a FeatureCollection of Point features (longitude, latitude) with properties ``name, kind,
    district`` and optionally ``generated`` and ``crs``. District aliases are stored under the official name
    (融水县 -> 融水苗族自治县).

    ``generated`` is the flag for rows that do not state their own (default: not generated).
    ``coordinate_system`` (wgs84, gcj02 or bd09; default wgs84) applies to rows without a ``crs``; coordinates
    are stored in WGS84. Every row is checked first: a missing name, an unknown kind or crs, or coordinates out
    of range raise :class:`GazetteerFileRefused` (a ValueError) naming every bad line or feature, and nothing
    is written.
    """
    file_path = Path(path)
    default_system = _coordinate_system(coordinate_system or "wgs84")
    if default_system is None:
        raise ValueError(_("unknown coordinate system %(crs)s") % {"crs": repr(coordinate_system)})
    suffix = file_path.suffix.lower()
    if suffix == ".csv":
        records = _csv_records(file_path)
    elif suffix in (".geojson", ".json"):
        records = _geojson_records(file_path)
    else:
        raise ValueError(_("%(file)s: expected a .csv, .geojson or .json file") % {"file": file_path.name})
    rows = _rows(records, file_path, generated=generated, coordinate_system=default_system)
    return do_replace_gazetteer(rows, source=source or file_path.name)
