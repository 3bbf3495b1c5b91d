"""Unit types and statuses, kept apart from the models so that dispatch/workflow.py can import them
without importing the app's models (and whatever they import)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


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
