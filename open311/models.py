"""Service requests posted through Open311 that are accepted later (asynchronously): the token a client polls.

Rows are written only through open311/actions.py. The intake data waits here until ``manage.py
run_open311_intake`` turns it into a ticket through callcenter's intake action; it is emptied then, so no
caller data stays here once the ticket exists.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core import clock


class SubmissionState(models.TextChoices):
    PENDING = "pending", _("Waiting to be accepted")
    PROCESSING = "processing", _("Being accepted")
    DONE = "done", _("Accepted")
    FAILED = "failed", _("Refused")


class Submission(models.Model):
    token = models.CharField(_("token"), max_length=64, unique=True)
    state = models.CharField(
        _("state"), max_length=12, choices=SubmissionState.choices, default=SubmissionState.PENDING
    )
    # The service account of the API key that posted it: the ticket is accepted in its name.
    submitted_by = models.ForeignKey(
        "organisation.User", verbose_name=_("submitted by"), on_delete=models.PROTECT, related_name="+"
    )
    jurisdiction_id = models.CharField(_("jurisdiction"), max_length=100, blank=True)
    # The intake as callcenter's do_create_ticket takes it; emptied once the ticket exists or it failed.
    intake = models.JSONField(_("intake data"), default=dict, blank=True)
    ticket = models.ForeignKey(
        "callcenter.Ticket", verbose_name=_("ticket"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    error = models.TextField(_("why it was refused"), blank=True)
    created_at = models.DateTimeField(_("received at"), default=clock.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("Open311 submission")
        verbose_name_plural = _("Open311 submissions")
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "id"])]

    def __str__(self) -> str:
        return self.token
