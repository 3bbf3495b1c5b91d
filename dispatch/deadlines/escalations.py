"""The escalation ladder's write path: claiming due timers and firing them (warning, yellow card, red card).

One engine for both databases, two short transactions per batch, so that a worker killed at any point loses
nothing and fires nothing twice:

1. claim_due_timers: mark up to ``limit`` due, unclaimed (or lease-expired) timers with a fresh token and a
   lease - ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (concurrent workers take different rows), a
   compare-and-set UPDATE on SQLite (which serialises writers anyway).
2. do_fire_timers: in one durable transaction, for the rows still carrying our token (locked on PostgreSQL):
   mark them done, insert Escalation rows (``ON CONFLICT (clock, level) DO NOTHING`` - the unique constraint
   is the last guard), open supervision cases and reprimands for red cards, turn each new yellow card's timer
   row into its red card's timer, and append timeline rows and one event per agency - in bulk per batch.

A worker that dies between 1 and 2 leaves claimed rows whose lease expires; another worker takes them then.
A worker whose lease expired before it fired finds its token replaced and fires nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils.translation import gettext as _

from core import clock
from core.clock import local_zone
from dispatch.deadlines.calendar import CalendarYearUnknown
from dispatch.deadlines.policies import levels, serious_at
from dispatch.deadlines.timers import is_postgres, ring_if_soon
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
from organisation.models import default_city_id
from realtime.events import EventItem, append_events

DEFAULT_BATCH = 500
DEFAULT_LEASE_SECONDS = 60.0

_TIMELINE_ACTION = {
    EscalationLevel.WARNING: "escalate_warning",
    EscalationLevel.OVERDUE: "escalate_overdue",
    EscalationLevel.SERIOUS: "escalate_serious",
}

#: Stages an agency answers for; review and revisit are the centre's own work (no agency is blamed).
AGENCY_STAGES = frozenset({Stage.SIGN, Stage.HANDLE})


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
        # the inner SELECT and the UPDATE is not taken.
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


class Due(NamedTuple):
    """A claimed timer with what firing it needs from its clock, work order and ticket."""

    timer_id: int
    level: str
    fire_at: dt.datetime
    clock_id: int
    stage: str
    due_at: dt.datetime | None
    stopped_at: dt.datetime | None
    ticket_id: int
    work_order_id: int | None
    agency_id: int | None  # the agency answerable for the stage; None for the centre's own stages
    work_order_state: str | None
    ticket_state: str
    provisional: bool
    city_id: int | None  # the ticket's city (None: the default city)

    @property
    def deadline(self) -> dt.datetime:
        return self.due_at or self.fire_at


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
    "clock__due_provisional",
    "clock__ticket__city_id",
)


def _due_rows(timer_ids: list[int], token: str) -> list[Due]:
    query = Timer.objects.filter(pk__in=timer_ids, claim_token=token, done_at__isnull=True).order_by("fire_at", "id")
    if is_postgres():
        # Held until commit: a worker that reclaimed these rows after our lease ran out waits, then finds them done.
        query = query.select_for_update(of=("self",))
    rows = [Due(*row) for row in query.values_list(*_FIELDS)]
    return [row if row.stage in AGENCY_STAGES else row._replace(agency_id=None) for row in rows]


def do_fire_timers(token: str, timer_ids: list[int], *, now: dt.datetime | None = None) -> FireResult:
    """Fire the timers this worker claimed under ``token`` (the escalation action)."""
    result = FireResult(claimed=len(timer_ids))
    if not timer_ids:
        return result
    with transaction.atomic(durable=True):
        now = now or clock.now()
        fire: list[Due] = []
        cancel: list[Due] = []
        for row in _due_rows(timer_ids, token):
            # A clock stopped before the timer fell due never escalates; one stopped later was late for real.
            (cancel if row.stopped_at is not None and row.stopped_at <= row.fire_at else fire).append(row)
        done = {"claim_token": "", "claimed_until": None, "done_at": now}
        if cancel:
            Timer.objects.filter(pk__in=[r.timer_id for r in cancel]).update(**done, outcome=TimerOutcome.CANCELLED)
        if fire:
            Timer.objects.filter(pk__in=[r.timer_id for r in fire]).update(**done, outcome=TimerOutcome.FIRED)
            _escalate(fire, now, result)
        result.cancelled += len(cancel)
    return result


def _insert_escalations(rows: list[Due], now: dt.datetime) -> list[tuple[int, int, str]]:
    """Insert one Escalation per (clock, level), skipping ones that exist; (id, clock, level) of those inserted.

    Plain SQL for ``ON CONFLICT ... DO NOTHING RETURNING``: the ORM's ignore_conflicts gives no ids back."""
    table = Escalation._meta.db_table
    created: list[tuple[int, int, str]] = []
    chunk = 1000
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(part))
            params = [
                value
                for r in part
                for value in (
                    r.clock_id,
                    r.work_order_id,
                    r.ticket_id,
                    r.agency_id,
                    r.stage,
                    r.level,
                    _db_time(r.deadline),
                    _db_time(now),
                )
            ]
            cursor.execute(
                f"INSERT INTO {table} (clock_id, work_order_id, ticket_id, agency_id, stage, level, due_at, fired_at) "
                f"VALUES {values} ON CONFLICT (clock_id, level) DO NOTHING RETURNING id, clock_id, level",
                params,
            )
            created.extend((row[0], row[1], row[2]) for row in cursor.fetchall())
    return created


