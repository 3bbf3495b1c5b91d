"""Public alerts: the commander publishes an incident to the CAP alert feed or withdraws it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core import clock
from core.errors import Conflict
from core.parsing import require_text
from dispatch import workflow
from dispatch.workflow import Machine
from emergency.actions.incidents import record_cap_message, transition_incident
from emergency.locks import lock_incident
from emergency.models import Incident
from organisation.models import User


def do_set_public_alert(incident_id: int, *, actor: User, publish: bool, note: str = "") -> Incident:
    """The commander decides that the incident is public information: it enters the CAP alert feed."""
    require_text({"note": note}, optional=["note"])
    with transaction.atomic(durable=True):
        at = clock.now()
        incident = lock_incident(incident_id)
        action = "publish_alert" if publish else "withdraw_alert"
        workflow.authorise(Machine.INCIDENT, incident.state, action, actor=actor, obj=incident)
        if incident.public_alert == publish:
            raise Conflict(
                _("The public alert is already published.") if publish else _("There is no public alert to withdraw."),
                code="alert_unchanged",
            )
        changes: dict[str, Any] = {
            "public_alert": publish,
            "alert_revision": incident.alert_revision + 1,
            "alert_sent_at": at,
        }
        if publish and incident.public_alert_at is None:
            changes["public_alert_at"] = at
        transition_incident(
            incident,
            action,
            actor=actor,
            at=at,
            note=note,
            data={"revision": incident.alert_revision + 1},
            changes=changes,
        )
        record_cap_message(incident)
    return incident
