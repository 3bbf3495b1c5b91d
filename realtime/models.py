"""The event log: the truth that live screens replay from. The channel layer is only a doorbell."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core import clock


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    type = models.CharField(_("type"), max_length=40)
    payload = models.JSONField(_("payload"), default=dict)
    # Audience scope: centre staff see every event of their city; agency staff only events naming their agency.
    agency_ids = models.JSONField(_("agencies in scope"), default=list)
    # The city the event belongs to (a ticket's, an incident's, a unit's agency's): centre staff of one city see
    # their city's events and those of no city (installation-wide: reference data, the calendar).
    city_id = models.BigIntegerField(_("city"), null=True, blank=True)
    ticket_id = models.BigIntegerField(_("ticket"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), default=clock.now, db_index=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.pk} {self.type}"


class PruneMark(models.Model):
    """How far the event log has been pruned: a client behind this id cannot be replayed, only resynced."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    pruned_through_id = models.BigIntegerField(default=0)
    pruned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("event log prune mark")
        verbose_name_plural = _("event log prune marks")

    def __str__(self) -> str:
        return f"pruned through {self.pruned_through_id}"


class EventAgency(models.Model):
    """One row per agency an event is for: an indexed way to replay an agency's events on any database."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="audiences")
    agency_id = models.BigIntegerField()

    class Meta:
        verbose_name = _("event audience")
        verbose_name_plural = _("event audiences")
        constraints = [models.UniqueConstraint(fields=["agency_id", "event"], name="one_row_per_agency_event")]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.agency_id}"


class Heartbeat(models.Model):
    """A background process's last sign of life (the timer workers beat every round): the readiness check
    (/health/ready) asks whether a process of a kind beat recently. One row per process; old rows are dropped."""

    process = models.CharField(_("process"), max_length=120, primary_key=True)  # kind:host:pid
    kind = models.CharField(_("process kind"), max_length=40)
    beat_at = models.DateTimeField(_("last beat"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")
        indexes = [models.Index(fields=["kind", "beat_at"], name="heartbeat_kind_beat_at")]

    def __str__(self) -> str:
        return f"{self.process} @ {self.beat_at}"
