"""All writes of the GIS side: layer imports and activation, routing rules, the gazetteer, placements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from gis.models import GazetteerEntry


@dataclass(frozen=True)
class GazetteerRow:
    name: str
    normalized: str
    kind: str
    district: str
    latitude: float  # WGS84
    longitude: float  # WGS84
    generated: bool


def do_replace_gazetteer(rows: Iterable[GazetteerRow], *, source: str) -> int:
    """Replace every entry that came from ``source`` with ``rows``; entries of other sources stay."""
    entries = [
        GazetteerEntry(name=row.name, normalized=row.normalized, kind=row.kind, district=row.district,
                       latitude=row.latitude, longitude=row.longitude, generated=row.generated, source=source)
        for row in rows
    ]
    with transaction.atomic():
        GazetteerEntry.objects.filter(source=source).delete()
        GazetteerEntry.objects.bulk_create(entries, batch_size=500)
    return len(entries)
