"""The Attachment row: one photo or document on a ticket (intake) or on a work order (progress note, reply).

Registered with the dispatch app (``app_label``); dispatch/models.py imports this module at its end. Rows are
written only through dispatch/attachments/actions.py and never changed afterwards (append-only). Foreign keys
are named by string, so importing this module imports no other model module.

Files live in Django's default storage (``STORAGES["default"]``: the file system under ``MEDIA_ROOT`` unless a
deployment configures another backend, e.g. an S3-compatible one). Stored names are random
(``attachments/YYYY/MM/<uuid>.<ext>``): never the original file name, never anything about the ticket or the
caller. Files are served only through the scoped views in dispatch/attachments/api.py, never from a media URL.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core import clock
from core.models import AppendOnlyModel


class AttachmentKind(models.TextChoices):
    INTAKE = "intake", pgettext_lazy("attachment kind", "Intake")
    NOTE = "note", _("Progress note")
    REPLY = "reply", _("Reply (proof of work)")
    OTHER = "other", _("Other")


class Attachment(AppendOnlyModel):
    # The composite indexes below serve both foreign keys.
    ticket = models.ForeignKey(
        "callcenter.Ticket",
        verbose_name=_("ticket"),
        on_delete=models.PROTECT,
        related_name="attachments",
        db_index=False,
    )
    work_order = models.ForeignKey(
        "dispatch.WorkOrder",
        verbose_name=_("work order"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="attachments",
        db_index=False,
    )
    kind = models.CharField(_("attachment kind"), max_length=10, choices=AttachmentKind.choices)
    # Images are stored re-encoded, without EXIF (no GPS), turned upright; documents as uploaded.
    file = models.FileField(_("file"), max_length=255)
    thumbnail = models.FileField(_("thumbnail"), max_length=255, blank=True)
    original_name = models.CharField(_("original file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    # SHA-256 of the stored file: what a download returns hashes to this.
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        "organisation.User", verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_by_agency = models.ForeignKey(
        "organisation.Agency",
        verbose_name=_("agency of the uploader"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("uploaded at"), default=clock.now)

    class Meta:
        app_label = "dispatch"
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["ticket", "id"], name="attachment_by_ticket"),
            models.Index(fields=["work_order", "id"], name="attachment_by_work_order"),
        ]

    def __str__(self) -> str:
        return f"attachment {self.pk} ({self.kind})"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
