"""The demo city's incidents: through the real actions, linked by function, public alerts valid, idempotent."""

from __future__ import annotations

import io

from django.core.management import call_command
from rest_framework.test import APIClient

from core import clock
from emergency.cap import alert_xml, schema_errors
from emergency.models import Incident, IncidentAgency, IncidentTimelineEntry, TransferRule
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
