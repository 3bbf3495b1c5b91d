"""The base map presets (README "Base map"): each preset's tile layers and coordinate system, the refusals
at start-up, and what the live screens receive in their configuration."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings
from django.utils import translation

from config.settings import map_tiles
from tests.conftest import World, english_client
from tests.second_factor import verified_login


def test_no_preset_means_no_tiles() -> None:
    assert map_tiles({}) == {"preset": "", "coordinate_system": "wgs84", "layers": []}
    assert map_tiles({"HOTLINE_MAP_TILES": "none"})["layers"] == []


def test_a_tile_url_alone_works_as_before_custom_in_wgs84() -> None:
    tiles = map_tiles({"HOTLINE_MAP_TILE_URL": "https://{s}.tiles.example/{z}/{x}/{y}.png"})
    assert tiles["preset"] == "custom" and tiles["coordinate_system"] == "wgs84"
    [layer] = tiles["layers"]
    assert layer == {
        "url": "https://{s}.tiles.example/{z}/{x}/{y}.png",
        "subdomains": ["a", "b", "c"],  # Leaflet's default for {s}, as before
        "attribution": "",
        "tms": False,
        "max_zoom": 19,
    }


def test_tianditu_gives_the_vector_and_annotation_layers_in_wgs84_with_the_key() -> None:
    tiles = map_tiles({"HOTLINE_MAP_TILES": "tianditu", "HOTLINE_TIANDITU_KEY": "k123"})
    assert tiles["coordinate_system"] == "wgs84"
    vector, labels = tiles["layers"]
    assert "/vec_w/" in vector["url"] and "LAYER=vec" in vector["url"]
    assert "/cva_w/" in labels["url"] and "LAYER=cva" in labels["url"]
    for layer in (vector, labels):
        assert layer["url"].startswith("https://t{s}.tianditu.gov.cn/")
        assert "TILEMATRIXSET=w" in layer["url"]  # Web Mercator
        assert "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in layer["url"]
        assert layer["url"].endswith("tk=k123")
        assert layer["subdomains"] == [str(n) for n in range(8)]
        assert not layer["tms"] and layer["max_zoom"] == 18
        assert "天地图" in str(layer["attribution"])  # the credit in the interface language (zh-hans)
        with translation.override("en"):
            assert "Tianditu" in str(layer["attribution"])


def test_tianditu_without_a_key_refuses_to_start() -> None:
    with pytest.raises(ImproperlyConfigured, match="HOTLINE_TIANDITU_KEY"):
        map_tiles({"HOTLINE_MAP_TILES": "tianditu"})
    with pytest.raises(ImproperlyConfigured, match="HOTLINE_TIANDITU_KEY"):
        map_tiles({"HOTLINE_MAP_TILES": "tianditu", "HOTLINE_TIANDITU_KEY": "  "})


@pytest.mark.parametrize(
    ("preset", "system", "host", "tms"),
    [
        ("amap", "gcj02", "is.autonavi.com", False),
        ("tencent", "gcj02", "map.gtimg.com", True),  # Tencent counts rows from the south
        ("osm", "wgs84", "tile.openstreetmap.org", False),
        ("AMap", "gcj02", "is.autonavi.com", False),  # the preset's name in any case
    ],
)
def test_the_web_presets(preset: str, system: str, host: str, tms: bool) -> None:
    tiles = map_tiles({"HOTLINE_MAP_TILES": preset})
    assert tiles["preset"] == preset.lower() and tiles["coordinate_system"] == system
    [layer] = tiles["layers"]
    assert host in layer["url"] and layer["tms"] is tms
    assert all(part in layer["url"] for part in ("{z}", "{x}", "{y}"))
    assert ("{s}" in layer["url"]) == bool(layer["subdomains"])
    assert str(layer["attribution"])


def test_a_custom_server_in_gcj02_with_its_credit_and_subdomains() -> None:
    tiles = map_tiles(
        {
            "HOTLINE_MAP_TILES": "custom",
            "HOTLINE_MAP_TILE_URL": "http://tiles.gov.internal/{s}/{z}/{x}/{-y}.png",
            "HOTLINE_MAP_TILE_COORDINATE_SYSTEM": "GCJ02",
            "HOTLINE_MAP_TILE_ATTRIBUTION": "市政务地图",
            "HOTLINE_MAP_TILE_SUBDOMAINS": "t1, t2",
            "HOTLINE_MAP_TILE_MAX_ZOOM": "17",
        }
    )
    assert tiles["coordinate_system"] == "gcj02"
    assert tiles["layers"] == [
        {
            "url": "http://tiles.gov.internal/{s}/{z}/{x}/{-y}.png",
            "subdomains": ["t1", "t2"],
            "attribution": "市政务地图",
            "tms": False,
            "max_zoom": 17,
        }
    ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HOTLINE_MAP_TILES": "custom"}, "HOTLINE_MAP_TILE_URL"),
        ({"HOTLINE_MAP_TILES": "baidu"}, "not a preset"),
        (
            {"HOTLINE_MAP_TILE_URL": "http://t/{z}/{x}/{y}", "HOTLINE_MAP_TILE_COORDINATE_SYSTEM": "bd09"},
            "wgs84 or gcj02",
        ),
        ({"HOTLINE_MAP_TILE_URL": "http://t/{z}/{x}/{y}", "HOTLINE_MAP_TILE_MAX_ZOOM": "high"}, "whole number"),
    ],
)
def test_a_wrong_base_map_setting_refuses_to_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        map_tiles(env)


def test_the_server_does_not_start_with_tianditu_and_no_key() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOTLINE_MAP_TILE")}
    env.update({"HOTLINE_MAP_TILES": "tianditu", "HOTLINE_TIANDITU_KEY": ""})
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and "HOTLINE_TIANDITU_KEY" in done.stderr


def _screen_config(world: World, who: str, path: str) -> dict[str, Any]:
    client = english_client()
    verified_login(client, world.users[who])
    response = client.get(path)
    assert response.status_code == 200
    found = re.search(
        r'<script id="screen-config" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


@pytest.mark.parametrize(("who", "path"), [("operator", "/console/"), ("commander", "/command/")])
def test_the_map_screens_receive_the_tile_layers_and_their_system(world: World, who: str, path: str) -> None:
    assert _screen_config(world, who, path)["tile_layers"] == []  # the tests run without tiles
    assert _screen_config(world, who, path)["tile_coordinate_system"] == "wgs84"
    with override_settings(HOTLINE={**settings.HOTLINE, "MAP_TILES": map_tiles({"HOTLINE_MAP_TILES": "amap"})}):
        config = _screen_config(world, who, path)
    assert config["tile_coordinate_system"] == "gcj02"
    [layer] = config["tile_layers"]
    assert set(layer) == {"url", "subdomains", "attribution", "tms", "max_zoom"}
    assert "autonavi" in layer["url"]
    assert layer["attribution"] == "Map data © AutoNavi (Amap)"  # translated for the page (English here)
    assert "tile_url" not in config
