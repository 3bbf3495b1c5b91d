"""The dispatch side of the workflow: work orders, their timeline, extensions, supervision; the working
calendar, SLA policies, stage clocks, timers and escalations (dispatch/deadlines/).

Rows here are written only through dispatch/actions/, dispatch/deadlines/actions.py and the timer worker.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from core import clock
from core.models import AppendOnlyModel
from organisation.models import Agency, User


class WorkOrderState(models.TextChoices):
    PENDING_SIGN = "pending_sign", _("Awaiting sign-off")
    HANDLING = "handling", _("Being handled")
    #: The agency asked to return it (退单); the centre has not decided yet, so its clocks keep running.
    RETURN_REQUESTED = "return_requested", _("Return requested, awaiting review")
    REPLIED = "replied", _("Replied, awaiting review")
    APPROVED = "approved", _("Reply approved")
    RETURNED = "returned", _("Returned")
    CANCELLED = "cancelled", _("Cancelled")
    CLOSED = "closed", _("Closed")


#: Work orders in these states no longer count for the ticket's progress.
INACTIVE_WORK_ORDER_STATES = frozenset({WorkOrderState.RETURNED, WorkOrderState.CANCELLED})


class Responsibility(models.TextChoices):
    LEAD = "lead", _("Lead (主办)")
    CO_HANDLER = "co", _("Co-handling (协办)")


class ReplyOutcome(models.TextChoices):
    RESOLVED = "resolved", _("Resolved")
    PARTIALLY_RESOLVED = "partial", _("Partially resolved")
    EXPLAINED = "explained", _("Explained to the caller")
    UNRESOLVABLE = "unresolvable", _("Cannot be resolved")


class WorkOrder(models.Model):
    ticket = models.ForeignKey(
        "callcenter.Ticket", verbose_name=_("ticket"), on_delete=models.PROTECT, related_name="work_orders"
    )
    number = models.CharField(_("number"), max_length=40, unique=True)
    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="work_orders")
    responsibility = models.CharField(_("responsibility"), max_length=4, choices=Responsibility.choices)
    state = models.CharField(
        _("state"), max_length=20, choices=WorkOrderState.choices, default=WorkOrderState.PENDING_SIGN
    )
    instructions = models.TextField(_("dispatch instructions"), blank=True)
    dispatched_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("dispatched at"), default=clock.now)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    return_reason = models.TextField(_("return reason"), blank=True)
    return_legal_basis = models.TextField(_("legal basis of the return"), blank=True)
    reply_text = models.TextField(_("reply"), blank=True)
    reply_outcome = models.CharField(_("reply outcome"), max_length=20, choices=ReplyOutcome.choices, blank=True)
    redo_count = models.PositiveIntegerField(_("redo count"), default=0)
    urge_count = models.PositiveIntegerField(_("urge count"), default=0)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["agency", "state"]),
            models.Index(fields=["ticket", "responsibility"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_active(self) -> bool:
        return self.state not in INACTIVE_WORK_ORDER_STATES


class Stage(models.TextChoices):
    SIGN = "sign", _("Sign")
    HANDLE = "handle", _("Handle")
    REVIEW = "review", _("Review")
    REVISIT = "revisit", _("Revisit")


class StageClock(models.Model):
    """One running or finished stage clock of a work order (or, for revisit, of the ticket).

    Deadlines are rows with an indexed due time so that timer workers can claim what is due.
    """

    ticket = models.ForeignKey("callcenter.Ticket", on_delete=models.CASCADE, related_name="stage_clocks")
    work_order = models.ForeignKey(
        WorkOrder, null=True, blank=True, on_delete=models.CASCADE, related_name="stage_clocks"
    )
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    started_at = models.DateTimeField(_("started at"))
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    due_error = models.CharField(
        _("deadline error"),
        max_length=60,
        blank=True,
        help_text=_("Why no deadline could be set, e.g. the working calendar does not know the year."),
    )
    due_provisional = models.BooleanField(
        _("provisional deadline"),
        default=False,
        help_text=_("Computed on the provisional calendar of a year whose holiday schedule is not published yet."),
    )
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)
    stopped_by = models.CharField(_("stopped by action"), max_length=40, blank=True)
    # Frozen when the clock starts, so that later policy changes never move a deadline already set.
    time_limit = models.CharField(_("time limit"), max_length=20, blank=True)
    warn_at = models.DateTimeField(_("warning at"), null=True, blank=True)
    policy = models.ForeignKey(
        "dispatch.SlaPolicy", verbose_name=_("SLA policy"), null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = _("stage clock")
        verbose_name_plural = _("stage clocks")
        ordering = ["id"]
        indexes = [models.Index(fields=["stopped_at", "due_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["work_order", "stage"],
                condition=Q(stopped_at__isnull=True, work_order__isnull=False),
                name="one_running_clock_per_work_order_stage",
            ),
            models.UniqueConstraint(
                fields=["ticket", "stage"],
                condition=Q(stopped_at__isnull=True, work_order__isnull=True),
                name="one_running_clock_per_ticket_stage",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stage}@{self.work_order_id or self.ticket_id}"

    @property
    def is_overdue(self) -> bool:
        end = self.stopped_at or clock.now()
        return self.due_at is not None and end > self.due_at


class TimelineEntry(AppendOnlyModel):
    # The composite indexes below serve the foreign keys too; the actor indexes leave out the many rows the
    # system writes (timers, imports), which have no actor: every index is a write per row, and the timer
    # worker writes thousands of rows a second.
    ticket = models.ForeignKey("callcenter.Ticket", on_delete=models.PROTECT, related_name="timeline", db_index=False)
    work_order = models.ForeignKey(
        WorkOrder,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="timeline",
        db_index=False,
    )
    machine = models.CharField(_("subject of the transition"), max_length=20)
    action = models.CharField(_("action"), max_length=40)
    from_state = models.CharField(_("from state"), max_length=20, blank=True)
    to_state = models.CharField(_("to state"), max_length=20, blank=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    actor_agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=clock.now)

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["ticket", "id"]),
            models.Index(fields=["work_order", "id"]),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="timeline_by_actor"),
            models.Index(
                fields=["actor_agency"], condition=Q(actor_agency__isnull=False), name="timeline_by_actor_agency"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}->{self.to_state}"


class ExtensionState(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class ExtensionRequest(models.Model):
    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="extension_requests")
    state = models.CharField(max_length=10, choices=ExtensionState.choices, default=ExtensionState.PENDING)
    reason = models.TextField(_("reason"))
    requested_due_at = models.DateTimeField(_("requested deadline"))
    previous_due_at = models.DateTimeField(_("deadline before the request"), null=True, blank=True)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=clock.now)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        verbose_name = _("extension request")
        verbose_name_plural = _("extension requests")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["work_order"], condition=Q(state="pending"), name="one_pending_extension_per_work_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id}:{self.state}"


class SupervisionState(models.TextChoices):
    OPEN = "open", _("Awaiting written answer")
    ANSWERED = "answered", _("Answered")


class SupervisionCase(models.Model):
    """督办单: a supervisor's case against a work order that needs a written answer."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="supervision_cases")
    state = models.CharField(max_length=10, choices=SupervisionState.choices, default=SupervisionState.OPEN)
    instruction = models.TextField(_("instruction"))
    answer_due_at = models.DateTimeField(_("answer due"), null=True, blank=True)
    opened_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=clock.now)
    answer = models.TextField(_("written answer"), blank=True)
    answered_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("supervision case")
        verbose_name_plural = _("supervision cases")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["work_order"], condition=Q(state="open"), name="one_open_supervision_per_work_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id}:{self.state}"


