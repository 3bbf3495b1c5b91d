"""What every live screen page needs: the check of who may open it (organisation/policy.py) and the page's
JSON configuration."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static

from organisation.models import User
from organisation.policy import may_open


def tile_config() -> dict[str, Any]:
    """The base map for the screens (config/settings.py map_tiles; realtime/static/realtime/basemap.js draws it)."""
    tiles = settings.HOTLINE.get("MAP_TILES") or {}
    return {
        "tile_layers": [{**layer, "attribution": str(layer["attribution"])} for layer in tiles.get("layers", [])],
        "tile_coordinate_system": tiles.get("coordinate_system", "wgs84"),
    }


def render_screen(request: HttpRequest, screen: str, template: str, config: dict[str, Any]) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if not may_open(user, screen):
        raise PermissionDenied
    base_config = {
        "screen": screen,
        "user": {
            "id": user.pk,
            "name": user.get_full_name() or user.username,
            "roles": user.roles,
            "agency_id": user.agency_id,
            "extension": user.extension,
        },
        **tile_config(),
        "time_zone": settings.TIME_ZONE,
        "leaflet": {"js": static("leaflet/leaflet.js"), "css": static("leaflet/leaflet.css")},
    }
    context = {
        "screen_config": {**base_config, **config},
        "perms_console": may_open(user, "console"),
        "perms_command": may_open(user, "command"),
        "perms_inbox": may_open(user, "inbox"),
        "perms_supervision": may_open(user, "supervision"),
        "perms_workbench": may_open(user, "workbench"),
        "perms_phrases": may_open(user, "phrases"),
    }
    return render(request, template, context)
