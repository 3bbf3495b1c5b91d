"""Incidents, the tickets and calls that reported them, their linked agencies and tasks, transfers to the
emergency lines (110/119/120/122) and the one command timeline per incident.

Rows here are written only through emergency/actions/ (and transfer.py for the item lists).
Coordinates are WGS84; the affected area is a point, a circle (centre + radius in metres) or a polygon
stored as GeoJSON (WGS84, validated with Shapely on the way in).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core import clock
from core.models import AppendOnlyModel
from emergency.states import AgencyTaskStatus, IncidentState
from organisation.models import Agency, User

__all__ = [
    "AffectedAreaKind",
    "EmergencyLine",
    "Incident",
    "IncidentAgency",
    "IncidentCall",
    "IncidentLevel",
    "IncidentTicket",
    "IncidentTimelineEntry",
    "IncidentType",
    "Transfer",
    "TransferDirection",
    "TransferRule",
]


class IncidentType(models.TextChoices):
    FIRE = "fire", _("Fire")
    TRAFFIC_ACCIDENT = "traffic_accident", _("Traffic accident")
    FLOOD = "flood", _("Flood or waterlogging")
    GAS_LEAK = "gas_leak", _("Gas leak")
    POWER_OUTAGE = "power_outage", _("Power outage")
    WATER_MAIN_BURST = "water_main_burst", _("Water main burst")
    BUILDING_COLLAPSE = "building_collapse", _("Building collapse")
    HAZARDOUS_MATERIALS = "hazardous_materials", _("Hazardous materials")
    PUBLIC_HEALTH = "public_health", _("Public health")
    PUBLIC_SECURITY = "public_security", _("Public security")
    OTHER = "other", _("Other")


class IncidentLevel(models.TextChoices):
    """The national four-level grading of emergencies (突发事件分级); I is the most severe."""

    GENERAL = "IV", _("General (一般, level IV)")
    MAJOR = "III", _("Major (较大, level III)")
    SERIOUS = "II", _("Serious (重大, level II)")
    ESPECIALLY_SERIOUS = "I", _("Especially serious (特别重大, level I)")


class AffectedAreaKind(models.TextChoices):
    POINT = "point", _("Point")
    CIRCLE = "circle", _("Circle")
    POLYGON = "polygon", _("Polygon")


class Incident(models.Model):
    number = models.CharField(_("number"), max_length=32, unique=True)
    type = models.CharField(_("type"), max_length=30, choices=IncidentType.choices)
    level = models.CharField(_("level"), max_length=3, choices=IncidentLevel.choices, default=IncidentLevel.GENERAL)
    state = models.CharField(_("state"), max_length=20, choices=IncidentState.choices, default=IncidentState.REPORTED)
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    latitude = models.FloatField(_("latitude (WGS84)"))
    longitude = models.FloatField(_("longitude (WGS84)"))
    district_code = models.CharField(_("district code"), max_length=20, blank=True)
    district_name = models.CharField(_("district"), max_length=100, blank=True)
    area_kind = models.CharField(
        _("affected area"), max_length=10, choices=AffectedAreaKind.choices, default=AffectedAreaKind.POINT
    )
    area_radius_m = models.FloatField(_("affected radius (metres)"), null=True, blank=True)
    area_geojson = models.JSONField(_("affected polygon (GeoJSON, WGS84)"), null=True, blank=True)
    commander = models.ForeignKey(
        User, verbose_name=_("commander"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    #: The city whose command desk runs the incident (None: the default city), set by emergency/actions/cities.py.
    city = models.ForeignKey(
        "organisation.City", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("city")
    )
    tickets: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        "callcenter.Ticket",
        through="IncidentTicket",
        through_fields=("incident", "ticket"),
        related_name="incidents",
        verbose_name=_("tickets"),
    )
    calls: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        "callcenter.Call",
        through="IncidentCall",
        through_fields=("incident", "call"),
        related_name="incidents",
        verbose_name=_("calls"),
    )
    merged_into = models.ForeignKey(
        "self", verbose_name=_("merged into"), null=True, blank=True, on_delete=models.PROTECT, related_name="absorbed"
    )
    public_alert = models.BooleanField(
        _("public alert"), default=False, help_text=_("Published in the public CAP alert feed.")
    )
    public_alert_at = models.DateTimeField(_("public alert since"), null=True, blank=True)
    #: Bumped on every change the public alert carries, so that CAP updates reference earlier messages.
    alert_revision = models.PositiveIntegerField(_("alert revision"), default=0)
    alert_sent_at = models.DateTimeField(_("current alert revision sent at"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported at"), default=clock.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    on_scene_at = models.DateTimeField(_("first on scene at"), null=True, blank=True)
    controlled_at = models.DateTimeField(_("controlled at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "-id"]),
            models.Index(fields=["public_alert", "state"]),
            models.Index(fields=["longitude", "latitude"]),
        ]

    def __str__(self) -> str:
        return self.number


class IncidentTicket(models.Model):
    """A ticket that reported the incident, keeping its caller (merges carry these rows over)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="ticket_links")
    ticket = models.ForeignKey("callcenter.Ticket", on_delete=models.PROTECT, related_name="incident_links")
    caller = models.ForeignKey("callcenter.Caller", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    caller_name = models.CharField(max_length=60, blank=True)
    confidential = models.BooleanField(default=False)
    reported_at = models.DateTimeField(_("reported at"))
    #: The incident this row first belonged to (differs from ``incident`` after a merge).
    via_incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("incident ticket")
        verbose_name_plural = _("incident tickets")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["incident", "ticket"], name="one_row_per_incident_ticket")]

    def __str__(self) -> str:
        return f"{self.incident_id}:{self.ticket_id}"


