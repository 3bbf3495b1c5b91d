"""Writes of the working calendar (single days, published years, working hours) and of SLA policies.

Administrators change these through the admin and the API. These actions are not durable transactions: the
admin runs its saves inside a transaction of its own, which then encloses them (all or nothing either way).
Each change drops the per-process caches (dispatch/deadlines/calendar.py, dispatch/deadlines/policies.py)
after commit; other processes notice within seconds.
Publishing a year computes every open provisional deadline again (recompute_provisional_deadlines): a later
official deadline replaces the provisional one, an earlier one never does. Other deadlines never move.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from callcenter.models import Urgency
from core import clock
from core.errors import InvalidInput, NotFound
from dispatch.deadlines import calendar
from dispatch.deadlines.calendar import CalendarYearUnknown, InvalidDuration, parse_duration, provisional_years_between
from dispatch.deadlines.escalations import AGENCY_STAGES
from dispatch.deadlines.policies import deadline_for, invalidate_policies, serious_at
from dispatch.deadlines.timers import arm_clock, fired_levels, ring_if_soon
from dispatch.models import (
    CalendarDay,
    CalendarYear,
    Escalation,
    EscalationLevel,
    SlaPolicy,
    StageClock,
    TimelineEntry,
    Timer,
    WorkingPeriod,
)
from organisation.actions import audit
from organisation.models import AppealType, Subject, User, default_city_id
from realtime.events import append_event, append_events

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
    with transaction.atomic():
        row, _created = CalendarDay.objects.update_or_create(
            date=day, defaults={"is_working_day": is_working_day, "name": name, "updated_at": clock.now()}
        )
        _after_commit_invalidate()
        return row


def do_delete_calendar_day(day: dt.date, *, actor: User | None = None) -> None:
    """Drop an override: the official schedule (or the published year's weekdays) applies again."""
    with transaction.atomic():
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
) -> Published:
    """Publish a year's schedule (weekdays work; ``holidays`` off; ``working_days`` are make-up days), then
    recompute the open provisional deadlines on it (audited, with events)."""
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
    with transaction.atomic():
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
        done = recompute_provisional_deadlines(year, actor=actor, at=now)
        summary = {"year": year, "recomputed": done.recomputed, "moved": done.moved, "kept": done.kept}
        if actor is not None:
            audit(
                actor,
                "publish_calendar_year",
                target_type="calendar_year",
                target_id=year,
                reason=note or _("Published the %(year)d holiday schedule.") % {"year": year},
                details=[{"holidays": len(holidays), "working_days": len(working_days), **summary}],
            )
        append_event("calendar.year_published", summary)
        return Published(published, done)


def do_unpublish_calendar_year(year: int, *, actor: User | None = None) -> None:
    with transaction.atomic():
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
    with transaction.atomic():
        WorkingPeriod.objects.all().delete()
        rows = WorkingPeriod.objects.bulk_create([WorkingPeriod(start=s, end=e) for s, e in parsed])
        _after_commit_invalidate()
        return rows


@dataclass
class Recomputed:
    """What publishing a year did to open deadlines."""

    recomputed: int = 0  # clocks looked at again
    moved: int = 0  # got a later official deadline (or a first one)
    kept: int = 0  # kept the deadline already announced (the official one is not later, or it has passed)


@dataclass(frozen=True)
class Published:
    row: CalendarYear
    recomputed: Recomputed


def _chain_start(clock_row: StageClock) -> tuple[dt.datetime, list[int]]:
    """When the deadline of ``clock_row`` started running, and the clocks that share it: a reply sent back
    continues its previous clock's deadline (start_stage_clock(inherit=True)) under a new clock row."""
    chain = list(
        StageClock.objects.filter(
            ticket_id=clock_row.ticket_id,
            work_order_id=clock_row.work_order_id,
            stage=clock_row.stage,
            due_at=clock_row.due_at,
            id__lte=clock_row.pk,
        )
        .order_by("id")
        .values_list("id", "started_at")
    )
    return chain[0][1], [pk for pk, _start in chain]


def _iso(moment: dt.datetime | None) -> str | None:
    return localtime(moment).isoformat() if moment is not None else None


def _retime(clock_row: StageClock, level: str, fire_at: dt.datetime | None, at: dt.datetime) -> None:
    """Move a pending timer that has not fallen due to a later time (never earlier)."""
    if fire_at is None:
        return
    Timer.objects.filter(
        clock=clock_row, level=level, done_at__isnull=True, fire_at__gt=at, fire_at__lt=fire_at
    ).update(fire_at=fire_at)


def do_fill_missing_deadlines(*, actor: User | None = None) -> Recomputed:
    """Give a deadline to every running clock that has none because its year was unknown when it started, now
    that a calendar (published or provisional) covers it. Run by every timer worker when it starts, so that
    clocks started before the provisional calendar existed are supervised again."""
    with transaction.atomic(durable=True):
        return recompute_provisional_deadlines(None, actor=actor, at=clock.now(), undated_only=True)


