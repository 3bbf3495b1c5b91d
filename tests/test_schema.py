"""The OpenAPI schema covers every workflow action, and the docs page works offline."""

from __future__ import annotations

import re
from typing import Any

from dispatch import workflow
from dispatch.workflow import Machine
from organisation.models import Subject
from tests.conftest import World


def test_schema_lists_every_public_workflow_action(world: World) -> None:
    response = world.client("operator").get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for machine, base in ((Machine.TICKET, "tickets"), (Machine.WORK_ORDER, "work-orders")):
        for action in workflow.actions(machine):
            assert f"/api/{base}/{{id}}/{action}/" in paths, action
    assert "/api/tickets/" in paths and "post" in paths["/api/tickets/"]
    # Incidents (emergency): attach_ticket is the ticket's escalate, relink the agencies route, send_eido the
    # incident's EIDO sending (import_eido has no incident yet: it is the collection's EIDO import).
    routes = {
        "attach_ticket": "/api/tickets/{id}/escalate/",
        "relink": "/api/incidents/{id}/agencies/",
        "send_eido": "/api/incidents/{id}/eido/send/",
        "import_eido": "/api/incidents/eido/",
        "update_eido": "/api/incidents/eido/",  # a later EIDO of an incident taken over
    }
    for machine, base in ((Machine.INCIDENT, "incidents"), (Machine.INCIDENT_TASK, "incident-tasks")):
        for action in workflow.actions(machine):
            assert routes.get(action, f"/api/{base}/{{id}}/{action}/") in paths, action
    for path in ("/api/incidents/{id}/cap/", "/api/incidents/alerts.atom", "/api/tickets/{id}/transfer/"):
        assert path in paths


def test_docs_page_loads_its_assets_locally(world: World) -> None:
    client = world.client("operator")
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert assets, html[:500]
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert client.get(asset).status_code == 200


def test_the_schema_builds_without_warnings_when_reference_data_exists(world: World, tmp_path: Any) -> None:
    """Fields whose enum is the reference data (subjects: leaves, or every one) must not collide by name: a
    drf-spectacular warning fails `check --deploy` in production, where the data exists."""
    from django.core.management import call_command

    assert Subject.objects.filter(is_leaf=False).exists() and Subject.objects.filter(is_leaf=True).exists()
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "t-garbage" in (tmp_path / "schema.yaml").read_text(encoding="utf-8")
