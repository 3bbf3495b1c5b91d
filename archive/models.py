"""One ArchiveRecord per closed ticket or incident handed to the records office (归档).

Written only through archive/actions.py: queued (with its outbox delivery and its retention date) in the
transaction that closes the ticket or in a records-office batch, transferred when the worker delivered the
package (the ticket's or incident's timeline gets its "archive" row then, once), verified when the records office
re-checks the package from its page.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core import clock


class ArchiveState(models.TextChoices):
    QUEUED = "queued", _("Awaiting transfer")
    TRANSFERRED = "transferred", _("Transferred to the archive")


class ArchiveRecord(models.Model):
    ticket = models.OneToOneField(
        "callcenter.Ticket",
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="archive_record",
    )
    incident = models.OneToOneField(
        "emergency.Incident",
        verbose_name=_("incident"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="archive_record",
    )
    #: The bag's name: the ticket's or incident's number (the same on every attempt).
    package_name = models.CharField(_("package"), max_length=64, unique=True)
    state = models.CharField(_("state"), max_length=12, choices=ArchiveState.choices, default=ArchiveState.QUEUED)
    #: The category whose retention period applies (an appeal type's code, or "incident").
    category = models.CharField(_("retention category"), max_length=40)
    #: None: permanent (永久).
    retention_years = models.PositiveSmallIntegerField(_("retention period (years)"), null=True, blank=True)
    retention_until = models.DateField(_("retained until"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"))
    #: The outbox delivery carrying the package (exchange.Delivery's id; its X-Hotline-Delivery).
    delivery_id = models.UUIDField(_("delivery"), default=uuid.uuid4, unique=True)
    destination = models.CharField(_("destination"), max_length=500)
    queued_at = models.DateTimeField(_("queued at"), default=clock.now)
    queued_by = models.ForeignKey(
        "organisation.User",
        verbose_name=_("queued by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    transferred_at = models.DateTimeField(_("transferred at"), null=True, blank=True)
    #: SHA-256 of the bag's tagmanifest-sha256.txt (which covers every manifest, which covers every file).
    package_sha256 = models.CharField(_("package checksum (SHA-256)"), max_length=64, blank=True)
    payload_oxum = models.CharField(_("payload size and file count"), max_length=40, blank=True)
    #: The last re-check of the delivered package from the records office's page (archive.actions.do_verify_record):
    #: when, and whether it passed (None: never checked). The problems are shown when it runs, not kept.
    verified_at = models.DateTimeField(_("last verified at"), null=True, blank=True)
    verified_ok = models.BooleanField(_("last verification passed"), null=True, blank=True)

    class Meta:
        verbose_name = _("archive record")
        verbose_name_plural = _("archive records")
        ordering = ["-closed_at", "-id"]
        indexes = [models.Index(fields=["closed_at"], name="archive_by_closing")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ticket__isnull=False, incident__isnull=True)
                | Q(ticket__isnull=True, incident__isnull=False),
                name="archive_one_subject",
            )
        ]

    def __str__(self) -> str:
        return self.package_name

    @property
    def kind(self) -> str:
        return "ticket" if self.ticket_id else "incident"
