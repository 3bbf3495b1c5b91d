"""What the centre exchanged about an incident: the CAP messages it issued (the thread that Updates and Cancels
reference) and the incidents it took over from another centre's EIDO (so a repeated document finds its incident).

Rows are written only through emergency/actions/ (alerts, incidents, exchange).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core import clock
from core.models import AppendOnlyModel
from emergency.models.incidents import Incident

__all__ = ["CapMessage", "ImportedIncident"]


class CapMessage(AppendOnlyModel):
    """One CAP message the centre issued for a public incident (one per alert revision)."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="cap_messages")
    revision = models.PositiveIntegerField(_("alert revision"))
    identifier = models.CharField(_("CAP identifier"), max_length=64)
    msg_type = models.CharField(_("CAP message type"), max_length=10)
    sent_at = models.DateTimeField(_("sent at"))

    class Meta:
        verbose_name = _("CAP message")
        verbose_name_plural = _("CAP messages")
        ordering = ["incident", "revision"]
        constraints = [models.UniqueConstraint(fields=["incident", "revision"], name="one_cap_message_per_revision")]

    def __str__(self) -> str:
        return self.identifier


class ImportedIncident(models.Model):
    """An incident created from another centre's EIDO: its tracking identifier there, and who sent it."""

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT, related_name="import_source")
    #: The EIDO incident tracking identifier (the incident component's ``$id``, else the document's).
    tracking_id = models.CharField(_("incident tracking identifier"), max_length=255, unique=True)
    issuer = models.CharField(_("issuing element"), max_length=255)
    sending_agency = models.CharField(_("sending agency"), max_length=255, blank=True)
    source_updated_at = models.DateTimeField(_("last update at the source"), null=True, blank=True)
    imported_by = models.ForeignKey(
        "organisation.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(_("imported at"), default=clock.now)

    class Meta:
        verbose_name = _("imported incident")
        verbose_name_plural = _("imported incidents")

    def __str__(self) -> str:
        return self.tracking_id