def recompute_provisional_deadlines(
    year: int | None, *, actor: User | None, at: dt.datetime, undated_only: bool = False
) -> Recomputed:
    """Compute the open provisional deadlines again on the calendar as it now stands (inside the caller's
    action, after the published days are written); ``undated_only``: only the clocks that have none.

    The rule: a deadline announced to an agency never moves earlier. A later official deadline replaces the
    provisional one and its pending timers move with it (the same rows: nothing fires twice); an earlier one
    leaves it as announced. A deadline that has already passed stays (its yellow card has fired or is firing);
    only its pending red card may move later. Clocks that had no deadline at all (a year outside every
    calendar) get one. Each clock changed gets a timeline row; each agency one event with its clocks.
    """
    result = Recomputed()
    default_city = default_city_id()
    # One event per agency and city (the tickets' city: that city's centre sees it).
    per_agency: dict[tuple[int | None, int | None], list[dict[str, Any]]] = {}
    wanted = Q(due_error=CalendarYearUnknown.code) if undated_only else Q(due_provisional=True)
    clocks = (
        StageClock.objects.select_for_update(of=("self",))
        .filter(stopped_at__isnull=True)
        .filter(wanted | Q(due_error=CalendarYearUnknown.code))
        .select_related("ticket__subject", "work_order")
        .order_by("id")
    )
    for clock_row in clocks:
        ticket, work_order = clock_row.ticket, clock_row.work_order
        previous_due = clock_row.due_at
        if previous_due is None:
            started, chain = clock_row.started_at, [clock_row.pk]
        else:
            started, chain = _chain_start(clock_row)
        deadline = deadline_for(ticket, clock_row.stage, started, limit=clock_row.time_limit)
        if deadline.error or deadline.due_at is None:
            continue
        result.recomputed += 1
        if previous_due is None:
            clock_row.due_at, clock_row.warn_at = deadline.due_at, deadline.warn_at
            clock_row.due_error, clock_row.due_provisional = "", deadline.provisional
            arm_clock(clock_row, skip_levels=fired_levels(clock_row.pk))
            moved = True
        elif deadline.due_at > previous_due and previous_due > at:
            warn_at = deadline.warn_at
            if clock_row.warn_at is not None and (warn_at is None or warn_at < clock_row.warn_at):
                warn_at = clock_row.warn_at
            if clock_row.warn_at is not None and clock_row.warn_at <= at:
                warn_at = clock_row.warn_at  # the warning is out already
            clock_row.due_at, clock_row.warn_at, clock_row.due_provisional = (
                deadline.due_at,
                warn_at,
                deadline.provisional,
            )
            _retime(clock_row, EscalationLevel.WARNING, warn_at, at)
            _retime(clock_row, EscalationLevel.OVERDUE, deadline.due_at, at)
            ring_if_soon(t for t in (warn_at, deadline.due_at) if t is not None)
            moved = True
        else:
            clock_row.due_provisional = bool(provisional_years_between(started, previous_due))
            moved = False
        if Escalation.objects.filter(clock_id__in=chain, level=EscalationLevel.OVERDUE).exists():
            red_at = serious_at(clock_row.due_at)  # type: ignore[arg-type]
            _retime(clock_row, EscalationLevel.SERIOUS, red_at, at)
        clock_row.save(update_fields=["due_at", "warn_at", "due_error", "due_provisional"])
        result.moved += moved
        result.kept += not moved
        state = work_order.state if work_order is not None else ticket.state
        item = {
            "clock_id": clock_row.pk,
            "work_order_id": clock_row.work_order_id,
            "ticket_id": ticket.pk,
            "stage": clock_row.stage,
            "due_at": _iso(clock_row.due_at) or "",
            "warn_at": _iso(clock_row.warn_at),
            "previous_due_at": _iso(previous_due),
            "moved": moved,
            "provisional": clock_row.due_provisional,
        }
        TimelineEntry.objects.create(
            ticket=ticket,
            work_order_id=clock_row.work_order_id,
            machine="work_order" if work_order is not None else "ticket",
            action="deadline_set" if previous_due is None else "deadline_recomputed",
            from_state=state,
            to_state=state,
            actor=actor,
            actor_agency_id=actor.agency_id if actor else None,
            data={"year": year, **{k: v for k, v in item.items() if k not in ("clock_id", "ticket_id")}},
            created_at=at,
        )
        agency_id = work_order.agency_id if work_order is not None and clock_row.stage in AGENCY_STAGES else None
        per_agency.setdefault((agency_id, ticket.city_id or default_city), []).append(item)
    append_events(
        "work_order.deadlines_recomputed",
        [
            (
                {"agency_id": agency, "year": year, "deadlines": items},
                None,
                [agency] if agency is not None else [],
                city,
            )
            for (agency, city), items in sorted(per_agency.items(), key=lambda pair: pair[1][0]["clock_id"])
        ],
    )
    return result


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
    with transaction.atomic():
        if policy_id is not None:
            policy = SlaPolicy.objects.select_for_update(of=("self",)).filter(pk=policy_id).first()
            if policy is None:
                raise NotFound(_("No such SLA policy."))
            if SlaPolicy.objects.filter(**key).exclude(pk=policy_id).exists():
                raise _invalid("subject_id", _("Another policy already has this appeal type, subject and urgency."))
        else:
            policy = SlaPolicy.objects.select_for_update(of=("self",)).filter(**key).first() or SlaPolicy(**key)
        for name, value in {**key, **clean}.items():
            setattr(policy, name, value)
        policy.updated_at = clock.now()
        policy.save()
        _after_commit_invalidate()
        return policy


def do_delete_sla_policy(policy_id: int, *, actor: User | None = None) -> None:
    with transaction.atomic():
        deleted, _by_model = SlaPolicy.objects.filter(pk=policy_id).delete()
        if not deleted:
            raise NotFound(_("No such SLA policy."))
        _after_commit_invalidate()
