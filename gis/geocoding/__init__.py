"""Forward geocoding of Chinese address text against the gazetteer, and loading gazetteer files.

A caller says "广西柳州市城中区文惠路１２號３号楼"; the operator needs a point on the map. The text is normalised
(:func:`normalize_address`), split into district / place / house number / building (:func:`split_address`) and
matched against the normalised names of :class:`~gis.models.GazetteerEntry` (:func:`geocode`).

* :mod:`gis.geocoding.address`: normalising and splitting address text (no database);
* :mod:`gis.geocoding.matching`: scoring and ranking gazetteer entries against an address (how, in its docstring);
* :mod:`gis.geocoding.loading`: checking and loading gazetteer files (CSV, GeoJSON).

Import from ``gis.geocoding``; the names below are its interface. The scoring constants are re-exported for
reading only: :func:`geocode` looks them up in :mod:`gis.geocoding.matching`, so patch them there.
"""

from gis.geocoding.address import DISTRICTS, AddressParts, canonical_district, normalize_address, split_address
from gis.geocoding.loading import DEMO_GAZETTEER_PATH, GazetteerFileRefused, load_gazetteer_file
from gis.geocoding.matching import (
    CONTAINED_BASE_SCORE,
    CONTAINED_COVERAGE_WEIGHT,
    DISTRICT_CONFLICT_FACTOR,
    EXACT_SCORE,
    KIND_PRECEDENCE,
    MAX_FUZZY_TEXT,
    MIN_SIMILARITY,
    NEAR_HOUSE_SPAN,
    OTHER_HOUSE_FACTOR,
    SIMILAR_WEIGHT,
    Candidate,
    geocode,
)

__all__ = [
    "CONTAINED_BASE_SCORE",
    "CONTAINED_COVERAGE_WEIGHT",
    "DEMO_GAZETTEER_PATH",
    "DISTRICTS",
    "DISTRICT_CONFLICT_FACTOR",
    "EXACT_SCORE",
    "KIND_PRECEDENCE",
    "MAX_FUZZY_TEXT",
    "MIN_SIMILARITY",
    "NEAR_HOUSE_SPAN",
    "OTHER_HOUSE_FACTOR",
    "SIMILAR_WEIGHT",
    "AddressParts",
    "Candidate",
    "GazetteerFileRefused",
    "canonical_district",
    "geocode",
    "load_gazetteer_file",
    "normalize_address",
    "split_address",
]
