"""The bulk cell table answers exactly like the per-point lookup, including the edge cases."""

from __future__ import annotations

import numpy as np
import shapely

from gis.index import OUTSIDE, CellTable, LayerIndex


def _index(polygons: list[shapely.Geometry]) -> LayerIndex:
    geometries = np.array(polygons, dtype=object)
    shapely.prepare(geometries)
    codes = np.array([f"P{i:03d}" for i in range(len(polygons))], dtype=str)
    return LayerIndex(
        layer_id=1,
        level="grid",
        version=1,
        codes=codes,
        names=codes,
        parent_codes=codes,
        geometries=geometries,
        tree=shapely.STRtree(geometries),
    )


def _naive(polygons: list[shapely.Geometry], lon: float, lat: float) -> int:
    point = shapely.Point(lon, lat)
    return next((i for i, polygon in enumerate(polygons) if polygon.covers(point)), OUTSIDE)


def _mosaic() -> list[shapely.Geometry]:
    # A 6 x 5 mosaic of unit-ish squares with a hole punched in one and a triangle split in two.
    squares = [
        shapely.box(109.0 + 0.01 * x, 24.0 + 0.01 * y, 109.0 + 0.01 * (x + 1), 24.0 + 0.01 * (y + 1))
        for y in range(5)
        for x in range(6)
    ]
    squares[7] = squares[7].difference(shapely.box(109.012, 24.012, 109.018, 24.018))
    return squares


def test_bulk_lookup_agrees_with_covers_on_random_points_vertices_and_edges() -> None:
    polygons = _mosaic()
    index = _index(polygons)
    rng = np.random.default_rng(7)
    lons = np.concatenate([rng.uniform(108.99, 109.07, 4000), np.round(rng.uniform(109.0, 109.06, 500), 2)])
    lats = np.concatenate([rng.uniform(23.99, 24.06, 4000), np.round(rng.uniform(24.0, 24.05, 500), 2)])
    found = index.locate(lons, lats)
    expected = [_naive(polygons, lon, lat) for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True)]
    assert found.tolist() == expected
    assert index.cells is not None and index.cells.interior_share > 0.3
    assert {index.locate_one(lon, lat) for lon, lat in zip(lons[:300], lats[:300], strict=True)} <= set(range(30)) | {
        OUTSIDE
    }
    assert [index.locate_one(lon, lat) for lon, lat in zip(lons[:300], lats[:300], strict=True)] == expected[:300]


def test_nan_far_away_and_hole_points_are_outside() -> None:
    index = _index(_mosaic())
    found = index.locate([np.nan, 109.01, 0.0, 200.0, 109.015], [24.01, np.nan, 0.0, 24.0, 24.015])
    assert found.tolist() == [OUTSIDE] * 5


def test_an_empty_layer_and_empty_input_answer_without_error() -> None:
    empty = LayerIndex(
        layer_id=1,
        level="grid",
        version=1,
        codes=np.array([], dtype=str),
        names=np.array([], dtype=str),
        parent_codes=np.array([], dtype=str),
        geometries=np.array([], dtype=object),
        tree=shapely.STRtree([]),
    )
    assert empty.locate([109.0], [24.0]).tolist() == [OUTSIDE]
    assert _index(_mosaic()).locate([], []).tolist() == []


def test_far_apart_polygons_cost_no_cells_in_between() -> None:
    # Liuzhou and Pudong in one layer: cells exist only in blocks under some polygon's box.
    polygons = [shapely.box(109.0, 24.0, 109.5, 24.5), shapely.box(121.5, 31.0, 121.9, 31.4)]
    table = CellTable.build(np.array(polygons, dtype=object), shapely.STRtree(polygons), 2**12)
    assert table.nbytes < 2 * 1024 * 1024
    assert table.locate(np.array([109.2, 121.7, 115.0]), np.array([24.2, 31.2, 28.0])).tolist() == [0, 1, OUTSIDE]
