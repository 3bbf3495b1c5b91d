"""Building jurisdiction layers for the importer tests, and driving the commands and the admin with them.

Every layer is built on the fly in ``tmp_path`` around central Liuzhou (109.40 E, 24.30 N); nothing needs the
network. Squares are ``STEP`` degrees (about 1 km) wide, on a lattice whose coordinates are exact in binary
where a test needs points exactly on an edge.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas
import pytest
import shapely
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from gis.actions import do_import_layer
from gis.importer import Feature, LayerRefused, PreparedLayer, overlaps_and_gaps, read_layer
from gis.models import Jurisdiction, JurisdictionLayer
from tests.conftest import World, english_client
from tests.second_factor import verified_login

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

LON, LAT = 109.40, 24.30
STEP = 0.0078125  # 2**-7 degrees (~800 m): lattice points and edges are exact binary fractions

Props = dict[str, Any]


# --- Building layers ------------------------------------------------------------------------------------------


def cell(col: float, row: float, width: float = 1, height: float = 1) -> shapely.Polygon:
    """A rectangle of the lattice, ``col``/``row`` counted in STEPs from (LON, LAT)."""
    return shapely.box(LON + col * STEP, LAT + row * STEP, LON + (col + width) * STEP, LAT + (row + height) * STEP)


def write_geojson(path: Path, features: Sequence[tuple[Props, BaseGeometry | dict[str, Any] | None]]) -> Path:
    """A GeoJSON FeatureCollection written with Python's exact float repr (no writer rounding)."""
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": props,
                "geometry": geometry if geometry is None or isinstance(geometry, dict) else mapping(geometry),
            }
            for props, geometry in features
        ],
    }
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def three_streets(tmp_path: Path, name: str = "streets.geojson") -> Path:
    return write_geojson(
        tmp_path / name,
        [
            ({"code": "450202001", "name": "城中街道", "parent": "450202"}, cell(0, 0)),
            ({"code": "450202002", "name": "公园街道", "parent": "450202"}, cell(1, 0)),
            ({"code": "450203001", "name": "鱼峰街道", "parent": "450203"}, cell(0, 1, width=2)),
        ],
    )


def frame(rows: list[Props], geometries: list[BaseGeometry], crs: str | None) -> geopandas.GeoDataFrame:
    return geopandas.GeoDataFrame(rows, geometry=geometries, crs=crs)


def zipped_shapefile(folder: Path, data: geopandas.GeoDataFrame, *, with_prj: bool = True) -> Path:
    """Write a Shapefile with pyogrio, then zip its parts (at the archive's root) into ``folder/streets.zip``."""
    parts = folder / "shapefile"
    parts.mkdir()
    data.to_file(parts / "streets.shp", engine="pyogrio")
    archive = folder / "streets.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in sorted(parts.iterdir()):
            if part.suffix == ".prj" and not with_prj:
                continue
            zipped.write(part, part.name)
    return archive


def features_of(*items: tuple[str, BaseGeometry]) -> PreparedLayer:
    features = [Feature(code=code, name=f"名{code}", geometry=geometry) for code, geometry in items]
    return PreparedLayer(features=features, source_crs="EPSG:4326", report=overlaps_and_gaps(features))


def import_features(level: str, *items: tuple[str, BaseGeometry], activate: bool = True) -> JurisdictionLayer:
    return do_import_layer(features_of(*items), level=level, name=f"{level} test", source="test", activate=activate)


def stored_geometry(layer: JurisdictionLayer, code: str) -> BaseGeometry:
    row = Jurisdiction.objects.get(layer=layer, code=code)
    return shapely.from_wkb(bytes(row.geometry_wkb))


def refusal(path: Path, **kwargs: Any) -> LayerRefused:
    options = {"code_field": "code", "name_field": "name", **kwargs}
    with pytest.raises(LayerRefused) as caught:
        read_layer(path, **options)
    return caught.value


BOW_TIE = shapely.Polygon([(LON, LAT), (LON + STEP, LAT + STEP), (LON + STEP, LAT), (LON, LAT + STEP)])


# --- Commands and the admin -----------------------------------------------------------------------------------


def run(command: str, *args: Any, **options: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    with translation.override("en"):
        call_command(command, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def admin_client(world: World) -> Client:
    client = english_client()
    verified_login(client, world.users["admin"])
    return client


def upload_url() -> str:
    return reverse("admin:geo_jurisdictionlayer_upload")


def upload(client: Client, path: Path, **fields: Any) -> Response:
    data: dict[str, Any] = {"level": "street", "code_field": "code", "name_field": "name", "coordinate_system": "wgs84"}
    data.update(fields)
    data["file"] = SimpleUploadedFile(path.name, path.read_bytes())
    return client.post(upload_url(), data)


def levels_of(response: Response) -> list[int]:
    return [message.level for message in get_messages(response.wsgi_request)]