# --- working calendar, SLA policies, timers and escalations ---------------------------------------


class CalendarDay(models.Model):
    """An administrator's word on one date, overriding the official schedule (chinesecalendar)."""

    date = models.DateField(_("date"), unique=True)
    is_working_day = models.BooleanField(_("working day"))
    name = models.CharField(_("name"), max_length=60, blank=True, help_text=_("e.g. Spring Festival, make-up day"))
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'+' if self.is_working_day else '-'} {self.name}"


class CalendarYear(models.Model):
    """A year the administrators published: known even when chinesecalendar is not (weekdays work by default;
    the year's holidays and make-up days are CalendarDay rows)."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    published_at = models.DateTimeField(_("published at"), default=clock.now)

    class Meta:
        verbose_name = _("published calendar year")
        verbose_name_plural = _("published calendar years")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)


class WorkingPeriod(models.Model):
    """Office hours of a working day (e.g. 08:30-12:00 and 14:30-18:00); none means working hours are off."""

    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))

    class Meta:
        verbose_name = _("working period")
        verbose_name_plural = _("working periods")
        ordering = ["start"]
        constraints = [models.CheckConstraint(condition=Q(start__lt=models.F("end")), name="working_period_ordered")]

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class SlaPolicy(models.Model):
    """Time limits per (appeal type, subject, urgency); an empty key matches any value.

    Limits are durations: "15wd" working days, "8wh" working hours, "24h" clock hours, "30m" minutes. An empty
    limit falls through to the next less specific policy, then to the subject's own limits and the defaults.
    """

    name = models.CharField(_("name"), max_length=100, blank=True)
    appeal_type = models.ForeignKey(
        "organisation.AppealType", verbose_name=_("appeal type"), null=True, blank=True, on_delete=models.CASCADE
    )
    subject = models.ForeignKey(
        "organisation.Subject", verbose_name=_("subject"), null=True, blank=True, on_delete=models.CASCADE
    )
    urgency = models.CharField(_("urgency"), max_length=10, blank=True)
    sign_limit = models.CharField(_("sign limit"), max_length=20, blank=True)
    handle_limit = models.CharField(_("handle limit"), max_length=20, blank=True)
    review_limit = models.CharField(_("review limit"), max_length=20, blank=True)
    revisit_limit = models.CharField(_("revisit limit"), max_length=20, blank=True)
    from_next_working_day = models.BooleanField(
        _("counted from the next working day"),
        default=False,
        help_text=_("Clock-hour limits start at the beginning of the next working day."),
    )
    warning_fraction = models.FloatField(
        _("warning at fraction"),
        null=True,
        blank=True,
        # xgettext:no-python-format
        help_text=_("e.g. 0.8: warn when 80% of the time is used."),
    )
    warning_lead = models.CharField(
        _("warning lead"), max_length=20, blank=True, help_text=_("e.g. 2h: warn two hours before the deadline.")
    )
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                Coalesce("appeal_type", Value(0)),
                Coalesce("subject", Value(0)),
                "urgency",
                name="one_sla_policy_per_key",
            )
        ]

    def __str__(self) -> str:
        return self.name or f"{self.appeal_type_id or '*'}/{self.subject_id or '*'}/{self.urgency or '*'}"

    def limit_for(self, stage: str) -> str:
        return str(getattr(self, f"{stage}_limit", "") or "")


class EscalationLevel(models.TextChoices):
    WARNING = "warning", _("Warning (预警)")
    OVERDUE = "overdue", _("Overdue, yellow card (黄牌)")
    SERIOUS = "serious", _("Seriously overdue, red card (红牌)")


class TimerOutcome(models.TextChoices):
    FIRED = "fired", _("Fired")
    CANCELLED = "cancelled", _("Cancelled")


class Timer(models.Model):
    """One pending step of a clock's escalation ladder: an indexed row that timer workers claim when due.

    A claim is a token plus a lease: a worker that dies after claiming leaves rows that others take again
    once the lease has expired. Escalation's unique (clock, level) makes firing happen once whatever happens.
    """

    # Covered by the unique (clock, level) index.
    clock = models.ForeignKey(StageClock, on_delete=models.CASCADE, related_name="timers", db_index=False)
    level = models.CharField(_("level"), max_length=10, choices=EscalationLevel.choices)
    fire_at = models.DateTimeField(_("fires at"))
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=TimerOutcome.choices, blank=True)

    class Meta:
        verbose_name = _("timer")
        verbose_name_plural = _("timers")
        ordering = ["fire_at", "id"]
        constraints = [models.UniqueConstraint(fields=["clock", "level"], name="one_timer_per_clock_level")]
        indexes = [models.Index(fields=["fire_at"], condition=Q(done_at__isnull=True), name="timer_pending_by_fire_at")]

    def __str__(self) -> str:
        return f"{self.clock_id}:{self.level}@{self.fire_at}"


class Escalation(models.Model):
    """A fired step of the ladder (warning, yellow card, red card) for one stage clock: append-only."""

    # No single-column indexes where a composite index below starts with the column: the worker inserts
    # thousands of these per second, each index is a write.
    clock = models.ForeignKey(StageClock, on_delete=models.CASCADE, related_name="escalations", db_index=False)
    work_order = models.ForeignKey(
        WorkOrder,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="escalations",
        db_index=False,
    )
    ticket = models.ForeignKey("callcenter.Ticket", on_delete=models.CASCADE, related_name="escalations")
    # The work order's agency, copied so that the board can count by agency without joins.
    agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="escalations",
        db_index=False,
    )
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    level = models.CharField(_("level"), max_length=10, choices=EscalationLevel.choices)
    due_at = models.DateTimeField(_("deadline"))
    fired_at = models.DateTimeField(_("fired at"))
    supervision_case = models.ForeignKey(
        SupervisionCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="escalations", db_index=False
    )

    class Meta:
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["clock", "level"], name="one_escalation_per_clock_level")]
        indexes = [
            models.Index(fields=["agency", "level", "fired_at"]),
            models.Index(fields=["work_order", "level"]),
            # Only red cards have a case.
            models.Index(
                fields=["supervision_case"], condition=Q(supervision_case__isnull=False), name="escalation_by_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.level}:{self.clock_id}"


class Reprimand(models.Model):
    """The reprimand list (通报): an agency listed because one of its work orders was seriously overdue."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="reprimands")
    escalation = models.OneToOneField(Escalation, on_delete=models.CASCADE, related_name="reprimand")
    work_order = models.ForeignKey(WorkOrder, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    listed_at = models.DateTimeField(_("listed at"))
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)

    class Meta:
        verbose_name = _("reprimand")
        verbose_name_plural = _("reprimand list")
        ordering = ["-listed_at", "-id"]
        indexes = [models.Index(fields=["agency", "listed_at"])]

    def __str__(self) -> str:
        return f"{self.agency_id}@{self.listed_at}"


from dispatch.attachments.models import Attachment  # noqa: E402,F401  (registers the model with the dispatch app)
