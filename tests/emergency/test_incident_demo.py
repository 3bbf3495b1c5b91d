"""The demo city's incidents: through the real actions, linked by function, public alerts valid, idempotent."""

from __future__ import annotations

import io

from django.core.management import call_command
from rest_framework.test import APIClient

from core import clock
from emergency.cap import alert_xml, schema_errors
from emergency.models import Assignment, Incident, IncidentAgency, IncidentTimelineEntry, TransferRule, Unit
from organisation.models import User
from tests.pinned_time import DEMO_NOW


def test_demo_incidents_load_once_and_make_sense(db: object) -> None:
    with clock.pinned_at(DEMO_NOW):
        call_command("load_demo_city", tickets=40, stdout=io.StringIO())
        incidents = {i.title: i for i in Incident.objects.all()}
        assert {"文惠路居民楼火灾", "航生路下穿隧道积水", "桂中大道三车追尾", "雅儒片区停电"} <= set(incidents)
        fire = incidents["文惠路居民楼火灾"]
        assert fire.state == "dispatched" and fire.district_code == "450202" and fire.public_alert
        linked = {link.agency.code: link.status for link in IncidentAgency.objects.filter(incident=fire)}
        # By function, the district's own agencies first: its police branch and its government.
        assert linked == {
            "lz-xfjy": "working",
            "lz-120": "acknowledged",
            "lz-chengzhong-gafj": "notified",
            "lz-chengzhong": "notified",
        }
        assert incidents["雅儒片区停电"].state == "closed"
        assert TransferRule.objects.filter(line="119").exists()
        for incident in incidents.values():
            assert schema_errors(alert_xml(incident)) == []
        feed = APIClient().get("/api/incidents/alerts.atom").content.decode()
        assert "文惠路居民楼火灾" in feed and "航生路下穿隧道积水" in feed and "桂中大道三车追尾" not in feed
        commander = APIClient()
        commander.force_authenticate(User.objects.get(username="commander"))
        suggested = commander.get(f"/api/incidents/{fire.pk}/suggested-agencies/").json()
        assert [s["agency"]["code"] for s in suggested][:2] == ["lz-xfjy", "lz-120"] and all(
            s["linked"] for s in suggested
        )
        before = (Incident.objects.count(), IncidentTimelineEntry.objects.count(), IncidentAgency.objects.count())
        call_command("load_demo_city", tickets=40, stdout=io.StringIO())
        assert (
            Incident.objects.count(),
            IncidentTimelineEntry.objects.count(),
            IncidentAgency.objects.count(),
        ) == before


def test_demo_incidents_whose_state_says_forces_were_sent_list_the_units_sent(db: object) -> None:
    """Issue #17: the demo's incidents said "已调派力量" (forces dispatched) and "尚未调派力量" (no units
    assigned yet) at once; the demo now sends real units, and the first of them arrives where forces are on
    scene."""
    with clock.pinned_at(DEMO_NOW):
        call_command("load_demo_city", tickets=12, stdout=io.StringIO())
    for incident in Incident.objects.all():
        assignments = Assignment.objects.filter(incident=incident)
        if incident.state in ("dispatched", "on_scene", "controlled", "closed"):
            assert assignments.exists(), incident.title
        else:
            assert not assignments.exists(), incident.title
        if incident.state in ("on_scene", "controlled"):
            assert assignments.filter(on_scene_at__isnull=False).exists(), incident.title
        open_units = Unit.objects.filter(assignments__incident=incident, assignments__cleared_at__isnull=True)
        if incident.state == "closed":  # a closed incident keeps no unit on it
            assert not open_units.exists(), incident.title
        else:
            assert all(unit.status in ("dispatched", "on_scene") for unit in open_units), incident.title
    fire = Incident.objects.get(title="文惠路居民楼火灾")
    sent = set(Assignment.objects.filter(incident=fire).values_list("unit__unit_type", flat=True))
    assert sent == {"fire_engine", "ambulance", "police_car"}  # one of each type a fire needs
