"""The STRtree index of an imported layer, and the current index following activation without a restart."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.actions import do_activate_layer
from gis.index import OUTSIDE, LayerIndex, current_index
from gis.routing import locate_many, place
from tests.geo.importer.helpers import LAT, LON, STEP, cell, import_features

# --- (g) the STRtree index ----------------------------------------------------------------------------------------


def test_point_on_a_shared_edge_or_vertex_belongs_to_the_smallest_code(db: Any) -> None:
    # Codes deliberately not in spatial order: the smallest code sits top-right.
    layer = import_features(
        "grid", ("D", cell(0, 0)), ("C", cell(1, 0)), ("B", cell(0, 1)), ("A", cell(1, 1)), ("E", cell(3, 3))
    )
    index = LayerIndex.build(layer)
    assert list(index.codes) == ["A", "B", "C", "D", "E"]

    def code_at(col: float, row: float) -> str:
        lon, lat = LON + col * STEP, LAT + row * STEP
        found = index.locate([lon], [lat])
        assert int(found[0]) == index.locate_one(lon, lat)
        return "" if found[0] == OUTSIDE else str(index.codes[found[0]])

    assert code_at(1, 0.5) == "C"  # edge between D and C
    assert code_at(0.5, 1) == "B"  # edge between D and B
    assert code_at(1.5, 1) == "A"  # edge between C and A
    assert code_at(1, 1) == "A"  # the vertex shared by all four
    assert code_at(0, 0) == "D"  # a corner of one polygon only
    assert code_at(0.5, 0.5) == "D"  # strictly inside
    assert code_at(2.5, 0.5) == ""  # outside every polygon
    assert index.locate_one(LON - 1, LAT) == OUTSIDE
    assert index.locate([LON - 1, LON + 3.5 * STEP], [LAT, LAT + 3.5 * STEP]).tolist() == [OUTSIDE, 4]


def test_bulk_locate_agrees_with_a_naive_covers_loop(db: Any) -> None:
    rng = np.random.default_rng(12345)
    # A 4x4 grid with holes, plus two polygons overlapping it; codes shuffled against positions.
    items: list[tuple[str, BaseGeometry]] = [
        (f"G{rng.integers(100, 999)}-{col}{row}", cell(col, row)) for col in range(4) for row in range(4) if col != row
    ]
    items.append(("OVER-1", shapely.Polygon([(LON, LAT), (LON + 2 * STEP, LAT), (LON + 2 * STEP, LAT + 2 * STEP)])))
    items.append(("OVER-2", cell(1.5, 1.5, width=2, height=0.5)))
    layer = import_features("grid", *items)
    index = LayerIndex.build(layer)

    n = 10_000
    uniform = rng.uniform([LON - STEP, LAT - STEP], [LON + 5 * STEP, LAT + 5 * STEP], size=(n // 2, 2))
    lattice = (rng.integers(-4, 21, size=(n - n // 2, 2)) * (STEP / 4)) + [LON, LAT]  # on edges and vertices
    points = np.vstack([uniform, lattice])

    found = index.locate(points[:, 0], points[:, 1])

    expected = np.full(n, OUTSIDE)
    ties = 0
    for k, (lon, lat) in enumerate(points):
        point = shapely.Point(lon, lat)
        covering = [i for i, polygon in enumerate(index.geometries) if polygon.covers(point)]
        ties += len(covering) > 1
        if covering:
            expected[k] = min(covering)
    np.testing.assert_array_equal(found, expected)
    # The sample exercised all three cases: inside, outside and on shared boundaries.
    assert (found == OUTSIDE).sum() > 1000 and (found != OUTSIDE).sum() > 3000 and ties > 300
    sample = rng.choice(n, 200, replace=False)
    assert [index.locate_one(*points[k]) for k in sample] == expected[sample].tolist()


def test_empty_input_and_scalars(db: Any) -> None:
    index = LayerIndex.build(import_features("grid", ("A", cell(0, 0))))
    assert index.locate([], []).tolist() == []
    assert index.locate(LON + STEP / 2, LAT + STEP / 2).tolist() == [0]


# --- (h) the index follows activation without a restart -----------------------------------------------------------


def test_current_index_follows_activation(db: Any) -> None:
    inside_old = (LON + 0.5 * STEP, LAT + 0.5 * STEP)
    inside_new = (LON + 10.5 * STEP, LAT + 0.5 * STEP)
    first = import_features("district", ("OLD", cell(0, 0)))

    before = current_index()
    assert [(level, pk) for level, pk, _activated, _city in before.key] == [("district", first.pk)]
    assert before.layers["district"].version == 1
    assert place(*inside_old).code("district") == "OLD"
    assert current_index() is before  # nothing changed: no rebuild

    second = import_features("district", ("NEW", cell(10, 0)), activate=False)
    assert current_index() is before  # an inactive version changes nothing
    assert place(*inside_new).code("district") == ""

    do_activate_layer(second.pk)
    after = current_index()
    assert after is not before
    assert [(level, pk) for level, pk, _activated, _city in after.key] == [("district", second.pk)]
    assert (after.layers["district"].layer_id, after.layers["district"].version) == (second.pk, 2)
    assert place(*inside_new).code("district") == "NEW"
    assert place(*inside_old).code("district") == ""  # the old version is no longer used
    assert place(*inside_new).places["district"].version == 2
    assert locate_many([inside_old[0], inside_new[0]], [inside_old[1], inside_new[1]])["district"].tolist() == [
        "",
        "NEW",
    ]

    do_activate_layer(first.pk)  # and back
    assert place(*inside_old).code("district") == "OLD"
