"""A later EIDO of an incident taken over from another centre updates our copy (timeline, event, schema-valid
export); the same version again changes nothing and says so; an older version than the one applied is refused
with the field named and nothing changed (issue #19, item 7)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from emergency.eido import pidf
from emergency.eido.schema import schema_errors
from emergency.models import ImportedIncident, Incident, IncidentTimelineEntry
from realtime.models import Event
from tests.conftest import World
from tests.emergency.incident_fixtures import create_incident, linkage_fixture, ok  # noqa: F401
from tests.emergency.test_eido import FOREIGN, _eido, _foreign

IMPORT = "/api/incidents/eido/"
FIRST, LATER, EARLIER = "2026-11-21T09:00:00+08:00", "2026-11-21T10:30:00+08:00", "2026-11-21T09:30:00+08:00"
MOVED = (24.3201, 109.4205)  # lat, lon: still inside the test district


def _first_version(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """Another centre's EIDO of a fire (its version at FIRST) and the incident importing it made."""
    source = create_incident(world, type="fire", level="III", title="柳北区仓库火灾", description="仓库冒烟。")
    document = _foreign(_eido(world, source["id"]))
    document["lastUpdateTimeStamp"] = FIRST
    created = ok(world.client("commander").post(IMPORT, document, format="json"), 201)
    assert created["eido_import"] == "created"
    return document, created


def _later_version(document: dict[str, Any], at: str) -> dict[str, Any]:
    """The partner's next version: a flood now, level II, moved, new notes, sent by its 120 desk."""
    later = copy.deepcopy(document)
    later["lastUpdateTimeStamp"] = at
    later["updatedByAgencyReference"] = {"$ref": "zhzx.120.example.cn"}
    incident = later["incidentComponent"]
    incident["incidentTypeCommonRegistryText"] = "Flood"
    incident["incidentTypeInternalCode"] = "HZ-07"
    incident["incidentCommonPriorityNumber"] = 2
    incident["incidentStatusInternalText"] = ["dispatched"]
    point = later["locationComponent"][0]
    point["locationByValue"] = pidf.point_or_circle("pres:x@zhzx.119.example.cn", at, *MOVED, None)
    point["locationDescriptionText"] = "柳北区雅儒路8号"
    later["notesComponent"][0]["notesActionComments"] = "仓库被淹\n水深一米，已疏散。"
    assert schema_errors(later) == []
    return later


def _state(incident_id: int) -> tuple[Any, ...]:
    incident = Incident.objects.get(pk=incident_id)
    imported = ImportedIncident.objects.get(incident_id=incident_id)
    return (
        incident.type,
        incident.level,
        incident.title,
        incident.description,
        incident.address,
        incident.latitude,
        incident.longitude,
        incident.updated_at,
        imported.source_updated_at,
        imported.sending_agency,
        IncidentTimelineEntry.objects.filter(incident_id=incident_id).count(),
        Event.objects.count(),
    )


