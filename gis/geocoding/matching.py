"""Ranking gazetteer entries against an address (:func:`geocode`).

The address is normalised and split (:mod:`gis.geocoding.address`) and matched against the normalised names of
:class:`~gis.models.GazetteerEntry`:

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

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

from django.db.models import CharField, F, Q, Value

from gis.geocoding.address import canonical_district, normalize_address, split_address
from gis.models import GazetteerEntry, PlaceKind

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
