"""The shared unit measures: the vectorised distance is the scalar one, the rough ETA, and the module
layering that keeps recommendation.py and unit_actions.py from importing each other."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import numpy as np
import pytest

from emergency.units.measures import distance_m, distances_m, rough_eta_seconds
from tests.emergency.unit_fixtures import CENTRE_LAT, CENTRE_LON, east_of

UNITS = Path(__file__).resolve().parents[2] / "emergency" / "units"


def test_the_vectorised_distance_is_the_scalar_distance() -> None:
    rng = random.Random(3)
    # Around the city, across the globe, the very same point, and antipodes (where rounding could push the
    # haversine term past 1).
    points = [(CENTRE_LON + rng.uniform(-0.3, 0.3), CENTRE_LAT + rng.uniform(-0.3, 0.3)) for _ in range(500)]
    points += [(rng.uniform(-180, 180), rng.uniform(-90, 90)) for _ in range(500)]
    points += [(CENTRE_LON, CENTRE_LAT), (CENTRE_LON - 180, -CENTRE_LAT)]
    lons = np.array([lon for lon, _lat in points])
    lats = np.array([lat for _lon, lat in points])
    vectorised = distances_m(lons, lats, CENTRE_LON, CENTRE_LAT)
    scalar = [distance_m(lon, lat, CENTRE_LON, CENTRE_LAT) for lon, lat in points]
    assert vectorised.tolist() == pytest.approx(scalar, rel=1e-12, abs=1e-6)
    assert vectorised[-2] == 0.0
    assert vectorised[-1] == pytest.approx(np.pi * 6_371_008.8)
    assert distances_m(np.array([]), np.array([]), CENTRE_LON, CENTRE_LAT).tolist() == []


def test_distance_and_rough_eta() -> None:
    metres = distance_m(CENTRE_LON, CENTRE_LAT, east_of(1000), CENTRE_LAT)
    assert metres == pytest.approx(1000, rel=0.005)
    # 1.3 x the straight line at the type's typical speed: 40 km/h for police, 30 for a type not listed.
    assert rough_eta_seconds("police_car", 1000) == round(1300 / (40 / 3.6)) == 117
    assert rough_eta_seconds("hovercraft", 1000) == round(1300 / (30 / 3.6)) == 156


def _imports(module: str) -> set[str]:
    """Every module the file imports, at its top or inside functions."""
    tree = ast.parse((UNITS / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_recommendations_and_unit_actions_do_not_import_each_other() -> None:
    assert not {m for m in _imports("recommendation") if m.startswith("emergency.units.actions")}
    assert not {m for m in _imports("actions") if m.startswith("emergency.units.recommendation")}
    # The measures both use sit below them.
    assert not {m for m in _imports("measures") if m.startswith("emergency.")} - {
        "emergency.states",
        "emergency.states.UnitType",
    }
