"""Intake: callers, tickets and where each was placed, the knowledge base, calls and idempotency keys.

Rows here are written only through callcenter/actions.py and dispatch/actions/.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core import clock
from organisation.models import AppealType, Subject, User


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    WEB = "web", _("Web portal")
    APP = "app", _("Mobile app")
    WECHAT = "wechat", _("WeChat")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    LETTER = "letter", _("Letter")
    TRANSFER_110 = "transfer_110", _("Transfer from 110")
    TRANSFER_119 = "transfer_119", _("Transfer from 119")
    TRANSFER_120 = "transfer_120", _("Transfer from 120")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")
    EMERGENCY = "emergency", _("Emergency")


class TicketState(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    DISPATCHED = "dispatched", _("Dispatched")
    IN_PROGRESS = "in_progress", _("In progress")
    RETURNED = "returned", _("Returned, awaiting re-dispatch")
    REPLIED = "replied", _("Replied, awaiting review")
    PENDING_REVISIT = "pending_revisit", _("Awaiting revisit")
    REVISITED = "revisited", _("Revisited")
    CLOSED = "closed", _("Closed")
    MERGED = "merged", _("Merged into another ticket")
    CANCELLED = "cancelled", _("Cancelled")


TERMINAL_TICKET_STATES = frozenset({TicketState.CLOSED, TicketState.MERGED, TicketState.CANCELLED})


class Caller(models.Model):
    phone = models.CharField(_("phone (E.164)"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("caller")
        verbose_name_plural = _("callers")

    def __str__(self) -> str:
        return f"Caller #{self.pk}"


class Ticket(models.Model):
    number = models.CharField(_("number"), max_length=32, unique=True)
    state = models.CharField(_("state"), max_length=20, choices=TicketState.choices, default=TicketState.ACCEPTED)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    caller = models.ForeignKey(
        Caller, null=True, blank=True, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("caller")
    )
    caller_name = models.CharField(_("caller name"), max_length=60, blank=True)
    caller_confidential = models.BooleanField(_("caller asked for confidentiality"), default=False)
    appeal_type = models.ForeignKey(AppealType, on_delete=models.PROTECT, verbose_name=_("appeal type"))
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, verbose_name=_("subject"))
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    title = models.CharField(_("title"), max_length=120, blank=True)
    description = models.TextField(_("description"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    latitude = models.FloatField(_("latitude (WGS84)"), null=True, blank=True)
    longitude = models.FloatField(_("longitude (WGS84)"), null=True, blank=True)
    # The city whose service area holds the location (else the accepting centre's); empty: the default city.
    city = models.ForeignKey(
        "organisation.City", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("city")
    )
    master = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
        verbose_name=_("merged into"),
    )
    answered_by_article = models.ForeignKey(
        "KnowledgeArticle",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="answered_tickets",
        verbose_name=_("answered by article"),
    )
    resolution_note = models.TextField(_("resolution note"), blank=True)
    redo_count = models.PositiveIntegerField(_("redo count"), default=0)
    created_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("accepted at"), default=clock.now)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Where an intake sent by another system came from (callcenter/external.py): its short code, the case id
    # there and when it was reported there. A repeated (source_system, external_id) returns this ticket.
    source_system = models.CharField(_("source system"), max_length=40, blank=True)
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    reported_at = models.DateTimeField(_("reported at (in the source system)"), null=True, blank=True)
    # A link to a photo of the problem the sender gave (Open311's media_url): stored, never fetched by us.
    media_url = models.URLField(_("photo link"), max_length=500, blank=True)
    # A hash of the normalised intake that carried the external reference; a repeat must match it.
    intake_fingerprint = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "-id"]),
            models.Index(fields=["caller", "-created_at"]),
            models.Index(fields=["subject", "-created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source_system", "external_id"],
                condition=~models.Q(source_system="") & ~models.Q(external_id=""),
                name="one_ticket_per_external_reference",
            )
        ]

    def __str__(self) -> str:
        return self.number


class TicketCaller(models.Model):
    """Everyone who called about a ticket: merged duplicates keep their callers on the revisit list."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="ticket_callers")
    caller = models.ForeignKey(Caller, on_delete=models.PROTECT, related_name="+")
    caller_name = models.CharField(max_length=60, blank=True)
    confidential = models.BooleanField(default=False)
    via_ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("ticket caller")
        verbose_name_plural = _("ticket callers")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "caller"], name="one_row_per_ticket_caller")]

    def __str__(self) -> str:
        return f"{self.ticket_id}:{self.caller_id}"


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("Satisfied")
    BASICALLY_SATISFIED = "basically_satisfied", _("Basically satisfied")
    UNSATISFIED = "unsatisfied", _("Unsatisfied")
    UNREACHABLE = "unreachable", _("Could not be reached")