class IncidentCall(models.Model):
    """A phone call that reported the incident (phone kept on the call row, never copied to events)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="call_links")
    call = models.ForeignKey("callcenter.Call", on_delete=models.PROTECT, related_name="incident_links")
    reported_at = models.DateTimeField(_("reported at"))
    via_incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("incident call")
        verbose_name_plural = _("incident calls")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["incident", "call"], name="one_row_per_incident_call")]

    def __str__(self) -> str:
        return f"{self.incident_id}:{self.call_id}"


class IncidentAgency(models.Model):
    """One agency linked to an incident (联动单位) with its own task, status and people."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="agency_links")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="incident_links")
    task = models.TextField(_("task"))
    status = models.CharField(
        _("status"), max_length=20, choices=AgencyTaskStatus.choices, default=AgencyTaskStatus.NOTIFIED
    )
    people_count = models.PositiveIntegerField(_("people on the task"), default=0)
    contact_name = models.CharField(_("contact on site"), max_length=60, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    note = models.TextField(_("latest note"), blank=True)
    decline_reason = models.TextField(_("decline reason"), blank=True)
    linked_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    notified_at = models.DateTimeField(_("notified at"), default=clock.now)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    working_at = models.DateTimeField(_("working since"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("linked agency")
        verbose_name_plural = _("linked agencies")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["incident", "agency"], name="one_link_per_incident_agency")]
        indexes = [models.Index(fields=["agency", "status"])]

    def __str__(self) -> str:
        return f"{self.incident_id}:{self.agency_id}"


class IncidentTimelineEntry(AppendOnlyModel):
    """The command timeline: every transition, linkage, assignment, merge and transfer of an incident."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline")
    #: What moved: "incident", "incident_task" (an agency's task), "unit" (assignments), "transfer"...
    machine = models.CharField(_("subject of the step"), max_length=20)
    action = models.CharField(_("action"), max_length=40)
    from_state = models.CharField(_("from state"), max_length=20, blank=True)
    to_state = models.CharField(_("to state"), max_length=20, blank=True)
    agency_link = models.ForeignKey(
        IncidentAgency, null=True, blank=True, on_delete=models.PROTECT, related_name="timeline"
    )
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=clock.now)

    class Meta:
        verbose_name = _("incident timeline entry")
        verbose_name_plural = _("incident timeline entries")
        ordering = ["id"]
        indexes = [models.Index(fields=["incident", "id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}->{self.to_state}"


class EmergencyLine(models.TextChoices):
    POLICE = "110", _("110 police")
    FIRE = "119", _("119 fire and rescue")
    AMBULANCE = "120", _("120 ambulance")
    TRAFFIC = "122", _("122 traffic police")


class TransferRule(models.Model):
    """One entry of the agreed item lists: tickets of this subject go to this emergency line."""

    subject = models.ForeignKey(
        "organisation.Subject", verbose_name=_("subject"), on_delete=models.PROTECT, related_name="transfer_rules"
    )
    line = models.CharField(_("emergency line"), max_length=3, choices=EmergencyLine.choices)
    item = models.CharField(_("agreed item"), max_length=200, help_text=_("The item as the agreement words it."))
    incident_type = models.CharField(
        _("incident type when escalated"), max_length=30, choices=IncidentType.choices, blank=True
    )
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("transfer list entry")
        verbose_name_plural = _("transfer list entries")
        ordering = ["line", "sort_order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "line"], condition=Q(active=True), name="one_active_transfer_rule_per_subject_line"
            )
        ]

    def __str__(self) -> str:
        return f"{self.line}: {self.item}"


class TransferDirection(models.TextChoices):
    OUTBOUND = "outbound", _("12345 to the emergency line")
    INBOUND = "inbound", _("Emergency line to 12345")


class Transfer(AppendOnlyModel):
    """A 12345 <-> 110/119/120/122 transfer of a ticket, with the list entry (or override) behind it."""

    ticket = models.ForeignKey("callcenter.Ticket", on_delete=models.PROTECT, related_name="transfers")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers")
    direction = models.CharField(_("direction"), max_length=10, choices=TransferDirection.choices)
    line = models.CharField(_("emergency line"), max_length=3, choices=EmergencyLine.choices)
    rule = models.ForeignKey(TransferRule, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers")
    item = models.CharField(_("agreed item"), max_length=200, blank=True)
    override_reason = models.TextField(_("reason for a transfer outside the list"), blank=True)
    note = models.TextField(_("note"), blank=True)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("time"), default=clock.now)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.ticket_id}->{self.line}"
