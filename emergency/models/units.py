"""Units (vehicles and teams), their status and their latest positions (AVL), and their assignments.

Rows here are written only through emergency/units/actions.py. Coordinates are WGS84 (EPSG:4326);
speeds are metres per second, headings degrees clockwise from north, accuracies metres.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core import clock
from core.models import AppendOnlyModel
from emergency.states import UnitStatus, UnitType
from organisation.models import Agency, User

__all__ = ["Assignment", "Unit", "UnitStatus", "UnitTimelineEntry", "UnitType"]


class Unit(models.Model):
    call_sign = models.CharField(_("call sign"), max_length=40, unique=True)
    unit_type = models.CharField(_("type"), max_length=20, choices=UnitType.choices)
    agency = models.ForeignKey(Agency, verbose_name=_("owning agency"), on_delete=models.PROTECT, related_name="units")
    station_name = models.CharField(_("home station"), max_length=100)
    station_longitude = models.FloatField(_("home station longitude (WGS84)"))
    station_latitude = models.FloatField(_("home station latitude (WGS84)"))
    status = models.CharField(_("status"), max_length=20, choices=UnitStatus.choices, default=UnitStatus.AVAILABLE)
    status_changed_at = models.DateTimeField(_("status since"), default=clock.now)
    # The latest accepted fix (AVL), always WGS84 whatever system the device sent.
    longitude = models.FloatField(_("longitude (WGS84)"), null=True, blank=True)
    latitude = models.FloatField(_("latitude (WGS84)"), null=True, blank=True)
    heading = models.FloatField(_("heading (degrees)"), null=True, blank=True)
    speed = models.FloatField(_("speed (m/s)"), null=True, blank=True)
    accuracy = models.FloatField(_("accuracy (m)"), null=True, blank=True)
    fix_at = models.DateTimeField(_("fix time"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    device_id = models.CharField(_("AVL device id"), max_length=64, unique=True, null=True, blank=True)
    #: SHA-256 (hex) of the device's own AVL key; empty when the device only sends with a user token.
    device_key_sha256 = models.CharField(_("AVL device key (SHA-256)"), max_length=64, blank=True)
    active = models.BooleanField(_("active"), default=True)
    # Where and when the last `unit.moved` event was appended: moves are coalesced per unit (docs/AVL.md).
    moved_event_at = models.DateTimeField(null=True, blank=True)
    moved_event_longitude = models.FloatField(null=True, blank=True)
    moved_event_latitude = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["call_sign"]
        indexes = [
            models.Index(fields=["unit_type", "status"]),
            models.Index(fields=["agency", "status"]),
        ]

    def __str__(self) -> str:
        return self.call_sign


class UnitTimelineEntry(AppendOnlyModel):
    """Every status transition of a unit (positions are not steps: they only move the unit row)."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="timeline")
    action = models.CharField(_("action"), max_length=40)
    from_state = models.CharField(_("from status"), max_length=20, blank=True)
    to_state = models.CharField(_("to status"), max_length=20, blank=True)
    incident = models.ForeignKey(
        "emergency.Incident", null=True, blank=True, on_delete=models.PROTECT, related_name="unit_steps"
    )
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("time"), default=clock.now)

    class Meta:
        verbose_name = _("unit timeline entry")
        verbose_name_plural = _("unit timeline entries")
        ordering = ["id"]
        indexes = [models.Index(fields=["unit", "id"])]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.from_state}->{self.to_state}"


class Assignment(models.Model):
    """One unit sent to one incident, with the time of each step (call-to-dispatch, dispatch-to-scene)."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="assignments")
    incident = models.ForeignKey("emergency.Incident", on_delete=models.PROTECT, related_name="assignments")
    assigned_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    #: Straight-line distance and rough ETA when assigned (what the commander saw), if the unit had a fix.
    distance_m = models.FloatField(_("distance when assigned (m)"), null=True, blank=True)
    eta_seconds = models.PositiveIntegerField(_("rough ETA when assigned (s)"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"))
    en_route_at = models.DateTimeField(_("en route at"), null=True, blank=True)
    on_scene_at = models.DateTimeField(_("on scene at"), null=True, blank=True)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["id"]
        indexes = [models.Index(fields=["incident", "id"])]
        constraints = [
            models.UniqueConstraint(
                fields=["unit"], condition=Q(cleared_at__isnull=True), name="one_open_assignment_per_unit"
            )
        ]

    def __str__(self) -> str:
        return f"{self.unit_id}->{self.incident_id}"
