"""The states of incidents, of agencies' tasks on them, and of units; the unit types.

Kept apart from the models so that the workflow rows (emergency/workflow.py) can name them without
importing the app's models (and whatever they import).
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


class UnitType(models.TextChoices):
    POLICE_CAR = "police_car", _("Police car")
    FIRE_ENGINE = "fire_engine", _("Fire engine")
    AMBULANCE = "ambulance", _("Ambulance")
    RESCUE_TEAM = "rescue_team", _("Rescue team")
    REPAIR_CREW = "repair_crew", _("Repair crew")


class UnitStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    DISPATCHED = "dispatched", _("Dispatched")
    EN_ROUTE = "en_route", _("En route")
    ON_SCENE = "on_scene", _("On scene")
    RETURNING = "returning", _("Returning")
    OUT_OF_SERVICE = "out_of_service", _("Out of service")


#: A unit in one of these statuses works on an incident: it has an open assignment.
ASSIGNED_UNIT_STATUSES = frozenset({UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE})
