"""The outbox: one row per delivery to the outside, written in the transaction of the change that causes it.

A worker (exchange/outbox.py, ``manage.py run_outbox``) claims due rows after commit, sends them and records
every attempt. A delivery's id is stable across attempts and goes out as ``X-Hotline-Delivery``.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from core import clock
from core.models import AppendOnlyModel


class Subscription(models.Model):
    """A webhook: events of the chosen types POSTed, signed, to an outside system's URL."""

    name = models.CharField(_("name"), max_length=120)
    target_url = models.URLField(_("target URL"), max_length=500)
    # Event types it receives (e.g. "work_order.created"); empty: every type its scope may receive.
    event_types = models.JSONField(_("event types"), default=list, blank=True)
    # With an agency: only what that agency's live screens receive, phone numbers masked; without: the centre's view.
    agency = models.ForeignKey(
        "organisation.Agency", verbose_name=_("agency"), null=True, blank=True, on_delete=models.CASCADE
    )
    secret = models.CharField(_("signing secret"), max_length=200)
    # Rotation: until previous_secret_until, the previous secret signs too (a second v1= in the header).
    previous_secret = models.CharField(_("previous signing secret"), max_length=200, blank=True)
    previous_secret_until = models.DateTimeField(_("previous secret valid until"), null=True, blank=True)
    # Set by an administrator only: lets the URL resolve to loopback, private or link-local addresses.
    allow_private_network = models.BooleanField(_("allow private network addresses"), default=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    PARKED = "parked", _("parked")


class Delivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # "webhook" (to its subscription's URL) or a kind whose sender another app registered (outbox.register_sender).
    kind = models.CharField(_("delivery kind"), max_length=20, default="webhook")
    subscription = models.ForeignKey(
        Subscription,
        verbose_name=_("subscription"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    # For kinds other than webhooks: where the registered sender delivers (a URL or a folder, as that kind reads it).
    destination = models.CharField(_("destination"), max_length=500, blank=True)
    event_type = models.CharField(_("event type"), max_length=40)
    event_id = models.BigIntegerField(_("event"), null=True, blank=True)
    body = models.TextField(_("request body"))
    state = models.CharField(_("state"), max_length=12, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempt_count = models.PositiveIntegerField(_("attempts"), default=0)
    # Failures since the delivery was created or last retried by an administrator; N of them park it.
    failures = models.PositiveIntegerField(_("failures"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=clock.now)
    claim_token = models.CharField(max_length=32, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    parked_reason = models.CharField(_("reason parked"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.id} {self.event_type}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    # "" on success; otherwise what went wrong, as a code (see exchange/sending.py), never the response body.
    error_kind = models.CharField(_("error"), max_length=40, blank=True)
    ok = models.BooleanField(_("succeeded"), default=False)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_number")]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"


class ApiKey(models.Model):
    """A key for another system (not a person): an agency's business system or a named partner's.

    The key acts as its own service account (``user``): an active user with an unusable password, holding
    the role the key needs (an agency key: agency handler of its agency; a partner key: no staff role), so
    every permission check, scope and masking of the API applies to it unchanged. Its ``scopes``
    (exchange/keys/scopes.py) narrow further which endpoints it may call. The raw key
    (``hk_<prefix>_<secret>``) is shown once; only the prefix (to find the row) and a keyed hash of the
    secret are stored (exchange/keys/hashing.py).
    """

    name = models.CharField(_("name"), max_length=120)
    agency = models.ForeignKey(
        "organisation.Agency",
        verbose_name=_("agency"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
    )
    # A key without an agency belongs to a named partner (a citizens' app, a neighbouring centre).
    partner = models.CharField(_("partner"), max_length=120, blank=True)
    prefix = models.CharField(_("key prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    user = models.OneToOneField(
        "organisation.User",
        verbose_name=_("service account"),
        on_delete=models.PROTECT,
        related_name="api_key",
        editable=False,
    )
    # Requests per period, as "120/min" (s, min, hour, day); blank: HOTLINE["API_KEY_DEFAULT_RATE"].
    rate = models.CharField(_("rate limit"), max_length=20, blank=True)
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        "organisation.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("created at"), default=clock.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (hk_{self.prefix}_…)"

    @property
    def owner(self) -> str:
        return self.agency.name if self.agency_id and self.agency else self.partner


class ApiKeyUse(AppendOnlyModel):
    """One request made with a key: which key, method, path (no query string), status. No personal data."""

    key = models.ForeignKey(ApiKey, verbose_name=_("API key"), on_delete=models.CASCADE, related_name="uses")
    at = models.DateTimeField(_("at"), default=clock.now)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=200)
    status = models.PositiveSmallIntegerField(_("HTTP status"))

    class Meta:
        verbose_name = _("API key use")
        verbose_name_plural = _("API key uses")
        ordering = ["-at"]
        indexes = [models.Index(fields=["key", "at"], name="api_key_use_at")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"