def _escalate(rows: list[Due], now: dt.datetime, result: FireResult) -> None:
    by_clock_level = {(r.clock_id, r.level): r for r in rows}
    created = _insert_escalations(list(by_clock_level.values()), now)
    if not created:
        return
    fired = [(esc_id, by_clock_level[(clock_id, level)]) for esc_id, clock_id, level in created]
    cases = _open_supervision_cases([(esc_id, r) for esc_id, r in fired if r.level == EscalationLevel.SERIOUS], now)
    serious_errors = _arm_red_cards([r for _id, r in fired if r.level == EscalationLevel.OVERDUE])

    timeline = []
    default_city = default_city_id()
    per_agency: dict[tuple[int | None, int | None], list[dict[str, Any]]] = {}
    for esc_id, r in fired:
        state = r.work_order_state or r.ticket_state
        data: dict[str, Any] = {
            "escalation_id": esc_id,
            "stage": r.stage,
            "level": r.level,
            "due_at": r.deadline.isoformat(),
        }
        if r.clock_id in serious_errors:
            data["serious_error"] = serious_errors[r.clock_id]
        if esc_id in cases:
            data["supervision_case_id"] = cases[esc_id]
        timeline.append(
            TimelineEntry(
                ticket_id=r.ticket_id,
                work_order_id=r.work_order_id,
                machine="work_order" if r.work_order_id is not None else "ticket",
                action=_TIMELINE_ACTION[EscalationLevel(r.level)],
                from_state=state,
                to_state=state,
                data=data,
                created_at=now,
            )
        )
        per_agency.setdefault((r.agency_id, r.city_id or default_city), []).append(
            {
                "escalation_id": esc_id,
                "clock_id": r.clock_id,
                "work_order_id": r.work_order_id,
                "ticket_id": r.ticket_id,
                "stage": r.stage,
                "level": r.level,
                "due_at": data["due_at"],
                "provisional": r.provisional,
                "supervision_case_id": cases.get(esc_id),
            }
        )
        result.by_level[r.level] = result.by_level.get(r.level, 0) + 1
        result.escalation_ids.append(esc_id)
    TimelineEntry.objects.bulk_create(timeline, batch_size=1000)
    append_events("work_order.escalated", escalation_events(per_agency, now))
    result.fired += len(fired)


def escalation_events(
    per_agency: dict[tuple[int | None, int | None], list[dict[str, Any]]], fired_at: dt.datetime
) -> list[EventItem]:
    """One ``work_order.escalated`` event per agency and city (the tickets' city: that city's centre sees it), in
    the order of each group's first escalation; the event names the ticket when all its escalations share one."""
    events: list[EventItem] = []
    for (agency_id, city_id), items in sorted(per_agency.items(), key=lambda pair: pair[1][0]["escalation_id"]):
        tickets = {item["ticket_id"] for item in items}
        payload: dict[str, Any] = {"agency_id": agency_id, "fired_at": fired_at.isoformat(), "escalations": items}
        ticket_id = next(iter(tickets)) if len(tickets) == 1 else None
        events.append((payload, ticket_id, [agency_id] if agency_id is not None else [], city_id))
    return events


