"""Forward geocoding of Chinese address text against the gazetteer, and loading gazetteer files.

A caller says "广西柳州市城中区文惠路１２號３号楼"; the operator needs a point on the map. The text is normalised
(:func:`normalize_address`), split into district / place / house number / building (:func:`split_address`) and
matched against the normalised names of :class:`~gis.models.GazetteerEntry` (:func:`geocode`):

1. an entry whose normalised name *is* the address (with or without its district) scores 1;
2. an entry whose name is *contained* in the address scores 0.6-0.95, more the more of the address it explains,
   so the longest contained name wins ("文惠路12号" beats "文惠路" for "文惠路12号3栋");
3. otherwise names *similar* to the address (Dice coefficient of character bigrams of the place part, for
   typos such as "文慧路" and partial names such as "窑埠") score at most 0.55, below any containment; a house
   number other than the caller's halves the similarity;
4. a district named in the address that disagrees with the entry's district multiplies the score by
   :data:`DISTRICT_CONFLICT_FACTOR`.

Ties go to the more precise kind (address > community > landmark > road), then to the name.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from django.db.models import CharField, F, Q, Value

from gis.actions import GazetteerRow, do_replace_gazetteer
from gis.models import GazetteerEntry, PlaceKind

#: The demo gazetteer shipped with the app (see gis/data/README.md for its provenance).
DEMO_GAZETTEER_PATH = Path(__file__).resolve().parent / "data" / "liuzhou_gazetteer.csv"

# --- Normalisation ----------------------------------------------------------------------------------------------

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

# Traditional forms of the characters that carry an address's structure; NFKC leaves them alone.
_TRADITIONAL_TO_SIMPLIFIED = str.maketrans(
    {"號": "号", "樓": "楼", "棟": "栋", "區": "区", "縣": "县", "單": "单", "門": "门", "廣": "广", "鎮": "镇"}
)

# Prefixes are dropped only while at least this many characters remain, so that a name which merely starts
# with the city ("柳州站" -> "站") is not reduced to a single generic character.
_MIN_REMAINDER_AFTER_PREFIX = 2

# Words ending in 市 that are not cities (supermarket, food market, night market, ...): "华润超市..." keeps its
# name although it looks like "XX市" at the start of an address; neither is 市 right after a district or county
# ("城中区市政..."), nor 市场 (market).
_NOT_A_CITY_BEFORE_SHI = "超菜夜集门城都股上花鱼街早黑墟区县"

_COUNTRY_PREFIXES = ("中华人民共和国", "中国")
_PROVINCE_PREFIX = re.compile(rf"^(?:广西壮族自治区|广西|[{_CJK}]{{2,6}}?自治区|[{_CJK}]{{2,3}}省)")
_CITY_PREFIX = re.compile(rf"^(?:柳州市(?!场)|柳州|[{_CJK}]{{2,3}}(?<![{_NOT_A_CITY_BEFORE_SHI}])市(?!场))")

_CHINESE_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# A run of Chinese numerals directly before a house-number word: "十二号", "一二八弄", "三号楼", "五栋".
_CHINESE_HOUSE_NUMBER = re.compile(r"([〇零一二三四五六七八九十]+)(?=号|弄|栋|幢|座|单元|层|室)")
_HASH_HOUSE_NUMBER = re.compile(r"(\d)#")
_BUILDING = re.compile(r"(\d+|[a-z])(?:号楼|号栋|栋|幢|座)")
_COMPOUND = re.compile(r"(\d+)号院")


def _chinese_numeral_value(numeral: str) -> int | None:
    """一..九十九 in the usual form ("十二", "二十", "九十九"), or digit by digit ("一二八" = 128); else None."""
    if "十" in numeral:
        tens, _, units = numeral.partition("十")
        if len(tens) > 1 or len(units) > 1 or "十" in units:
            return None
        tens_value = _CHINESE_DIGITS.get(tens, -1) if tens else 1
        units_value = _CHINESE_DIGITS.get(units, -1) if units else 0
        if tens_value <= 0 or units_value < 0:
            return None
        return tens_value * 10 + units_value
    return int("".join(str(_CHINESE_DIGITS[char]) for char in numeral))


def _arabic_house_number(match: re.Match[str]) -> str:
    value = _chinese_numeral_value(match.group(1))
    return match.group(1) if value is None else str(value)


def _strip_punctuation(text: str) -> str:
    """Drop whitespace, punctuation, symbols and controls; a dash between two digits ("12-3号") stays as "-"."""
    kept: list[str] = []
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category[0] not in "PZSC":
            kept.append(char)
        elif category == "Pd" and 0 < index < len(text) - 1 and text[index - 1].isdigit() and text[index + 1].isdigit():
            kept.append("-")
    return "".join(kept)


def _drop_prefix(text: str, pattern: re.Pattern[str]) -> str | None:
    match = pattern.match(text)
    if match and len(text) - match.end() >= _MIN_REMAINDER_AFTER_PREFIX:
        return text[match.end() :]
    return None


def _drop_region_prefixes(text: str) -> str:
    while True:
        for pattern in (_PROVINCE_PREFIX, _CITY_PREFIX):
            shorter = _drop_prefix(text, pattern)
            if shorter is not None:
                text = shorter
                break
        else:
            # "中国" only goes when a province or city follows: "中国银行" is a bank, not a country.
            for country in _COUNTRY_PREFIXES:
                rest = text[len(country) :]
                if text.startswith(country) and any(
                    _drop_prefix(rest, pattern) is not None for pattern in (_PROVINCE_PREFIX, _CITY_PREFIX)
                ):
                    text = rest
                    break
            else:
                return text


def normalize_address(text: str) -> str:
    """The canonical form of an address or a gazetteer name; both sides of a match go through this.

    Steps, in order:

    * NFKC (full-width ``１２Ａ`` -> ``12A``), Latin letters lower-cased, traditional structure characters
      simplified (號 -> 号, 樓 -> 楼, 棟 -> 栋, 區 -> 区, 縣 -> 县, ...).
    * ``12#`` -> ``12号`` (before punctuation goes, since ``#`` is punctuation).
    * Whitespace, punctuation and symbols removed; a dash between digits is kept as ``-`` (``12-3号``).
    * Leading region prefixes dropped, repeatedly: 中华人民共和国 / 中国 (only when a province or city follows),
      广西壮族自治区, 广西, any ``XX自治区`` / ``XX省``, then 柳州市, 柳州, any ``XX市`` (not 超市, 菜市场, ...).
      A prefix stays if dropping it would leave fewer than two characters ("柳州站" stays "柳州站").
      Districts (城中区, ...) are kept: :func:`split_address` reads them.
    * Chinese numerals before 号/弄/栋/幢/座/单元/层/室 become digits: ``十二号`` -> ``12号``,
      ``一二八弄`` -> ``128弄`` (一..九十九, or digit by digit).

    Canonical house-number forms:

    * house number: ``<digits>号`` (``12號``, ``12#``, ``十二号``, ``１２号`` all -> ``12号``);
      a numbered compound ``12号院`` -> ``12号``;
    * lane: ``<digits>弄`` (``一二八弄`` -> ``128弄``), kept as 弄;
    * building: ``<digits or one letter>栋`` (``3栋``, ``3幢``, ``3座``, ``3号楼``, ``3#楼``, ``A座`` -> ``3栋`` /
      ``a栋``). A bare ``3楼`` is left alone: it usually means the third floor.
    """
    text = unicodedata.normalize("NFKC", text or "").lower().translate(_TRADITIONAL_TO_SIMPLIFIED)
    text = _HASH_HOUSE_NUMBER.sub(r"\1号", text)
    text = _strip_punctuation(text)
    text = _drop_region_prefixes(text)
    text = _CHINESE_HOUSE_NUMBER.sub(_arabic_house_number, text)
    text = _BUILDING.sub(r"\1栋", text)
    return _COMPOUND.sub(r"\1号", text)


# --- Splitting --------------------------------------------------------------------------------------------------

#: Liuzhou's districts and counties, official names.
DISTRICTS = (
    "城中区",
    "鱼峰区",
    "柳南区",
    "柳北区",
    "柳江区",
    "柳城县",
    "鹿寨县",
    "融安县",
    "融水苗族自治县",
    "三江侗族自治县",
)
# Short and former names people still say: 柳江 was a county until 2016.
_DISTRICT_ALIASES = {"融水县": "融水苗族自治县", "三江县": "三江侗族自治县", "柳江县": "柳江区"}
_DISTRICT_PATTERN = re.compile("|".join(sorted((*DISTRICTS, *_DISTRICT_ALIASES), key=len, reverse=True)))
_HOUSE_NUMBER = re.compile(r"\d+弄(?:\d+(?:-\d+)?号)?|\d+(?:-\d+)?号")
_BUILDING_NUMBER = re.compile(r"(?:\d+|[a-z])栋")


def canonical_district(name: str) -> str:
    """The official name of a Liuzhou district from an alias ("融水县"); anything else unchanged."""
    name = name.strip()
    return _DISTRICT_ALIASES.get(name, name)


@dataclasses.dataclass(frozen=True)
class AddressParts:
    district: str  # official name, "" when the address names none
    place: str  # road, community or landmark: what comes before the house number
    house_number: str  # "12号", "128弄", "128弄5号", "12-3号"
    building: str  # "3栋", "a栋"
    detail: str  # what follows: unit, floor, room, "对面", ...

    @property
    def without_district(self) -> str:
        return f"{self.place}{self.house_number}{self.building}{self.detail}"

    @property
    def core(self) -> str:
        """Place and house number: what a gazetteer entry can explain (buildings and rooms are too fine)."""
        return f"{self.place}{self.house_number}" or self.without_district


def split_address(normalized: str) -> AddressParts:
    """Split a :func:`normalize_address` result. The first district, house number and building found win."""
    district = ""
    rest = normalized
    if district_match := _DISTRICT_PATTERN.search(rest):
        district = canonical_district(district_match.group())
        rest = rest[: district_match.start()] + rest[district_match.end() :]
    house_match = _HOUSE_NUMBER.search(rest)
    building_match = _BUILDING_NUMBER.search(rest, house_match.end() if house_match else 0)
    first = house_match or building_match
    if first is None:
        return AddressParts(district, rest, "", "", "")
    place, tail = rest[: first.start()], rest[first.start() :]
    house_number = ""
    if house_match:
        house_number, tail = house_match.group(), rest[house_match.end() :]
    building = ""
    if building_tail := _BUILDING_NUMBER.search(tail):
        building = building_tail.group()
        tail = tail[: building_tail.start()] + tail[building_tail.end() :]
    return AddressParts(district, place, house_number, building, tail)


# --- Geocoding --------------------------------------------------------------------------------------------------

EXACT_SCORE = 1.0
CONTAINED_BASE_SCORE = 0.6
CONTAINED_COVERAGE_WEIGHT = 0.35
SIMILAR_WEIGHT = 0.55
MIN_SIMILARITY = 0.4
OTHER_HOUSE_FACTOR = 0.5
NEAR_HOUSE_SPAN = 100
_LEADING_NUMBER = re.compile(r"\d+")
DISTRICT_CONFLICT_FACTOR = 0.7
#: The longest stretch of address text used to look for similar names; callers sometimes dictate a paragraph.
MAX_FUZZY_TEXT = 40
KIND_PRECEDENCE: dict[str, int] = {
    PlaceKind.ADDRESS: 0,
    PlaceKind.COMMUNITY: 1,
    PlaceKind.LANDMARK: 2,
    PlaceKind.ROAD: 3,
}


@dataclasses.dataclass(frozen=True)
class Candidate:
    entry_id: int
    name: str
    kind: str
    district: str
    latitude: float  # WGS84
    longitude: float  # WGS84
    score: float  # 0..1
    generated: bool
    matched: str  # the (normalised) stretch of the address that matched the entry's normalised name
    method: str  # "exact", "contained" or "similar"
    district_conflict: bool


def _padded_bigrams(text: str) -> frozenset[str]:
    # Boundary markers make short names comparable: "文慧路" and "文惠路" share no inner bigram, but share
    # their first and last characters, which is what a one-character typo leaves intact.
    padded = f"\x02{text}\x03"
    return frozenset(padded[i : i + 2] for i in range(len(padded) - 1))


def _dice(first: frozenset[str], second: frozenset[str]) -> float:
    return 2 * len(first & second) / (len(first) + len(second))


class _Windows:
    """Bigram sets of every stretch of the address text, computed once per length and shared by all entries."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._by_length: dict[int, list[tuple[str, frozenset[str]]]] = {}

    def of_length(self, length: int) -> list[tuple[str, frozenset[str]]]:
        if length not in self._by_length:
            stretches = (self.text[i : i + length] for i in range(len(self.text) - length + 1))
            self._by_length[length] = [(stretch, _padded_bigrams(stretch)) for stretch in stretches]
        return self._by_length[length]

    def most_similar(self, name: str) -> tuple[float, str]:
        """The best Dice score of ``name`` against stretches about its length (one character more or less)."""
        name_grams = _padded_bigrams(name)
        lengths = {min(len(name) + delta, len(self.text)) for delta in (-1, 0, 1)} - {0}
        best = (0.0, "")
        for length in sorted(lengths):
            for stretch, grams in self.of_length(length):
                similarity = _dice(name_grams, grams)
                if similarity > best[0]:
                    best = (similarity, stretch)
        return best


def _narrowing_pattern(place: str) -> str:
    """A regex a name must match to be scored for similarity: a bigram of the place, or two characters one
    apart ("文.路").

    The skip-grams keep names with a typo in the middle ("文慧路" for "文惠路"), which share no bigram. What
    this leaves out is only the weakest kind of similarity (first and last character in common, lengths
    differing), which would score about 0.25 at best.
    """
    text = place[:MAX_FUZZY_TEXT]
    grams = {re.escape(text[i : i + 2]) for i in range(len(text) - 1)}
    grams |= {f"{re.escape(text[i])}.{re.escape(text[i + 2])}" for i in range(len(text) - 2)}
    return "|".join(sorted(grams))


def _candidate_entries(normalized: str, place: str) -> Iterator[tuple[Any, ...]]:
    # Why SQL rather than a per-process cache of all names: entries are replaced wholesale per source, several
    # worker processes serve requests, and a cache keyed by count/max id goes stale undetected when ids are
    # reused (SQLite's id sequence rolls back with a transaction). One query whose conditions only need the
    # indexed text column is cheap for a few thousand rows and always current:
    # * containment runs in the database: the address LIKE '%' || normalized || '%';
    # * similar names must share a bigram or skip-gram with the place (a regex, native on PostgreSQL and
    #   Django's registered REGEXP function on SQLite).
    condition = Q(address_text__contains=F("normalized"))
    if pattern := _narrowing_pattern(place):
        condition |= Q(normalized__regex=pattern)
    rows = (
        GazetteerEntry.objects.annotate(address_text=Value(normalized, output_field=CharField()))
        .filter(condition)
        .values_list("id", "name", "normalized", "kind", "district", "latitude", "longitude", "generated")
    )
    yield from rows.iterator()


def _similarity(windows: _Windows, entry_normalized: str, house_number: str) -> tuple[float, str]:
    """How similar the entry is to the address, and to which stretch of it.

    Places are compared with places: house numbers share digits by chance ("文昌路230号" and "文慧路30号"
    share "30号"), which must not make a house on another road look like a typo of the caller's road.
    A house other than the caller's only half counts: the road itself is the better answer then. Among other
    houses, nearer numbers score a little higher, so the operator sees the neighbours of the caller's house.
    """
    entry_parts = split_address(entry_normalized)
    similarity, matched = windows.most_similar(entry_parts.place or entry_normalized)
    if entry_parts.house_number:
        if entry_parts.house_number == house_number:
            matched += house_number
        else:
            similarity *= OTHER_HOUSE_FACTOR * _nearness(entry_parts.house_number, house_number)
    return similarity, matched


def _nearness(house_number: str, other: str) -> float:
    """1 for the same leading number, falling linearly to 0.9 at NEAR_HOUSE_SPAN apart or more (or unknown)."""
    first, second = _LEADING_NUMBER.match(house_number), _LEADING_NUMBER.match(other)
    if not (first and second):
        return 0.9
    distance = abs(int(first.group()) - int(second.group()))
    return 1.0 - 0.1 * min(1.0, distance / NEAR_HOUSE_SPAN)


def geocode(text: str, *, limit: int = 5) -> list[Candidate]:
    """Up to ``limit`` gazetteer entries matching the address ``text``, best first. One database query."""
    normalized = normalize_address(text)
    if not normalized or limit <= 0:
        return []
    parts = split_address(normalized)
    whole_forms = {normalized, parts.without_district}
    core = parts.core or normalized
    fuzzy_text = (parts.place or core)[:MAX_FUZZY_TEXT]
    windows = _Windows(fuzzy_text)
    candidates: list[Candidate] = []
    for entry_id, name, entry_normalized, kind, district, latitude, longitude, generated in _candidate_entries(
        normalized, fuzzy_text
    ):
        if not entry_normalized:
            continue
        if entry_normalized in whole_forms:
            score, method, matched = EXACT_SCORE, "exact", entry_normalized
        elif len(entry_normalized) >= 2 and entry_normalized in normalized:
            coverage = min(1.0, len(entry_normalized) / len(core))
            score = CONTAINED_BASE_SCORE + CONTAINED_COVERAGE_WEIGHT * coverage
            method, matched = "contained", entry_normalized
        else:
            similarity, matched = _similarity(windows, entry_normalized, parts.house_number)
            if similarity < MIN_SIMILARITY:
                continue
            score, method = SIMILAR_WEIGHT * similarity, "similar"
        conflict = bool(parts.district and district and canonical_district(district) != parts.district)
        if conflict:
            score *= DISTRICT_CONFLICT_FACTOR
        candidates.append(
            Candidate(
                entry_id=entry_id,
                name=name,
                kind=kind,
                district=district,
                latitude=latitude,
                longitude=longitude,
                score=round(score, 4),
                generated=generated,
                matched=matched,
                method=method,
                district_conflict=conflict,
            )
        )
    candidates.sort(key=lambda c: (-c.score, KIND_PRECEDENCE.get(c.kind, len(KIND_PRECEDENCE)), c.name))
    return candidates[:limit]


# --- Loading files ----------------------------------------------------------------------------------------------

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
    """The file had bad rows; nothing was written. ``problems`` names each one by line or feature number."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        listed = "; ".join(problems[:_MAX_LISTED_PROBLEMS])
        more = len(problems) - _MAX_LISTED_PROBLEMS
        suffix = f"; and {more} more" if more > 0 else ""
        super().__init__(f"{path.name}: {len(problems)} problem(s), nothing loaded: {listed}{suffix}")
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class _RawRecord:
    where: str  # "line 7" or "feature 3", for error messages
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
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(f"{label} {value!r} is not a number")
        return math.nan
    if not math.isfinite(number) or not -bound <= number <= bound:
        problems.append(f"{label} {value!r} out of range [-{bound:g}, {bound:g}]")
    return number


def _check(
    record: _RawRecord, *, default_generated: bool | None, default_system: str
) -> tuple[_CheckedRecord, list[str]]:
    problems: list[str] = []
    name = str(record.fields.get("name") or "").strip()
    normalized = normalize_address(name)
    if not name:
        problems.append("missing name")
    elif len(name) > _NAME_MAX_LENGTH:
        problems.append(f"name longer than {_NAME_MAX_LENGTH} characters")
    elif not normalized:
        problems.append(f"name {name!r} has nothing left to match after normalisation")
    elif len(normalized) > _NORMALIZED_MAX_LENGTH:
        problems.append(f"normalised name longer than {_NORMALIZED_MAX_LENGTH} characters")
    kind = str(record.fields.get("kind") or "").strip().lower()
    if kind not in PlaceKind.values:
        problems.append(f"unknown kind {kind!r} (expected one of {', '.join(sorted(PlaceKind.values))})")
    latitude = longitude = math.nan
    if record.problem:
        problems.append(record.problem)
    else:
        latitude = _coordinate(record.latitude, "latitude", 90.0, problems)
        longitude = _coordinate(record.longitude, "longitude", 180.0, problems)
    raw_generated = record.fields.get("generated")
    generated: bool | None = default_generated
    if raw_generated not in (None, ""):
        generated = _flag(raw_generated)
        if generated is None:
            problems.append(f"generated {raw_generated!r} is not true/false")
    system = default_system
    if raw_system := str(record.fields.get("crs") or "").strip():
        system = _coordinate_system(raw_system) or ""
        if not system:
            problems.append(f"unknown crs {raw_system!r} (expected one of {', '.join(sorted(_COORDINATE_SYSTEMS))})")
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
    return checked, [f"{record.where}: {problem}" for problem in problems]


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
        raise GazetteerFileRefused(path, ["neither UTF-8 nor GB18030 text"]) from None


def _csv_records(path: Path) -> Iterator[_RawRecord]:
    with io.StringIO(_decoded(path), newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [column.strip().lower() for column in reader.fieldnames or []]
        missing = [column for column in _REQUIRED_CSV_COLUMNS if column not in columns]
        if missing:
            raise GazetteerFileRefused(path, [f"line 1: missing column(s) {', '.join(missing)}"])
        reader.fieldnames = columns
        for row in reader:
            fields = {key: value for key, value in row.items() if key is not None}
            # line_num is the last physical line read, right even when a quoted field spans lines.
            yield _RawRecord(f"line {reader.line_num}", fields, fields.get("latitude"), fields.get("longitude"))


def _geojson_records(path: Path) -> Iterator[_RawRecord]:
    try:
        document = json.loads(_decoded(path))
    except json.JSONDecodeError as error:
        raise GazetteerFileRefused(path, [f"not valid GeoJSON: {error}"]) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise GazetteerFileRefused(path, ["not a GeoJSON FeatureCollection"])
    for number, feature in enumerate(document.get("features") or [], start=1):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        properties = (feature.get("properties") if isinstance(feature, dict) else None) or {}
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        where = f"feature {number}"
        if not (
            isinstance(geometry, dict)
            and geometry.get("type") == "Point"
            and isinstance(coordinates, list)
            and len(coordinates) >= 2
            and isinstance(properties, dict)
        ):
            fields = properties if isinstance(properties, dict) else {}
            yield _RawRecord(where, fields, None, None, problem="geometry is not a Point with two coordinates")
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
        raise GazetteerFileRefused(path, ["no entries"])
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
        raise ValueError(f"unknown coordinate system {coordinate_system!r}")
    suffix = file_path.suffix.lower()
    if suffix == ".csv":
        records = _csv_records(file_path)
    elif suffix in (".geojson", ".json"):
        records = _geojson_records(file_path)
    else:
        raise ValueError(f"{file_path.name}: expected a .csv, .geojson or .json file")
    rows = _rows(records, file_path, generated=generated, coordinate_system=default_system)
    return do_replace_gazetteer(rows, source=source or file_path.name)
