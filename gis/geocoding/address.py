"""Normalising Chinese address text and splitting it into district / place / house number / building.

Pure text work, no database: both the caller's address and every gazetteer name go through
:func:`normalize_address`, so that they can be compared character for character.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata

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
