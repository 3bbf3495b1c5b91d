"""The escalation ladder's write path: claiming due timers and firing them (warning, yellow card, red card).

Two short transactions per batch, so that a worker killed at any point loses nothing and fires nothing
twice:

1. claim_due_timers: mark up to ``limit`` due, unclaimed (or lease-expired) timers with a fresh token and
   a lease - ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, a compare-and-set UPDATE on SQLite.
2. do_fire_timers: for the rows still carrying our token, in one durable transaction: mark them done,
   insert Escalation rows (``ON CONFLICT (clock, level) DO NOTHING`` - the unique constraint is the last
   guard), open supervision cases and reprimands for red cards, arm the red-card timers of new yellow
   cards, and append timeline rows and events - all in bulk, one statement per table per batch.

A worker that dies between 1 and 2 leaves claimed rows whose lease expires; another worker takes them.
A worker whose lease expired before it fired finds its token replaced and fires nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils.translation import gettext as _

from dispatch import clock
from dispatch.calendar import CalendarYearUnknown, local_zone
from dispatch.deadlines import levels, serious_at
from dispatch.models import (
    Escalation,
    EscalationLevel,
    Reprimand,
    Stage,
    SupervisionCase,
    SupervisionState,
    TimelineEntry,
    Timer,
    TimerOutcome,
)
from dispatch.timers import is_postgres, ring_if_soon
from realtime.events import append_events

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 1000
DEFAULT_LEASE_SECONDS = 60.0
#: Test hook: a worker process exits right after its claim commits (a deterministic "killed mid-batch").
EXIT_AFTER_CLAIM_ENV = "HOTLINE_TIMERS_EXIT_AFTER_CLAIM"

_TIMELINE_ACTION = {
    EscalationLevel.WARNING: "escalate_warning",
    EscalationLevel.OVERDUE: "escalate_overdue",
    EscalationLevel.SERIOUS: "escalate_serious",
}


@dataclass
class FireResult:
    claimed: int = 0
    fired: int = 0
    cancelled: int = 0
    by_level: dict[str, int] = field(default_factory=dict)
    escalation_ids: list[int] = field(default_factory=list)

    def add(self, other: FireResult) -> None:
        self.claimed += other.claimed
        self.fired += other.fired
        self.cancelled += other.cancelled
        for level, count in other.by_level.items():
            self.by_level[level] = self.by_level.get(level, 0) + count
        self.escalation_ids.extend(other.escalation_ids)


def _db_time(moment: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)


# --- 1. claiming -----------------------------------------------------------------------------------


def claim_due_timers(
    *, limit: int = DEFAULT_BATCH, lease_seconds: float = DEFAULT_LEASE_SECONDS, now: dt.datetime | None = None
) -> tuple[str, list[int]]:
    """Claim due timers for this worker; returns the claim token and the claimed ids."""
    now = now or clock.now()
    token = uuid.uuid4().hex
    table = Timer._meta.db_table
    until = now + dt.timedelta(seconds=lease_seconds)
    free = "done_at IS NULL AND fire_at <= %s AND (claimed_until IS NULL OR claimed_until < %s)"
    if is_postgres():
        sql = (
            f"UPDATE {table} SET claim_token = %s, claimed_until = %s WHERE id IN ("
            f"SELECT id FROM {table} WHERE {free} ORDER BY fire_at LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id"
        )
        params: list[Any] = [token, _db_time(until), _db_time(now), _db_time(now), limit]
    else:
        # Compare-and-set: the outer WHERE repeats the condition, so a row another worker claimed between
        # the inner SELECT and the UPDATE is not taken (SQLite also serialises writers).
        sql = (
            f"UPDATE {table} SET claim_token = %s, claimed_until = %s WHERE id IN ("
            f"SELECT id FROM {table} WHERE {free} ORDER BY fire_at LIMIT %s) AND {free} RETURNING id"
        )
        params = [token, _db_time(until), _db_time(now), _db_time(now), limit, _db_time(now), _db_time(now)]
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    return token, ids


# --- 2. firing -------------------------------------------------------------------------------------


_FIELDS = (
    "id",
    "level",
    "fire_at",
    "clock_id",
    "clock__stage",
    "clock__due_at",
    "clock__stopped_at",
    "clock__ticket_id",
    "clock__work_order_id",
    "clock__work_order__agency_id",
    "clock__work_order__state",
    "clock__ticket__state",
)


def _insert_escalations(rows: list[tuple[Any, ...]]) -> list[tuple[int, int, str]]:
    """Insert (clock, work_order, ticket, agency, stage, level, due_at, fired_at) rows; skip ones that exist."""
    table = Escalation._meta.db_table
    created: list[tuple[int, int, str]] = []
    chunk = 1000
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(part))
            params = [
                value
                for clock_id, wo_id, ticket_id, agency_id, stage, level, due_at, fired_at in part
                for value in (clock_id, wo_id, ticket_id, agency_id, stage, level, _db_time(due_at), _db_time(fired_at))
            ]
            cursor.execute(
                f"INSERT INTO {table} (clock_id, work_order_id, ticket_id, agency_id, stage, level, due_at, fired_at) "
                f"VALUES {values} ON CONFLICT (clock_id, level) DO NOTHING RETURNING id, clock_id, level",
                params,
            )
            created.extend((row[0], row[1], row[2]) for row in cursor.fetchall())
    return created


def do_fire_timers(token: str, timer_ids: list[int], *, now: dt.datetime | None = None) -> FireResult:
    """Fire the timers this worker claimed under ``token`` (the escalation action)."""
    result = FireResult(claimed=len(timer_ids))
    if not timer_ids:
        return result
    with transaction.atomic(durable=True):
        now = now or clock.now()
        query = Timer.objects.filter(pk__in=timer_ids, claim_token=token, done_at__isnull=True)
        if is_postgres():
            query = query.select_for_update(of=("self",))
        rows = list(query.values_list(*_FIELDS))
        fire: list[tuple[Any, ...]] = []
        cancel: list[tuple[Any, ...]] = []
        for row in rows:
            stopped_at, fire_at = row[6], row[2]
            # A clock stopped before the timer fell due never escalates; one stopped later was late for real.
            (cancel if stopped_at is not None and stopped_at <= fire_at else fire).append(row)
        if cancel:
            Timer.objects.filter(pk__in=[r[0] for r in cancel]).update(done_at=now, outcome=TimerOutcome.CANCELLED)
        if fire:
            Timer.objects.filter(pk__in=[r[0] for r in fire]).update(done_at=now, outcome=TimerOutcome.FIRED)
        result.cancelled = len(cancel)
        if fire:
            _escalate(fire, now, result)
    return result


#: Stages an agency answers for; review and revisit are the centre's own work (no agency is blamed).
AGENCY_STAGES = frozenset({Stage.SIGN, Stage.HANDLE})


def _escalate(rows: list[tuple[Any, ...]], now: dt.datetime, result: FireResult) -> None:
    # The agency of a row is the one answerable for the stage (None for the centre's stages).
    rows = [r if r[4] in AGENCY_STAGES else (*r[:9], None, *r[10:]) for r in rows]
    by_clock_level = {(r[3], r[1]): r for r in rows}
    created = _insert_escalations(
        [(r[3], r[8], r[7], r[9], r[4], r[1], r[5] or r[2], now) for r in by_clock_level.values()]
    )
    if not created:
        return
    fired = [(esc_id, by_clock_level[(clock_id, level)]) for esc_id, clock_id, level in created]
    cases = _open_supervision_cases([(esc_id, r) for esc_id, r in fired if r[1] == EscalationLevel.SERIOUS], now)
    serious_errors = _arm_red_cards([r for _id, r in fired if r[1] == EscalationLevel.OVERDUE])

    timeline = []
    events: list[tuple[dict[str, Any], int | None, Iterable[int]]] = []
    for esc_id, r in fired:
        _timer, level, fire_at, clock_id, stage, due_at, _stopped, ticket_id, wo_id, agency_id, wo_state, tk_state = r
        state = wo_state if wo_id is not None else tk_state
        data: dict[str, Any] = {
            "escalation_id": esc_id,
            "stage": stage,
            "level": level,
            "due_at": (due_at or fire_at).isoformat(),
        }
        if clock_id in serious_errors:
            data["serious_error"] = serious_errors[clock_id]
        if esc_id in cases:
            data["supervision_case_id"] = cases[esc_id]
        timeline.append(
            TimelineEntry(
                ticket_id=ticket_id,
                work_order_id=wo_id,
                machine="work_order" if wo_id is not None else "ticket",
                action=_TIMELINE_ACTION[EscalationLevel(level)],
                from_state=state,
                to_state=state,
                data=data,
                created_at=now,
            )
        )
        events.append(
            (
                {
                    "escalation_id": esc_id,
                    "clock_id": clock_id,
                    "work_order_id": wo_id,
                    "ticket_id": ticket_id,
                    "agency_id": agency_id,
                    "stage": stage,
                    "level": level,
                    "due_at": data["due_at"],
                    "fired_at": now.isoformat(),
                    "supervision_case_id": cases.get(esc_id),
                },
                ticket_id,
                [agency_id] if agency_id is not None else [],
            )
        )
        result.by_level[level] = result.by_level.get(level, 0) + 1
        result.escalation_ids.append(esc_id)
    TimelineEntry.objects.bulk_create(timeline, batch_size=1000)
    append_events("work_order.escalated", events)
    result.fired += len(fired)


def _open_supervision_cases(fired: list[tuple[int, tuple[Any, ...]]], now: dt.datetime) -> dict[int, int]:
    """Red cards open a supervision case (督办) and list the agency for reprimand; escalation id -> case id."""
    fired = [(esc_id, r) for esc_id, r in fired if r[8] is not None and r[9] is not None]
    if not fired:
        return {}
    work_order_ids = {r[8] for _e, r in fired}
    open_cases = dict(
        SupervisionCase.objects.filter(work_order_id__in=work_order_ids, state=SupervisionState.OPEN).values_list(
            "work_order_id", "id"
        )
    )
    instruction = _("Seriously overdue at the %(stage)s stage (deadline %(due)s): answer in writing.")
    new_cases = []
    for _esc_id, r in fired:
        if r[8] not in open_cases:
            local_due = (r[5] or r[2]).astimezone(local_zone())
            new_cases.append(
                SupervisionCase(
                    work_order_id=r[8],
                    instruction=instruction
                    % {"stage": str(Stage(r[4]).label), "due": local_due.isoformat(timespec="minutes")},
                    opened_at=now,
                )
            )
            open_cases[r[8]] = -1
    for case in SupervisionCase.objects.bulk_create(new_cases):
        open_cases[case.work_order_id] = case.pk
    mapping = {esc_id: open_cases[r[8]] for esc_id, r in fired}
    escalations = list(Escalation.objects.filter(pk__in=list(mapping)))
    for escalation in escalations:
        escalation.supervision_case_id = mapping[escalation.pk]
    Escalation.objects.bulk_update(escalations, ["supervision_case"])
    Reprimand.objects.bulk_create(
        [
            Reprimand(agency_id=r[9], escalation_id=esc_id, work_order_id=r[8], listed_at=now)
            for esc_id, r in fired
            if r[9] is not None
        ]
    )
    return mapping


def _arm_red_cards(overdue: list[tuple[Any, ...]]) -> dict[int, str]:
    """A yellow card arms the red card N working days after the deadline; returns clocks that could not be."""
    if EscalationLevel.SERIOUS not in levels():
        return {}
    timers, errors = [], {}
    for r in overdue:
        if r[9] is None:  # the centre's own stages (review, revisit) have no agency to supervise
            continue
        try:
            fire_at = serious_at(r[5] or r[2])
        except CalendarYearUnknown:
            errors[r[3]] = CalendarYearUnknown.code
            continue
        stopped_at = r[6]
        if stopped_at is not None and stopped_at <= fire_at:
            continue  # the stage ended late but before it became seriously late
        timers.append(Timer(clock_id=r[3], level=EscalationLevel.SERIOUS, fire_at=fire_at))
    Timer.objects.bulk_create(timers, batch_size=1000, ignore_conflicts=True)
    if timers:
        ring_if_soon([t.fire_at for t in timers])
    return errors


# --- running ---------------------------------------------------------------------------------------


def fire_due_timers(
    *,
    now: dt.datetime | None = None,
    batch: int = DEFAULT_BATCH,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    max_batches: int | None = None,
    after_claim: Callable[[str, list[int]], None] | None = None,
) -> FireResult:
    """Claim and fire batches until nothing is due (what run_timers and the demo loader call)."""
    total = FireResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        token, ids = claim_due_timers(limit=batch, lease_seconds=lease_seconds, now=now)
        if not ids:
            break
        if os.environ.get(EXIT_AFTER_CLAIM_ENV) == "1":
            os._exit(17)
        if after_claim is not None:
            after_claim(token, ids)
        total.add(do_fire_timers(token, ids, now=now))
        batches += 1
    return total


def next_wake_at() -> dt.datetime | None:
    """When something may next be due: the earliest unclaimed timer, or the earliest lease to expire."""
    pending = Timer.objects.filter(done_at__isnull=True)
    free = pending.filter(Q(claimed_until__isnull=True)).aggregate(at=Min("fire_at"))["at"]
    # Claimed rows were due when claimed: the due range of the partial index holds them all.
    leased = pending.filter(fire_at__lte=clock.now(), claimed_until__isnull=False).aggregate(at=Min("claimed_until"))[
        "at"
    ]
    candidates = [moment for moment in (free, leased) if moment is not None]
    return min(candidates) if candidates else None


def fire_due_until(moment: dt.datetime, *, batch: int = DEFAULT_BATCH) -> FireResult:
    """Fire everything due up to ``moment`` as a punctual worker would have: each timer at its own due time.

    The demo loader replays history with a pinned clock and calls this before each step, so escalations
    land on the timelines where they happened.
    """
    total = FireResult()
    while True:
        due = Timer.objects.filter(done_at__isnull=True, fire_at__lte=moment).aggregate(at=Min("fire_at"))["at"]
        if due is None:
            return total
        with clock.pinned_at(due):
            step = fire_due_timers(batch=batch)
        total.add(step)
        if not step.claimed:  # another worker holds them under a lease: it will fire them
            return total
