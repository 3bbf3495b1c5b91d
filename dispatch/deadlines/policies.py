"""The one place that decides time limits and computes due times.

Which limit applies to a ticket's stage: the most specific active SlaPolicy that names one, by
(appeal type, subject, urgency) with an empty key matching anything - exact, then the subject with any
urgency or appeal type, then the appeal type, then any - then the subject's own ``time_limits``, then
GLOSSARY.md's defaults. Each limit is looked up on its own, so a policy may set only the handle limit.

A stage clock stores the resulting due time and warning time when it starts; later policy changes never
move them. A deadline that depends on a year whose holiday schedule is not published yet is computed on the
provisional calendar and marked ``provisional`` (dispatch/deadlines/calendar.py); publishing the year recomputes it.
The ladder after the deadline (red card N working days later) is computed here too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Max

from callcenter.models import Ticket
from core.stamped_cache import StampedCache
from dispatch.deadlines.calendar import (
    CalendarYearUnknown,
    InvalidDuration,
    after_working_days,
    deadline_after,
    fraction_point,
    parse_duration,
    provisional_years_between,
)

#: Used where neither a policy nor the subject names a limit (GLOSSARY.md's defaults).
DEFAULT_TIME_LIMITS: dict[str, dict[str, str]] = {
    "normal": {"sign": "1wd", "handle": "15wd", "review": "1wd", "revisit": "3wd"},
    "urgent": {"sign": "2h", "handle": "24h", "review": "4h", "revisit": "24h"},
    "emergency": {"sign": "30m", "handle": "2h", "review": "2h", "revisit": "24h"},
}

#: The escalation ladder; override any key in settings.HOTLINE["ESCALATION"].
DEFAULT_ESCALATION: dict[str, Any] = {
    # Warn when this fraction of the time is used, unless the policy says otherwise.
    "warning_fraction": 0.8,
    # Red card (红牌) this many working days after the deadline.
    "serious_after_working_days": 5,
    # Levels in use, in order; drop "warning" or "serious" to switch a step off.
    "levels": ["warning", "overdue", "serious"],
}


def escalation_settings() -> dict[str, Any]:
    return {**DEFAULT_ESCALATION, **(settings.HOTLINE.get("ESCALATION") or {})}


@dataclass(frozen=True)
class Deadline:
    limit: str
    due_at: dt.datetime | None
    warn_at: dt.datetime | None
    policy_id: int | None
    error: str = ""
    #: Computed on the provisional calendar of an unpublished year.
    provisional: bool = False


@dataclass(frozen=True)
class _Policy:
    id: int
    appeal_type_id: int | None
    subject_id: int | None
    urgency: str
    limits: dict[str, str]
    from_next_working_day: bool
    warning_fraction: float | None
    warning_lead: str

    def specificity(self) -> int:
        # Subject outranks urgency, which outranks appeal type (see the module docstring).
        return 4 * (self.subject_id is not None) + 2 * bool(self.urgency) + (self.appeal_type_id is not None)


CACHE_CHECK_SECONDS = 2.0


def _load_policies() -> list[_Policy]:
    from dispatch.models import SlaPolicy

    rows = []
    for p in SlaPolicy.objects.filter(active=True):
        limits = {stage: p.limit_for(stage) for stage in ("sign", "handle", "review", "revisit")}
        rows.append(
            _Policy(
                p.pk,
                p.appeal_type_id,
                p.subject_id,
                p.urgency,
                {k: v for k, v in limits.items() if v},
                p.from_next_working_day,
                p.warning_fraction,
                p.warning_lead,
            )
        )
    return sorted(rows, key=lambda p: -p.specificity())


def _policies_stamp() -> object:
    from dispatch.models import SlaPolicy

    return tuple(SlaPolicy.objects.aggregate(n=Count("id"), latest=Max("updated_at"), top=Max("id")).values())


_policies = StampedCache(_load_policies, _policies_stamp, check_seconds=CACHE_CHECK_SECONDS)


def policies() -> list[_Policy]:
    """Active policies, most specific first; cached per process like the calendar."""
    return _policies.get()


def invalidate_policies() -> None:
    _policies.invalidate()


def _matching(ticket: Ticket) -> list[_Policy]:
    return [
        p
        for p in policies()
        if p.appeal_type_id in (None, ticket.appeal_type_id)
        and p.subject_id in (None, ticket.subject_id)
        and p.urgency in ("", ticket.urgency)
    ]


def time_limit(ticket: Ticket, stage: str) -> tuple[str, _Policy | None]:
    """The limit of a stage and the policy that set it (None: the subject's limits or the defaults)."""
    for policy in _matching(ticket):
        if stage in policy.limits:
            return policy.limits[stage], policy
    own = (ticket.subject.time_limits or {}).get(ticket.urgency, {})
    return own.get(stage) or DEFAULT_TIME_LIMITS[ticket.urgency][stage], None


def _counting_rules(ticket: Ticket) -> tuple[bool, float | None, str]:
    """from_next_working_day, warning fraction and warning lead: from the most specific policy that sets them."""
    matching = _matching(ticket)
    from_next = next((p.from_next_working_day for p in matching), False)
    for policy in matching:
        if policy.warning_lead:
            return from_next, None, policy.warning_lead
        if policy.warning_fraction is not None:
            return from_next, policy.warning_fraction, ""
    return from_next, float(escalation_settings()["warning_fraction"]), ""


def warning_time(start: dt.datetime, due: dt.datetime, limit: str, fraction: float | None, lead: str) -> dt.datetime:
    if lead:
        amount, unit = parse_duration(lead)
        if unit not in {"h", "m"}:
            raise InvalidDuration(f"A warning lead is in clock hours or minutes, not {lead!r}.")
        warn = due - (dt.timedelta(hours=amount) if unit == "h" else dt.timedelta(minutes=amount))
    else:
        warn = fraction_point(start, due, limit, fraction if fraction is not None else 0.8)
    return warn


def deadline_for(ticket: Ticket, stage: str, started_at: dt.datetime, *, limit: str = "") -> Deadline:
    """The deadline of a stage clock starting now, or no deadline with the reason (shown to supervisors).
    ``limit`` (a clock's frozen limit, when a deadline is computed again) replaces the policy's."""
    policy_limit, policy = time_limit(ticket, stage)
    limit = limit or policy_limit
    try:
        from_next, fraction, lead = _counting_rules(ticket)
        due = deadline_after(started_at, limit, from_next_working_day=from_next)
        warn: dt.datetime | None = warning_time(started_at, due, limit, fraction, lead)
    except CalendarYearUnknown:
        return Deadline(limit, None, None, policy.id if policy else None, CalendarYearUnknown.code)
    except InvalidDuration:
        return Deadline(limit, None, None, policy.id if policy else None, InvalidDuration.code)
    if warn is not None and warn <= started_at:
        warn = None
    _amount, unit = parse_duration(limit)
    # A limit in clock time (24h, 30m) does not depend on the calendar unless it starts on the next working day.
    provisional = (unit in {"wd", "wh"} or from_next) and bool(provisional_years_between(started_at, due))
    return Deadline(limit, due, warn, policy.id if policy else None, provisional=provisional)


def due_for(ticket: Ticket, stage: str, started_at: dt.datetime) -> tuple[dt.datetime | None, str]:
    """The deadline, or None with the reason it could not be set."""
    deadline = deadline_for(ticket, stage, started_at)
    return deadline.due_at, deadline.error


def serious_at(due_at: dt.datetime) -> dt.datetime:
    """When an overdue stage becomes seriously overdue (红牌). Raises CalendarYearUnknown."""
    return after_working_days(due_at, int(escalation_settings()["serious_after_working_days"]))


def levels() -> list[str]:
    return list(escalation_settings()["levels"])


def warning_for_extension(
    ticket: Ticket, deadline: Deadline, started_at: dt.datetime, due_at: dt.datetime
) -> dt.datetime | None:
    """The warning point before an extended deadline, by the same rule as the stage's policy."""
    try:
        _from_next, fraction, lead = _counting_rules(ticket)
        warn = warning_time(started_at, due_at, deadline.limit or "1h", fraction, lead)
    except (CalendarYearUnknown, InvalidDuration):
        return None
    return warn if warn > started_at else None