def test_a_later_version_updates_our_copy_on_the_timeline_with_its_event(linkage: World) -> None:
    document, created = _first_version(linkage)
    events_before = Event.objects.count()
    updated = ok(linkage.client("dispatcher").post(IMPORT, _later_version(document, LATER), format="json"))
    assert updated["id"] == created["id"] and updated["eido_import"] == "updated"
    assert (updated["type"], updated["level"], updated["title"]) == ("flood", "II", "仓库被淹")
    assert updated["description"] == "仓库被淹\n水深一米，已疏散。" and updated["address"] == "柳北区雅儒路8号"
    assert (round(updated["latitude"], 6), round(updated["longitude"], 6)) == MOVED
    assert updated["state"] == "reported"  # a partner's status is not ours: our workflow moves our copy
    assert Incident.objects.filter(title__in=("柳北区仓库火灾", "仓库被淹")).count() == 2  # no new incident
    imported = ImportedIncident.objects.get(incident_id=created["id"])
    assert imported.source_updated_at == dt.datetime.fromisoformat(LATER)
    assert (imported.tracking_id, imported.sending_agency) == (FOREIGN, "zhzx.120.example.cn")
    step = IncidentTimelineEntry.objects.get(incident_id=created["id"], action="update_eido")
    assert step.data["tracking_id"] == FOREIGN and step.data["agency"] == "zhzx.120.example.cn"
    assert {"type", "level", "title", "latitude"} <= set(step.data["changed"])
    assert step.from_state == step.to_state == "reported"
    changed = Event.objects.filter(pk__gt=events_before, type="incident.changed").get()
    assert changed.payload["action"] == "update_eido" and changed.payload["incident"]["type"] == "flood"
    # Our export of the updated copy is still a valid EIDO, carrying the new type and note.
    exported = _eido(linkage, created["id"])
    assert exported["incidentComponent"]["incidentTypeCommonRegistryText"] == "Flood"
    assert "水深一米" in json.dumps(exported, ensure_ascii=False)


def test_the_same_version_again_changes_nothing_and_says_unchanged(linkage: World) -> None:
    document, created = _first_version(linkage)
    before = _state(created["id"])
    again = ok(linkage.client("commander").post(IMPORT, document, format="json"))
    assert again["id"] == created["id"] and again["eido_import"] == "unchanged"
    assert _state(created["id"]) == before
    # A later version applied, then sent once more: unchanged the second time.
    later = _later_version(document, LATER)
    assert ok(linkage.client("commander").post(IMPORT, later, format="json"))["eido_import"] == "updated"
    applied = _state(created["id"])
    assert ok(linkage.client("commander").post(IMPORT, later, format="json"))["eido_import"] == "unchanged"
    assert _state(created["id"]) == applied


def test_an_older_version_than_the_one_applied_is_refused_and_changes_nothing(linkage: World) -> None:
    document, created = _first_version(linkage)
    ok(linkage.client("commander").post(IMPORT, _later_version(document, LATER), format="json"))
    before = _state(created["id"])
    stale = _later_version(document, EARLIER)  # newer than the first, older than the one applied
    stale["notesComponent"][0]["notesActionComments"] = "过时的消息"
    response = linkage.client("commander").post(IMPORT, stale, format="json")
    assert response.status_code == 400, response.content
    problem = response.json()
    assert problem["code"] == "eido_out_of_date" and list(problem["fields"]) == ["lastUpdateTimeStamp"]
    assert _state(created["id"]) == before
    assert not IncidentTimelineEntry.objects.filter(incident_id=created["id"], note__contains="过时").exists()


def test_our_own_incident_echoed_back_is_never_changed(linkage: World) -> None:
    source = create_incident(linkage, title="本中心事件")
    echoed = _eido(linkage, source["id"])
    echoed["lastUpdateTimeStamp"] = "2099-01-01T00:00:00+08:00"
    echoed["notesComponent"][0]["notesActionComments"] = "伙伴改写的标题"
    answer = ok(linkage.client("commander").post(IMPORT, echoed, format="json"))
    assert (answer["id"], answer["eido_import"], answer["title"]) == (source["id"], "unchanged", "本中心事件")
    assert not IncidentTimelineEntry.objects.filter(action="update_eido").exists()


def test_the_partner_centres_key_sends_the_later_version(linkage: World) -> None:
    from tests.exchange.keys import issue, key_client

    document, created = _first_version(linkage)
    _key, raw = issue(linkage, partner="119指挥中心", scopes=["incidents:exchange"])
    updated = ok(key_client(raw).post(IMPORT, _later_version(document, LATER), format="json"))
    assert (updated["id"], updated["eido_import"], updated["type"]) == (created["id"], "updated", "flood")
    assert IncidentTimelineEntry.objects.filter(incident_id=created["id"], action="update_eido").count() == 1
