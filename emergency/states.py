"""The states of incidents and of agencies' tasks on them.

Kept apart from the models so that dispatch/workflow.py can import them without importing the app's
models (and whatever they import).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class IncidentState(models.TextChoices):
    REPORTED = "reported", _("Reported")
    CONFIRMED = "confirmed", _("Confirmed")
    DISPATCHED = "dispatched", _("Forces dispatched")
    ON_SCENE = "on_scene", _("Forces on scene")
    CONTROLLED = "controlled", _("Under control")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")
    MERGED = "merged", _("Merged into another incident")


#: Incidents in these states are finished: no more command actions, no public alert.
TERMINAL_INCIDENT_STATES = frozenset({IncidentState.CLOSED, IncidentState.CANCELLED, IncidentState.MERGED})
ACTIVE_INCIDENT_STATES = tuple(s for s in IncidentState.values if s not in TERMINAL_INCIDENT_STATES)


class AgencyTaskStatus(models.TextChoices):
    NOTIFIED = "notified", _("Notified")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    WORKING = "working", _("Working")
    DONE = "done", _("Done")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn by the commander")


OPEN_AGENCY_TASK_STATES = (AgencyTaskStatus.NOTIFIED, AgencyTaskStatus.ACKNOWLEDGED, AgencyTaskStatus.WORKING)