class Revisit(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="revisits")
    caller = models.ForeignKey(Caller, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    satisfaction = models.CharField(_("satisfaction"), max_length=20, choices=Satisfaction.choices)
    resolved = models.BooleanField(_("resolved"), null=True)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("revisit")
        verbose_name_plural = _("revisits")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.ticket_id}:{self.satisfaction}"


class KnowledgeArticle(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("body"))
    subjects = models.ManyToManyField(Subject, blank=True, related_name="articles", verbose_name=_("subjects"))
    keywords = models.CharField(
        _("keywords"), max_length=300, blank=True, help_text=_("Separated by spaces or commas.")
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("knowledge article")
        verbose_name_plural = _("knowledge articles")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.title


class KnowledgeTerm(models.Model):
    """Inverted index of articles: Chinese character bigrams and whole Latin words, weighted by field."""

    article = models.ForeignKey(KnowledgeArticle, on_delete=models.CASCADE, related_name="terms")
    term = models.CharField(max_length=40)
    weight = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["term", "article"], name="one_row_per_term_article")]

    def __str__(self) -> str:
        return self.term


class IdempotencyKey(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    # Empty while the first request holding the key is still creating its ticket.
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_idempotency_key_per_user")]

    def __str__(self) -> str:
        return self.key


class TicketNumberCounter(models.Model):
    day = models.DateField(primary_key=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last_value}"


class CallState(models.TextChoices):
    RINGING = "ringing", _("Ringing")
    ANSWERED = "answered", _("Answered")
    ENDED = "ended", _("Ended")


class Call(models.Model):
    """A phone call as the telephone system (CTI) reports it, linked to the ticket taken from it."""

    external_id = models.CharField(_("call id in the telephone system"), max_length=64, unique=True)
    phone = models.CharField(_("caller (E.164)"), max_length=20, blank=True)
    extension = models.CharField(_("operator extension"), max_length=20, blank=True)
    operator = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(_("state"), max_length=10, choices=CallState.choices, default=CallState.RINGING)
    ringing_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.external_id


class TicketPlacement(models.Model):
    """Where a ticket fell, in which layer versions, and what routing proposed (with its reasons)."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="placement")
    district_code = models.CharField(max_length=20, blank=True, db_index=True)
    district_name = models.CharField(max_length=100, blank=True)
    street_code = models.CharField(max_length=20, blank=True)
    street_name = models.CharField(max_length=100, blank=True)
    grid_code = models.CharField(max_length=20, blank=True, db_index=True)
    grid_name = models.CharField(max_length=100, blank=True)
    layer_versions = models.JSONField(default=dict, help_text=_("Layer version per level used for this ticket."))
    near_boundary = models.BooleanField(default=False)
    proposal = models.JSONField(default=dict, help_text=_("The routing decision: lead, co-handlers, reasons."))
    placed_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("ticket placement")
        verbose_name_plural = _("ticket placements")

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.district_code}/{self.street_code}/{self.grid_code}"


class PhraseKind(models.TextChoices):
    INTAKE = "intake", _("Intake description")
    REPLY = "reply", _("Agency reply")
    REVISIT = "revisit", _("Revisit note")


class Phrase(models.Model):
    """A canned text (常用语) the screens offer for a description, a reply or a revisit note, for one subject
    (and every subject under it) or for any subject. Placeholders such as {address} are filled by the
    screen that inserts it. Written only through callcenter/phrases/actions.py (audited, announced)."""

    kind = models.CharField(_("used for"), max_length=10, choices=PhraseKind.choices)
    subject = models.ForeignKey(
        Subject,
        verbose_name=_("subject"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: offered for every subject."),
    )
    title = models.CharField(_("title"), max_length=60)
    body = models.TextField(_("text"))
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)
    active = models.BooleanField(_("active"), default=True)
    updated_by = models.ForeignKey(
        User, verbose_name=_("last changed by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(_("last changed"), default=clock.now)

    class Meta:
        verbose_name = _("canned phrase")
        verbose_name_plural = _("canned phrases")
        ordering = ["kind", "sort_order", "id"]
        indexes = [models.Index(fields=["kind", "active"])]

    def __str__(self) -> str:
        return self.title
