"""CAP 1.2 export: every alert validates against the OASIS XSD; the Atom feed lists the active public alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from lxml import etree

from core import clock
from emergency.cap import CAP_NAMESPACE, schema_errors
from emergency.feeds import ATOM_NAMESPACE
from emergency.models import IncidentLevel
from tests.conftest import World
from tests.emergency.incident_fixtures import create_incident, linkage_fixture, ok  # noqa: F401

NS = {"cap": CAP_NAMESPACE, "atom": ATOM_NAMESPACE}
SQUARE = [[109.40, 24.30], [109.42, 24.30], [109.42, 24.32], [109.40, 24.32], [109.40, 24.30]]
T0 = dt.datetime(2026, 11, 21, 1, 0, 7, 123456, tzinfo=dt.UTC)


def _cap(world: World, incident_id: int, who: str = "commander") -> Any:
    response = world.client(who).get(f"/api/incidents/{incident_id}/cap/")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/cap+xml")
    assert schema_errors(response.content) == []
    return etree.fromstring(response.content)


def _text(alert: Any, path: str) -> list[str]:
    return [node.text for node in alert.findall(path, NS)]


def _post(world: World, url: str, body: dict | None = None) -> Any:
    return ok(world.client("commander").post(url, body or {}, format="json"))


@pytest.mark.parametrize(
    ("level", "urgency", "severity"),
    [
        ("IV", "Expected", "Minor"),
        ("III", "Expected", "Moderate"),
        ("II", "Immediate", "Severe"),
        ("I", "Immediate", "Extreme"),
    ],
)
def test_every_level_maps_and_validates(linkage: World, level: str, urgency: str, severity: str) -> None:
    assert level in IncidentLevel.values
    with clock.pinned_at(T0):
        incident = create_incident(linkage, level=level, area_kind="circle", area_radius_m=1500)
    alert = _cap(linkage, incident["id"])
    # Never published: a preview, a Draft (its Actual first message comes when the commander publishes).
    assert _text(alert, "cap:msgType") == ["Alert"] and _text(alert, "cap:status") == ["Draft"]
    assert _text(alert, "cap:scope") == ["Public"]
    assert _text(alert, "cap:sent") == ["2026-11-21T09:00:07+08:00"]
    assert _text(alert, "cap:info/cap:language") == ["zh-CN", "en-US"]
    assert _text(alert, "cap:info/cap:urgency") == [urgency, urgency]
    assert _text(alert, "cap:info/cap:severity") == [severity, severity]
    assert _text(alert, "cap:info/cap:certainty") == ["Likely", "Likely"]  # only reported so far
    assert _text(alert, "cap:info/cap:category") == ["Fire", "Fire"]
    assert _text(alert, "cap:info/cap:area/cap:circle") == ["24.312600,109.411200 1.500"] * 2
    assert _text(alert, "cap:info/cap:area/cap:geocode/cap:value") == ["450202", "450202"]


def test_polygon_area_is_a_closed_lat_lon_ring(linkage: World) -> None:
    open_ring = SQUARE[:-1]  # GeoJSON rings are closed; an open one is closed on the way in
    incident = create_incident(
        linkage, type="flood", area_kind="polygon", area_geojson={"type": "Polygon", "coordinates": [open_ring]}
    )
    alert = _cap(linkage, incident["id"])
    polygon = _text(alert, "cap:info/cap:area/cap:polygon")[0].split(" ")
    assert polygon[0] == polygon[-1] and len(polygon) == 5
    lat, lon = (float(v) for v in polygon[1].split(","))
    assert 24 < lat < 25 and 109 < lon < 110  # "lat,lon", not GeoJSON's lon,lat
    assert _text(alert, "cap:info/cap:category") == ["Met", "Infra", "Met", "Infra"]


def test_update_and_cancel_reference_the_whole_thread(linkage: World) -> None:
    world = linkage
    with clock.pinned_at(T0):
        incident = create_incident(world)
        _post(world, f"/api/incidents/{incident['id']}/publish_alert/")
    first = _cap(world, incident["id"])
    assert _text(first, "cap:msgType") == ["Alert"] and _text(first, "cap:references") == []
    assert _text(first, "cap:status") == ["Actual"]
    identifier = _text(first, "cap:identifier")[0]
    sender = "yjld@12345.liuzhou.gov.cn"
    with clock.pinned_at(T0 + dt.timedelta(minutes=30)):
        _post(world, f"/api/incidents/{incident['id']}/confirm/")
    confirmed = _cap(world, incident["id"])
    assert _text(confirmed, "cap:references") == [f"{sender},{identifier},2026-11-21T09:00:07+08:00"]
    with clock.pinned_at(T0 + dt.timedelta(minutes=40)):
        _post(
            world,
            f"/api/incidents/{incident['id']}/update/",
            {"level": "II", "area_kind": "circle", "area_radius_m": 500},
        )
    update = _cap(world, incident["id"])
    assert _text(update, "cap:msgType") == ["Update"]
    assert _text(update, "cap:identifier") != [identifier]
    # Every earlier message, oldest first, space-separated sender,identifier,sent triples.
    assert _text(update, "cap:references") == [
        f"{sender},{identifier},2026-11-21T09:00:07+08:00 "
        f"{sender},{_text(confirmed, 'cap:identifier')[0]},2026-11-21T09:30:07+08:00"
    ]
    assert _text(update, "cap:info/cap:severity") == ["Severe", "Severe"]
    assert _text(update, "cap:info/cap:certainty") == ["Observed", "Observed"]
    _post(world, f"/api/incidents/{incident['id']}/cancel/", {"note": "误报"})
    cancel = _cap(world, incident["id"])
    assert _text(cancel, "cap:msgType") == ["Cancel"]
    assert _text(cancel, "cap:references") == [
        _text(update, "cap:references")[0]
        + f" {sender},{_text(update, 'cap:identifier')[0]},{_text(update, 'cap:sent')[0]}"
    ]
    assert _text(cancel, "cap:info/cap:responseType") == ["AllClear", "AllClear"]
    # Every message has its own identifier.
    assert len({_text(m, "cap:identifier")[0] for m in (first, confirmed, update, cancel)}) == 4


def test_closing_a_public_incident_sends_a_new_cancel_message(linkage: World) -> None:
    world = linkage
    incident = create_incident(world)
    _post(world, f"/api/incidents/{incident['id']}/publish_alert/")
    identifiers = []
    for step in ("dispatch", "arrive", "control", "close"):
        _post(world, f"/api/incidents/{incident['id']}/{step}/")
        identifiers.append(_text(_cap(world, incident["id"]), "cap:identifier")[0])
    assert len(set(identifiers)) == 4
    assert _text(_cap(world, incident["id"]), "cap:msgType") == ["Cancel"]


def test_withdrawn_alert_is_a_cancel_and_every_type_validates(linkage: World) -> None:
    world = linkage
    from emergency.models import IncidentType

    for incident_type in IncidentType.values:
        incident = create_incident(world, type=incident_type, description="", address="")
        _cap(world, incident["id"])
    incident = create_incident(world)
    _post(world, f"/api/incidents/{incident['id']}/publish_alert/")
    _post(world, f"/api/incidents/{incident['id']}/withdraw_alert/", {"note": "信息有误"})
    assert _text(_cap(world, incident["id"]), "cap:msgType") == ["Cancel"]


def test_schema_check_rejects_a_broken_alert() -> None:
    broken = (
        f'<alert xmlns="{CAP_NAMESPACE}"><identifier>x</identifier><sender>s</sender>'
        "<sent>2026-11-21 09:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope></alert>"
    ).encode()
    assert schema_errors(broken)


def test_cap_of_unpublished_incidents_is_not_public(linkage: World) -> None:
    from rest_framework.test import APIClient

    incident = create_incident(linkage)
    anonymous = APIClient()
    assert anonymous.get(f"/api/incidents/{incident['id']}/cap/").status_code == 404
    assert linkage.client("handler_a").get(f"/api/incidents/{incident['id']}/cap/").status_code == 404
    _post(linkage, f"/api/incidents/{incident['id']}/publish_alert/")
    response = anonymous.get(f"/api/incidents/{incident['id']}/cap/")
    assert response.status_code == 200 and schema_errors(response.content) == []


def test_atom_feed_lists_the_active_public_alerts_and_recent_cancels(linkage: World) -> None:
    from rest_framework.test import APIClient

    world = linkage
    published, closed_one, withdrawn, never = (create_incident(world, title=f"事件{i}") for i in range(4))
    for incident in (published, closed_one, withdrawn):
        _post(world, f"/api/incidents/{incident['id']}/publish_alert/")
    _post(world, f"/api/incidents/{withdrawn['id']}/withdraw_alert/")
    for step in ("dispatch", "arrive", "control", "close"):
        _post(world, f"/api/incidents/{closed_one['id']}/{step}/")
    response = APIClient().get("/api/incidents/alerts.atom")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/atom+xml")
    feed = etree.fromstring(response.content)
    assert feed.tag == f"{{{ATOM_NAMESPACE}}}feed"
    entries = feed.findall("atom:entry", NS)
    by_title = {e.findtext("atom:title", namespaces=NS): e for e in entries}
    # The closed and the withdrawn incident stay in the feed with their Cancel; the unpublished one never enters.
    assert set(by_title) == {published["title"], closed_one["title"], withdrawn["title"]}
    scheme = f"{CAP_NAMESPACE}:msgType"
    kinds = {
        title: [c.get("term") for c in entry.findall("atom:category", NS) if c.get("scheme") == scheme]
        for title, entry in by_title.items()
    }
    assert kinds == {published["title"]: ["Alert"], closed_one["title"]: ["Cancel"], withdrawn["title"]: ["Cancel"]}
    entry = by_title[published["title"]]
    link = entry.find("atom:link[@rel='alternate']", NS)
    assert link is not None and link.get("type") == "application/cap+xml"
    assert link.get("href", "").endswith(f"/api/incidents/{published['id']}/cap/")
    for required in ("atom:id", "atom:title", "atom:updated"):
        assert feed.find(required, NS) is not None and entry.find(required, NS) is not None
    assert never["public_alert"] is False
