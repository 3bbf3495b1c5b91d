"""Incident exchange in NENA EIDO JSON: exports validate against NENA's published schema (vendored), another
centre's EIDO becomes an incident once per tracking identifier, invalid documents are refused with the schema's
errors, and an EIDO reaches a partner centre through the outbox."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest

from emergency.eido.schema import schema_errors
from emergency.models import ImportedIncident, Incident, IncidentTimelineEntry
from exchange import signing
from exchange.models import Delivery
from exchange.outbox import drain
from tests.conftest import World
from tests.emergency.incident_fixtures import agency, create_incident, linkage_fixture, ok  # noqa: F401
from tests.exchange.receiver import running_receiver

SQUARE = [[109.40, 24.30], [109.42, 24.30], [109.42, 24.32], [109.40, 24.32], [109.40, 24.30]]
FOREIGN = "urn:emergency:uid:incidentid:119-20261121-0042:zhzx.119.example.cn"


def _eido(world: World, incident_id: int) -> dict[str, Any]:
    response = world.client("commander").get(f"/api/incidents/{incident_id}/eido/")
    assert response.status_code == 200, response.content
    document = json.loads(response.content)
    assert schema_errors(document) == []
    return document


def _foreign(document: dict[str, Any]) -> dict[str, Any]:
    """Our export as another centre would send it: its own tracking id and agency, its own internal codes."""
    foreign = copy.deepcopy(document)
    foreign["$id"] = FOREIGN
    foreign["updatedByAgencyReference"] = {"$ref": "zhzx.119.example.cn"}
    foreign["issuingElementIdentification"] = "cad.zhzx.119.example.cn"
    incident = foreign["incidentComponent"]
    incident["incidentTypeInternalCode"] = "HZ-01"  # not one of ours: the registry word decides
    incident["incidentPriorityInternalText"] = "P1"  # not one of ours: the common priority number decides
    incident["incidentCommonPriorityNumber"] = 1
    return foreign


def test_export_validates_and_carries_type_place_area_and_linked_agencies(linkage: World) -> None:
    incident = create_incident(
        linkage,
        type="flood",
        level="II",
        description="积水深约半米，联系人13907721234。",
        area_kind="polygon",
        area_geojson={"type": "Polygon", "coordinates": [SQUARE]},
    )
    ok(
        linkage.client("commander").post(
            f"/api/incidents/{incident['id']}/agencies/",
            {"agency_id": agency("fire").pk, "task": "排水救援"},
            format="json",
        ),
        201,
    )
    document = _eido(linkage, incident["id"])
    assert document["eidoVersion"] == "1.0"
    assert document["$id"] == f"urn:emergency:uid:incidentid:{incident['number']}:yjld.12345.liuzhou.gov.cn"
    component = document["incidentComponent"]
    assert component["incidentTypeCommonRegistryText"] == "Flood" and component["incidentTypeInternalCode"] == "flood"
    assert component["incidentCommonPriorityNumber"] == 2
    shapes = [location["locationByValue"] for location in document["locationComponent"]]
    assert "gml:Point" in shapes[0] and "24.3126000 109.4112000" in shapes[0]  # lat lon, as RFC 5491 says
    assert "gml:Polygon" in shapes[1]
    agencies = {a["$id"]: a for a in document["agencyComponent"]}
    assert agencies["yjld.12345.liuzhou.gov.cn"]["incidentOwningAgencyIndicator"] is True
    assert agencies["fire.yjld.12345.liuzhou.gov.cn"]["agencyType"] == ["fire"]
    text = json.dumps(document, ensure_ascii=False)
    assert "13907721234" not in text and "积水深约半米" in text  # typed numbers leave masked
    # Agencies (even a linked one) do not export incidents.
    assert linkage.client("fire_handler").get(f"/api/incidents/{incident['id']}/eido/").status_code == 404


def test_a_foreign_eido_becomes_one_incident_whatever_the_repeats(linkage: World) -> None:
    source = create_incident(
        linkage, type="fire", level="III", title="柳北区仓库火灾", area_kind="circle", area_radius_m=800
    )
    foreign = _foreign(_eido(linkage, source["id"]))
    before = Incident.objects.count()
    created = ok(linkage.client("dispatcher").post("/api/incidents/eido/", foreign, format="json"), 201)
    assert Incident.objects.count() == before + 1 and created["id"] != source["id"]
    assert (created["type"], created["level"], created["title"]) == ("fire", "I", "柳北区仓库火灾")
    assert (created["area_kind"], created["area_radius_m"]) == ("circle", 800.0)
    assert abs(created["latitude"] - 24.3126) < 1e-6 and abs(created["longitude"] - 109.4112) < 1e-6
    imported = ImportedIncident.objects.get(incident_id=created["id"])
    assert (imported.tracking_id, imported.sending_agency) == (FOREIGN, "zhzx.119.example.cn")
    step = IncidentTimelineEntry.objects.get(incident_id=created["id"], action="import_eido")
    assert step.data["tracking_id"] == FOREIGN
    # The same document again, and a later version saying the same: the same incident, nothing new.
    again = ok(linkage.client("commander").post("/api/incidents/eido/", foreign, format="json"), 200)
    sent_at = dt.datetime.fromisoformat(foreign["lastUpdateTimeStamp"])
    foreign["lastUpdateTimeStamp"] = (sent_at + dt.timedelta(hours=1)).isoformat()
    later = ok(linkage.client("commander").post("/api/incidents/eido/", foreign, format="json"), 200)
    assert again["id"] == later["id"] == created["id"] and Incident.objects.count() == before + 1
    assert again["eido_import"] == later["eido_import"] == "unchanged"
    # Our own EIDO coming back (a partner echoing it) finds the incident it describes.
    echoed = ok(linkage.client("commander").post("/api/incidents/eido/", _eido(linkage, source["id"]), format="json"))
    assert echoed["id"] == source["id"] and Incident.objects.count() == before + 1


def test_an_invalid_document_is_refused_with_the_schema_errors_and_changes_nothing(linkage: World) -> None:
    source = create_incident(linkage)
    broken = _foreign(_eido(linkage, source["id"]))
    del broken["agencyComponent"]
    broken["lastUpdateTimeStamp"] = "21/11/2026 09:00"
    broken["incidentComponent"]["incidentCommonPriorityNumber"] = "high"
    before = Incident.objects.count()
    response = linkage.client("commander").post("/api/incidents/eido/", broken, format="json")
    assert response.status_code == 400
    errors = response.json()["fields"]["eido"]
    assert "/: 'agencyComponent' is a required property" in errors
    assert any(e.startswith("/lastUpdateTimeStamp:") for e in errors)
    assert any(e.startswith("/incidentComponent/incidentCommonPriorityNumber:") for e in errors)
    assert linkage.client("commander").post("/api/incidents/eido/", [1, 2], format="json").status_code == 400
    assert Incident.objects.count() == before and not ImportedIncident.objects.exists()


def test_a_valid_eido_this_centre_cannot_place_is_refused(linkage: World) -> None:
    document = _foreign(_eido(linkage, create_incident(linkage)["id"]))
    no_incident = {k: v for k, v in document.items() if k != "incidentComponent"}
    response = linkage.client("commander").post("/api/incidents/eido/", no_incident, format="json")
    assert response.status_code == 400 and "incidentComponent" in response.json()["fields"]
    for location in document["locationComponent"]:
        location.pop("locationByValue")
        location["locationByReferenceUrl"] = "https://lis.example.cn/loc/1"
    assert schema_errors(document) == []
    response = linkage.client("commander").post("/api/incidents/eido/", document, format="json")
    assert response.status_code == 400 and "locationComponent" in response.json()["fields"]


@pytest.mark.parametrize("who", ["operator", "fire_handler"])
def test_only_the_command_desk_imports(linkage: World, who: str) -> None:
    document = _foreign(_eido(linkage, create_incident(linkage)["id"]))
    assert linkage.client(who).post("/api/incidents/eido/", document, format="json").status_code == 403
    assert not ImportedIncident.objects.exists()


def test_an_eido_reaches_a_partner_centre_through_the_outbox(linkage: World, settings: Any) -> None:
    incident = create_incident(linkage)
    with running_receiver([503, 200]) as receiver:
        settings.HOTLINE = {
            **settings.HOTLINE,
            "EIDO_PARTNERS": {
                "fire119": {
                    "name": "119指挥中心",
                    "url": receiver.url,
                    "secret": "s3cret",
                    "allow_private_network": True,
                },
                "unchecked": {"name": "未放行", "url": receiver.url},
            },
        }
        partners = ok(linkage.client("commander").get("/api/eido/partners/"))
        assert {p["key"] for p in partners} == {"fire119", "unchecked"}
        bad = linkage.client("commander").post(
            f"/api/incidents/{incident['id']}/eido/send/", {"partner": "nobody"}, format="json"
        )
        assert bad.status_code == 400 and "partner" in bad.json()["fields"]
        sent = ok(
            linkage.client("commander").post(
                f"/api/incidents/{incident['id']}/eido/send/", {"partner": "fire119"}, format="json"
            ),
            202,
        )
        delivery = Delivery.objects.get(pk=sent["delivery"])
        assert (delivery.kind, delivery.destination, delivery.event_type) == ("eido", "fire119", "incident.eido")
        assert IncidentTimelineEntry.objects.filter(incident_id=incident["id"], action="send_eido").exists()
        drain()  # first attempt: 503
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
        drain()  # the retry: 200
        receiver.wait_for(2)
        delivery.refresh_from_db()
        assert delivery.state == "delivered" and delivery.attempt_count == 2
        first, second = receiver.received
        assert first.headers["x-hotline-delivery"] == second.headers["x-hotline-delivery"] == str(delivery.pk)
        assert schema_errors(json.loads(second.body)) == []
        assert json.loads(second.body)["$id"].endswith(f"{incident['number']}:yjld.12345.liuzhou.gov.cn")
        timestamp = int(second.headers["x-hotline-signature"].split(",")[0][2:])
        assert signing.verify(second.headers["x-hotline-signature"], second.body, "s3cret", now=timestamp)
        # A partner on a private address without the administrator's leave is never called.
        refused = ok(
            linkage.client("commander").post(
                f"/api/incidents/{incident['id']}/eido/send/", {"partner": "unchecked"}, format="json"
            ),
            202,
        )
        drain()
        assert len(receiver.received) == 2
        attempt = Delivery.objects.get(pk=refused["delivery"]).attempts.get()
        assert attempt.error_kind == "private_address"


def test_agencies_and_intake_do_not_send(linkage: World, settings: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "EIDO_PARTNERS": {"p": {"name": "p", "url": "https://example.org/"}}}
    incident = create_incident(linkage)
    for who in ("operator", "fire_handler"):
        response = linkage.client(who).post(
            f"/api/incidents/{incident['id']}/eido/send/", {"partner": "p"}, format="json"
        )
        assert response.status_code in (403, 404)
    assert not Delivery.objects.exists()


def _polygon_only(document: dict[str, Any], pidf: str) -> dict[str, Any]:
    foreign = _foreign(document)
    location = foreign["locationComponent"][0]
    location["locationByValue"] = pidf
    foreign["locationComponent"] = [location]
    foreign["incidentComponent"]["locationReference"] = [{"$ref": location["$id"]}]
    return foreign


def test_a_polygon_only_location_becomes_the_affected_area_with_a_point_inside(linkage: World) -> None:
    from emergency.eido import pidf

    document = _eido(linkage, create_incident(linkage)["id"])
    shape = pidf.polygon("pres:x@example.cn", "2026-11-21T09:00:00+08:00", {"type": "Polygon", "coordinates": [SQUARE]})
    created = ok(
        linkage.client("commander").post("/api/incidents/eido/", _polygon_only(document, shape), format="json"), 201
    )
    assert created["area_kind"] == "polygon"
    ring = created["area_geojson"]["coordinates"][0]
    assert sorted(map(tuple, ring[:-1])) == sorted(map(tuple, SQUARE[:-1]))  # GeoJSON [lon, lat] order again
    assert 24.30 < created["latitude"] < 24.32 and 109.40 < created["longitude"] < 109.42


def test_entities_in_a_pidf_lo_are_never_resolved(linkage: World, tmp_path: Any) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("24.31 109.41")
    hostile = (
        f'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY pos SYSTEM "file://{secret}">]>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gml="http://www.opengis.net/gml">'
        "<gml:Point><gml:pos>&pos;</gml:pos></gml:Point></presence>"
    )
    document = _polygon_only(_eido(linkage, create_incident(linkage)["id"]), hostile)
    response = linkage.client("commander").post("/api/incidents/eido/", document, format="json")
    assert response.status_code == 400 and "locationComponent" in response.json()["fields"]
    assert not ImportedIncident.objects.exists()


def test_a_partner_centres_key_with_the_exchange_scope_imports(linkage: World) -> None:
    from tests.exchange.keys import issue, key_client

    document = _foreign(_eido(linkage, create_incident(linkage)["id"]))
    _key, raw = issue(linkage, partner="119指挥中心", scopes=["incidents:exchange"])
    created = ok(key_client(raw).post("/api/incidents/eido/", document, format="json"), 201)
    assert ImportedIncident.objects.get(incident_id=created["id"]).tracking_id == FOREIGN
    # The key imports and nothing else of the exchange: no export, no sending.
    assert key_client(raw).get(f"/api/incidents/{created['id']}/eido/").status_code in (403, 404)
    _other, wrong = issue(linkage, partner="其他系统", scopes=["open311:submit"])
    assert key_client(wrong).post("/api/incidents/eido/", _foreign(document), format="json").status_code == 403