def _open_supervision_cases(fired: list[tuple[int, Due]], now: dt.datetime) -> dict[int, int]:
    """Red cards open a supervision case (督办) and list the agency for reprimand; escalation id -> case id."""
    # (escalation id, work order, agency, row) of the red cards an agency answers for
    cards = [
        (esc_id, r.work_order_id, r.agency_id, r)
        for esc_id, r in fired
        if r.work_order_id is not None and r.agency_id is not None
    ]
    if not cards:
        return {}
    open_cases = dict(
        SupervisionCase.objects.filter(
            work_order_id__in={wo for _e, wo, _a, _r in cards}, state=SupervisionState.OPEN
        ).values_list("work_order_id", "id")
    )
    instruction = _("Seriously overdue at the %(stage)s stage (deadline %(due)s): answer in writing.")
    new_cases = []
    for _esc_id, work_order_id, _agency_id, r in cards:
        if work_order_id not in open_cases:
            local_due = r.deadline.astimezone(local_zone())
            new_cases.append(
                SupervisionCase(
                    work_order_id=work_order_id,
                    instruction=instruction
                    % {"stage": str(Stage(r.stage).label), "due": local_due.strftime("%Y-%m-%d %H:%M")},
                    opened_at=now,
                )
            )
            open_cases[work_order_id] = -1
    for case in SupervisionCase.objects.bulk_create(new_cases):
        open_cases[case.work_order_id] = case.pk
    mapping = {esc_id: open_cases[work_order_id] for esc_id, work_order_id, _a, _r in cards}
    escalations = list(Escalation.objects.filter(pk__in=list(mapping)))
    for escalation in escalations:
        escalation.supervision_case_id = mapping[escalation.pk]
    Escalation.objects.bulk_update(escalations, ["supervision_case"])
    Reprimand.objects.bulk_create(
        [
            Reprimand(agency_id=agency_id, escalation_id=esc_id, work_order_id=work_order_id, listed_at=now)
            for esc_id, work_order_id, agency_id, _r in cards
        ]
    )
    return mapping


def _arm_red_cards(overdue: list[Due]) -> dict[int, str]:
    """A yellow card arms the red card N working days after the deadline; returns clocks that could not be."""
    if not overdue or EscalationLevel.SERIOUS not in levels():
        return {}
    red_at: dict[dt.datetime, dt.datetime | None] = {}  # deadline -> red-card time; a batch shares few deadlines
    clocks_at: dict[dt.datetime, list[int]] = {}
    errors = {}
    for r in overdue:
        if r.agency_id is None:  # the centre's own stages (review, revisit) have no agency to supervise
            continue
        if r.deadline not in red_at:
            try:
                red_at[r.deadline] = serious_at(r.deadline)
            except CalendarYearUnknown:
                red_at[r.deadline] = None
        fire_at = red_at[r.deadline]
        if fire_at is None:
            errors[r.clock_id] = CalendarYearUnknown.code
        elif r.stopped_at is None or r.stopped_at > fire_at:  # a stage that ended before it became seriously late
            clocks_at.setdefault(fire_at, []).append(r.clock_id)
    # The yellow card's own timer row becomes the red card's timer, one statement per red-card time; a clock
    # that has a red-card timer already (none should) keeps it.
    armed = set(
        Timer.objects.filter(
            clock_id__in=[c for clocks in clocks_at.values() for c in clocks], level=EscalationLevel.SERIOUS
        ).values_list("clock_id", flat=True)
    )
    for fire_at, clock_ids in clocks_at.items():
        Timer.objects.filter(clock_id__in=set(clock_ids) - armed, level=EscalationLevel.OVERDUE).update(
            level=EscalationLevel.SERIOUS, fire_at=fire_at, done_at=None, outcome="", claim_token="", claimed_until=None
        )
    ring_if_soon(clocks_at)
    return errors


# --- running ---------------------------------------------------------------------------------------


def fire_due_timers(
    *,
    now: dt.datetime | None = None,
    batch: int = DEFAULT_BATCH,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    max_batches: int | None = None,
) -> FireResult:
    """Claim and fire batches until nothing is due (what run_timers and the demo loader call)."""
    total = FireResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        token, ids = claim_due_timers(limit=batch, lease_seconds=lease_seconds, now=now)
        if not ids:
            break
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
