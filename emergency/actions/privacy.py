"""The audited reveal of an incident's free text: agencies read typed phone and ID-card numbers masked in the
incident's title and description, their tasks and the timeline (organisation/privacy.py); a linked agency's
user who needs one gives a reason, and who, when and why is written to the audit log, as for tickets'."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import NotAllowed
from core.parsing import require_reason, require_text
from emergency.models import Incident
from organisation.actions import audit
from organisation.models import Role, User


def do_reveal_incident_texts(incident_id: int, *, actor: User, reason: str) -> Incident:
    """Record the reveal; the caller (the API) then shows the texts the actor may read, unmasked."""
    require_text({"reason": reason}, required=["reason"])
    require_reason(reason)
    if not actor.has_role(Role.AGENCY_HANDLER, Role.AGENCY_ADMIN, Role.SUPERVISOR):
        raise NotAllowed(_("Your role may not reveal masked numbers."))
    with transaction.atomic(durable=True):
        incident = Incident.objects.get(pk=incident_id)
        audit(
            actor,
            "reveal_incident_text",
            target_type="incident",
            target_id=incident.pk,
            reason=reason,
            details=["free_text"],
        )
    return incident
