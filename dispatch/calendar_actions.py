"""Writes of the working calendar (single days, published years, working hours) and of SLA policies.

Administrators change these through the admin and the API. Each change drops the per-process caches
(dispatch/calendar.py, dispatch/deadlines.py) after commit; other processes notice within seconds.
Running stage clocks whose deadline could not be set because the year was unknown are computed again
when the calendar changes, and get their timers. Deadlines already set never move.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.models import AppealType, Subject, Ticket, Urgency
from dispatch import calendar, clock
from dispatch.calendar import CalendarYearUnknown, InvalidDuration, parse_duration
from dispatch.deadlines import deadline_for, invalidate_policies
from dispatch.errors import InvalidInput, NotFound
from dispatch.models import CalendarDay, CalendarYear, SlaPolicy, StageClock, TimelineEntry, User, WorkingPeriod
from dispatch.timers import arm_clock

STAGES = ("sign", "handle", "review", "revisit")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$|^24:00$")


def _after_commit_invalidate() -> None:
    calendar.invalidate()
    invalidate_policies()
    transaction.on_commit(calendar.invalidate)
    transaction.on_commit(invalidate_policies)


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(_("Some fields are not valid."), fields={field: [message]})


# --- calendar days ---------------------------------------------------------------------------------


def check_save_calendar_day(*, day: Any, is_working_day: Any, name: Any) -> None:
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise _invalid("date", _("A date (YYYY-MM-DD)."))
    if not isinstance(is_working_day, bool):
        raise _invalid("is_working_day", _("true or false."))
    if not isinstance(name, str) or len(name) > 60:
        raise _invalid("name", _("At most %(n)d characters of text.") % {"n": 60})


def do_save_calendar_day(
    day: dt.date, *, is_working_day: bool, name: str = "", actor: User | None = None
) -> CalendarDay:
    """Say that a date is (or is not) a working day, overriding the official schedule."""
    check_save_calendar_day(day=day, is_working_day=is_working_day, name=name)
    with transaction.atomic(durable=True):
        row, _created = CalendarDay.objects.update_or_create(
            date=day, defaults={"is_working_day": is_working_day, "name": name, "updated_at": clock.now()}
        )
        _after_commit_invalidate()
        recompute_unknown_deadlines(actor=actor)
        return row


def do_delete_calendar_day(day: dt.date, *, actor: User | None = None) -> None:
    """Drop an override: the official schedule (or the published year's weekdays) applies again."""
    with transaction.atomic(durable=True):
        deleted, _by_model = CalendarDay.objects.filter(date=day).delete()
        if not deleted:
            raise NotFound(_("No such calendar day."))
        _after_commit_invalidate()


def do_publish_calendar_year(
    year: int,
    *,
    holidays: Iterable[tuple[dt.date, str]] = (),
    working_days: Iterable[tuple[dt.date, str]] = (),
    note: str = "",
    actor: User | None = None,
) -> CalendarYear:
    """Publish a year's schedule (weekdays work; ``holidays`` off; ``working_days`` are make-up days)."""
    holidays, working_days = list(holidays), list(working_days)
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise _invalid("year", _("A year between 2000 and 2100."))
    for field, days in (("holidays", holidays), ("working_days", working_days)):
        for day, name in days:
            check_save_calendar_day(day=day, is_working_day=True, name=name)
            if day.year != year:
                raise _invalid(field, _("Every date must be in %(year)d.") % {"year": year})
    if {d for d, _n in holidays} & {d for d, _n in working_days}:
        raise _invalid("working_days", _("A date cannot be both a holiday and a working day."))
    with transaction.atomic(durable=True):
        published, _created = CalendarYear.objects.update_or_create(
            year=year, defaults={"note": note, "published_at": clock.now()}
        )
        now = clock.now()
        for is_working, days in ((False, holidays), (True, working_days)):
            for day, name in days:
                CalendarDay.objects.update_or_create(
                    date=day, defaults={"is_working_day": is_working, "name": name, "updated_at": now}
                )
        _after_commit_invalidate()
        recompute_unknown_deadlines(actor=actor)
        return published


def do_unpublish_calendar_year(year: int, *, actor: User | None = None) -> None:
    with transaction.atomic(durable=True):
        deleted, _by_model = CalendarYear.objects.filter(year=year).delete()
        if not deleted:
            raise NotFound(_("No such published year."))
        _after_commit_invalidate()


def check_working_periods(periods: Any) -> list[tuple[dt.time, dt.time]]:
    if not isinstance(periods, list | tuple):
        raise _invalid("periods", _('A list of ["HH:MM", "HH:MM"] pairs.'))
    parsed = []
    for pair in periods:
        if not isinstance(pair, list | tuple) or len(pair) != 2 or not all(isinstance(p, str) for p in pair):
            raise _invalid("periods", _('A list of ["HH:MM", "HH:MM"] pairs.'))
        if not all(_TIME.match(p) for p in pair) or pair[1] == "24:00":
            raise _invalid("periods", _("Times are HH:MM between 00:00 and 23:59."))
        start, end = (dt.time.fromisoformat(p) for p in pair)
        if start >= end:
            raise _invalid("periods", _("A period must end after it starts."))
        parsed.append((start, end))
    parsed.sort()
    if any(a[1] > b[0] for a, b in itertools.pairwise(parsed)):
        raise _invalid("periods", _("Periods must not overlap."))
    return parsed


def do_set_working_periods(periods: Sequence[Sequence[str]], *, actor: User | None = None) -> list[WorkingPeriod]:
    """Replace the office hours; an empty list switches working hours off."""
    parsed = check_working_periods(list(periods))
    with transaction.atomic(durable=True):
        WorkingPeriod.objects.all().delete()
        rows = WorkingPeriod.objects.bulk_create([WorkingPeriod(start=s, end=e) for s, e in parsed])
        _after_commit_invalidate()
        return rows


def recompute_unknown_deadlines(*, actor: User | None = None) -> int:
    """Running clocks without a deadline because of an unknown year: try again (inside the caller's action)."""
    at = clock.now()
    fixed = 0
    for clock_row in StageClock.objects.filter(stopped_at__isnull=True, due_error=CalendarYearUnknown.code):
        ticket = Ticket.objects.select_related("subject").get(pk=clock_row.ticket_id)
        deadline = deadline_for(ticket, clock_row.stage, clock_row.started_at)
        if deadline.error:
            continue
        StageClock.objects.filter(pk=clock_row.pk).update(
            due_at=deadline.due_at, warn_at=deadline.warn_at, due_error="", policy_id=deadline.policy_id
        )
        clock_row.due_at, clock_row.warn_at, clock_row.due_error = deadline.due_at, deadline.warn_at, ""
        arm_clock(clock_row)
        state = ticket.state
        TimelineEntry.objects.create(
            ticket=ticket,
            work_order_id=clock_row.work_order_id,
            machine="work_order" if clock_row.work_order_id else "ticket",
            action="deadline_set",
            from_state=state if not clock_row.work_order_id else clock_row.work_order.state,  # type: ignore[union-attr]
            to_state=state if not clock_row.work_order_id else clock_row.work_order.state,  # type: ignore[union-attr]
            actor=actor,
            actor_agency_id=actor.agency_id if actor else None,
            data={"stage": clock_row.stage, "due_at": deadline.due_at.isoformat() if deadline.due_at else None},
            created_at=at,
        )
        fixed += 1
    return fixed


# --- SLA policies ----------------------------------------------------------------------------------


#: What the editor of an SLA policy sets, by the model's field names (the actions below take the two foreign
#: keys as ``appeal_type_id`` and ``subject_id``).
SLA_POLICY_FIELDS = (
    "name",
    "appeal_type",
    "subject",
    "urgency",
    "sign_limit",
    "handle_limit",
    "review_limit",
    "revisit_limit",
    "from_next_working_day",
    "warning_fraction",
    "warning_lead",
    "active",
)


def check_save_sla_policy(fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, model in (("appeal_type_id", AppealType), ("subject_id", Subject)):
        value = fields.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not model.objects.filter(pk=value).exists()
        ):
            errors[key] = [_("Unknown id.")]
        clean[key] = value
    urgency = fields.get("urgency") or ""
    if urgency not in ("", *Urgency.values):
        errors["urgency"] = [_("One of: %(v)s") % {"v": ", ".join(Urgency.values)}]
    clean["urgency"] = urgency
    for stage in STAGES:
        spec = fields.get(f"{stage}_limit") or ""
        if not isinstance(spec, str):
            errors[f"{stage}_limit"] = [_("This field must be text.")]
            continue
        if spec:
            try:
                parse_duration(spec)
            except InvalidDuration:
                errors[f"{stage}_limit"] = [_("A time limit like 15wd, 8wh, 24h or 30m.")]
        clean[f"{stage}_limit"] = spec.strip()
    fraction = fields.get("warning_fraction")
    if fraction is not None and (
        not isinstance(fraction, int | float) or isinstance(fraction, bool) or not 0 < fraction < 1
    ):
        errors["warning_fraction"] = [_("A number between 0 and 1.")]
    clean["warning_fraction"] = fraction
    lead = fields.get("warning_lead") or ""
    if not isinstance(lead, str) or (lead and not re.match(r"^\s*\d+\s*(h|m)\s*$", lead)):
        errors["warning_lead"] = [_("Clock hours or minutes, like 2h or 30m.")]
    clean["warning_lead"] = lead.strip() if isinstance(lead, str) else ""
    for flag in ("from_next_working_day", "active"):
        value = fields.get(flag, flag == "active")
        if not isinstance(value, bool):
            errors[flag] = [_("true or false.")]
        clean[flag] = value
    name = fields.get("name") or ""
    if not isinstance(name, str) or len(name) > 100:
        errors["name"] = [_("At most %(n)d characters of text.") % {"n": 100}]
    clean["name"] = name
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    return clean


def do_save_sla_policy(*, actor: User | None = None, policy_id: int | None = None, **fields: Any) -> SlaPolicy:
    """Create or change the policy of a (appeal type, subject, urgency) key; running deadlines do not move."""
    clean = check_save_sla_policy(fields)
    key = {k: clean.pop(k) for k in ("appeal_type_id", "subject_id", "urgency")}
    with transaction.atomic(durable=True):
        if policy_id is not None:
            policy = SlaPolicy.objects.select_for_update().filter(pk=policy_id).first()
            if policy is None:
                raise NotFound(_("No such SLA policy."))
            if SlaPolicy.objects.filter(**key).exclude(pk=policy_id).exists():
                raise _invalid("subject_id", _("Another policy already has this appeal type, subject and urgency."))
        else:
            policy = SlaPolicy.objects.select_for_update().filter(**key).first() or SlaPolicy(**key)
        for name, value in {**key, **clean}.items():
            setattr(policy, name, value)
        policy.updated_at = clock.now()
        policy.save()
        _after_commit_invalidate()
        return policy


def do_delete_sla_policy(policy_id: int, *, actor: User | None = None) -> None:
    with transaction.atomic(durable=True):
        deleted, _by_model = SlaPolicy.objects.filter(pk=policy_id).delete()
        if not deleted:
            raise NotFound(_("No such SLA policy."))
        _after_commit_invalidate()
