"""The event log: the truth that live screens replay from. The channel layer is only a doorbell."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from dispatch import clock


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    type = models.CharField(_("type"), max_length=40)
    payload = models.JSONField(_("payload"), default=dict)
    # Audience scope: centre staff see every event; agency staff only events naming their agency.
    agency_ids = models.JSONField(_("agencies in scope"), default=list)
    ticket_id = models.BigIntegerField(_("ticket"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), default=clock.now, db_index=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.pk} {self.type}"
