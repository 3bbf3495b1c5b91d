"""The command map page carries what its emergency layer needs: the choices it names things by, the
stale age, and which of report / command / assign the user may do (the buttons follow these flags;
the API decides anyway)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.conf import settings
from django.test.utils import override_settings

from emergency.models import IncidentLevel, IncidentType
from emergency.states import UnitStatus, UnitType
from tests.conftest import World, english_client
from tests.second_factor import verified_login


def _config(world: World, who: str) -> dict[str, Any]:
    client = english_client()
    verified_login(client, world.users[who])
    response = client.get("/command/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "emergency.js" in html and "emergency-panel.js" in html
    assert 'id="emg-board"' in html
    found = re.search(r'<script id="screen-config" type="application/json">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))["emergency"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("who", "report", "command", "assign"),
    [
        ("commander", True, True, True),
        ("dispatcher", True, True, True),
        ("operator", True, False, False),
        ("supervisor", False, False, False),
        ("auditor", False, False, False),
    ],
)
def test_the_page_says_what_the_user_may_do(world: World, who: str, report: bool, command: bool, assign: bool) -> None:
    emergency = _config(world, who)
    assert (emergency["may_report"], emergency["may_command"], emergency["may_assign"]) == (report, command, assign)


@override_settings(HOTLINE={**settings.HOTLINE, "UNIT_STALE_SECONDS": 45.0})
def test_the_page_names_every_choice_and_the_stale_age(world: World) -> None:
    emergency = _config(world, "commander")
    assert [c["code"] for c in emergency["incident_types"]] == list(IncidentType.values)
    assert [c["code"] for c in emergency["incident_levels"]] == list(IncidentLevel.values)
    assert [c["code"] for c in emergency["unit_types"]] == list(UnitType.values)
    assert [c["code"] for c in emergency["unit_statuses"]] == list(UnitStatus.values)
    assert {c["code"]: c["name"] for c in emergency["unit_types"]}["fire_engine"] == "Fire engine"
    assert emergency["unit_stale_seconds"] == 45.0
