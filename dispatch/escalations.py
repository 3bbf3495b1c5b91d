"""The escalation ladder's write path: claiming due timers and firing them (warning, yellow card, red card).

On PostgreSQL the worker locks and fires a batch in one transaction (do_fire_due_locked: the row lock is the
claim). Elsewhere - SQLite, and callers of claim_due_timers - two short transactions per batch, so that a
worker killed at any point loses nothing and fires nothing twice:

1. claim_due_timers: mark up to ``limit`` due, unclaimed (or lease-expired) timers with a fresh token and
   a lease - ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, a compare-and-set UPDATE on SQLite.
2. do_fire_timers: for the rows still carrying our token, in one durable transaction: mark them done,
   insert Escalation rows (``ON CONFLICT (clock, level) DO NOTHING`` - the unique constraint is the last
   guard), open supervision cases and reprimands for red cards, turn each new yellow card's timer row into
   its red card's timer, and append timeline rows and events - all in bulk, one statement per table per batch.

A worker that dies between 1 and 2 leaves claimed rows whose lease expires; another worker takes them.
A worker whose lease expired before it fired finds its token replaced and fires nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Min, Q
from django.utils.translation import gettext as _

from callcenter.models import Ticket
from dispatch import clock
from dispatch.calendar import CalendarYearUnknown, day_shift, local_zone
from dispatch.calendar import data as calendar_data
from dispatch.deadlines import escalation_settings, levels, serious_at
from dispatch.models import (
    Escalation,
    EscalationLevel,
    Reprimand,
    Stage,
    StageClock,
    SupervisionCase,
    SupervisionState,
    TimelineEntry,
    Timer,
    TimerOutcome,
    WorkOrder,
)
from dispatch.timers import is_postgres, ring_if_soon
from realtime.events import append_events, ring_after_commit
from realtime.models import Event, EventAgency
from realtime.schemas import validate_payload

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 500  # the best of 250, 500, 1000 and 2500 in benchmarks/timers.py
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
    "clock__due_provisional",
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
            serious_left = _fire_set_based(token, timer_ids, now, result)
            if not serious_left:
                return result
            # Red cards open supervision cases with translated text: the row-by-row path below.
            query = query.filter(level=EscalationLevel.SERIOUS).select_for_update(of=("self",))
        rows = list(query.values_list(*_FIELDS))
        _fire_rows(rows, now, result)
    return result


def _fire_rows(rows: list[tuple[Any, ...]], now: dt.datetime, result: FireResult) -> None:
    """The row-by-row path: SQLite, and red cards everywhere (rows already held by this transaction)."""
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
    result.cancelled += len(cancel)
    if fire:
        _escalate(fire, now, result)


#: Stages an agency answers for; review and revisit are the centre's own work (no agency is blamed).
AGENCY_STAGES = frozenset({Stage.SIGN, Stage.HANDLE})


def _iso_sql(column: str) -> str:
    """SQL rendering a timestamptz exactly as Python's isoformat() renders the UTC datetime Django reads."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN extract(microseconds FROM {column})::bigint "
        f"%% 1000000 <> 0 THEN to_char({utc}, '.US') ELSE '' END || '+00:00'"
    )


def _fire_set_based(token: str, timer_ids: list[int], now: dt.datetime, result: FireResult) -> int:
    """Warnings and yellow cards of a batch in one PostgreSQL statement: timers marked, escalations, timeline
    rows, events and their audience rows inserted set-based (no per-row Python on the hot path).

    Same rules as the row-by-row path (_escalate), which SQLite uses and red cards use everywhere; the tests
    run both. The event payloads are built here to the ``work_order.escalated`` schema; one per batch is read
    back and validated against it.
    """
    params: dict[str, Any] = {
        "ids": list(timer_ids),
        "token": token,
        "now": now,
        "fired_iso": now.isoformat(),
        **red_card_shifts(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(_set_based_sql("token", guarded=True), params)
        out = cursor.fetchall()
    _after_set_based(out, result)
    return sum(1 for row in out if row[0] == "serious")


def do_fire_due_locked(*, limit: int = DEFAULT_BATCH, now: dt.datetime | None = None) -> FireResult:
    """PostgreSQL: lock the earliest due timers nobody else holds (``FOR UPDATE SKIP LOCKED``) and fire them in
    the same transaction. The lock is the claim: a worker killed at any point releases it with its connection,
    and another worker takes the rows at once; nothing is written before the commit."""
    try:
        return _fire_due_locked(limit, now, guarded=False)
    except IntegrityError:
        # A yellow card's timer row could not become its red card's: the clock has a red-card timer already,
        # which nothing should create. The batch again, checking each clock first, so it cannot stop the worker.
        return _fire_due_locked(limit, now, guarded=True)


def _fire_due_locked(limit: int, now: dt.datetime | None, *, guarded: bool) -> FireResult:
    result = FireResult()
    with transaction.atomic(durable=True):
        now = now or clock.now()
        params: dict[str, Any] = {"limit": limit, "now": now, "fired_iso": now.isoformat(), **red_card_shifts(now)}
        with connection.cursor() as cursor:
            if settings.HOTLINE.get("TIMER_ASYNC_COMMIT"):
                # Safe for exactly-once: timers and their escalations commit (or are lost) together.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            # Walk the pending index in deadline order and stop at the batch size. Left to itself, the planner
            # may collect every due timer with a bitmap scan and sort them, per batch: with a backlog of
            # 100,000 due timers, that is most of the work, and the batches of concurrent workers collide.
            cursor.execute("SET LOCAL enable_bitmapscan TO off")
            cursor.execute(_set_based_sql("lock", guarded=guarded), params)
            out = cursor.fetchall()
        if os.environ.get(EXIT_AFTER_CLAIM_ENV) == "1":
            os._exit(17)  # the test hook: killed with the batch locked and fired but not committed
        result.claimed = sum(int(row[1]) for row in out if row[0] == "locked")
        _after_set_based(out, result)
        serious = [int(row[1]) for row in out if row[0] == "serious"]
        if serious:
            rows = list(Timer.objects.filter(pk__in=serious).values_list(*_FIELDS))
            _fire_rows(rows, now, result)
    return result


#: How the set-based statement picks its batch: the timers a claim token holds (SQLite-style claims, tests),
#: or - the PostgreSQL worker - the earliest due timers nobody else has locked, locked by this transaction.
BY_TOKEN = """t.id = ANY(%(ids)s) AND t.claim_token = %(token)s AND t.done_at IS NULL"""
BY_LOCK = """t.done_at IS NULL AND t.fire_at <= %(now)s AND (t.claimed_until IS NULL OR t.claimed_until < %(now)s)"""


@functools.cache
def _set_based_sql(mode: str = "token", *, guarded: bool = True) -> str:
    timer, clock_table = Timer._meta.db_table, StageClock._meta.db_table
    work_order, ticket = WorkOrder._meta.db_table, Ticket._meta.db_table
    escalation, timeline = Escalation._meta.db_table, TimelineEntry._meta.db_table
    event, audience = Event._meta.db_table, EventAgency._meta.db_table
    agency_stages = ", ".join(f"'{stage}'" for stage in sorted(AGENCY_STAGES))
    sequence = f"{escalation}_id_seq"
    red_card_guard = (
        f"AND NOT EXISTS (SELECT 1 FROM {timer} s WHERE s.clock_id = d.clock_id AND s.level = 'serious')"
        if guarded
        else ""
    )
    sql = f"""
    WITH picked AS (
        -- The timers alone first: joined before the LIMIT, every due row of a backlog would be joined per batch.
        SELECT t.id, t.level, t.fire_at, t.clock_id FROM {timer} t
        WHERE {BY_TOKEN if mode == "token" else BY_LOCK}
        {"AND t.level IN ('warning', 'overdue')" if mode == "token" else ""}
        {"FOR UPDATE" if mode == "token" else "ORDER BY t.fire_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"}
    ), locked AS (
        SELECT t.id, t.level, t.fire_at, c.id AS clock_id, c.stage, COALESCE(c.due_at, t.fire_at) AS due_at,
               c.stopped_at, c.ticket_id, c.work_order_id, c.due_provisional,
               CASE WHEN c.stage IN ({agency_stages}) THEN w.agency_id END AS agency_id,
               -- The ticket is read only for the centre's own clocks, which have no work order.
               COALESCE(w.state, (SELECT k.state FROM {ticket} k WHERE k.id = c.ticket_id)) AS state,
               (c.stopped_at IS NOT NULL AND c.stopped_at <= t.fire_at) AS stopped_before
        FROM picked t
        JOIN {clock_table} c ON c.id = t.clock_id
        LEFT JOIN {work_order} w ON w.id = c.work_order_id
    ), shifts AS (
        SELECT * FROM unnest(%(shift_days)s::date[], %(shift_targets)s::date[], %(shift_fixed)s::timestamptz[])
            AS s(day, target_day, fixed_at)
    ), due AS (
        -- The escalation's id is drawn here, so that the rows below need not be joined back to the insert's.
        SELECT l.*, CASE WHEN NOT l.stopped_before THEN nextval('{sequence}') END AS escalation_id,
               {_iso_sql("l.due_at")} AS due_iso,
               -- When the yellow card's red card falls due (red_card_shifts); null: Python works it out.
               CASE WHEN l.level = 'overdue' AND l.agency_id IS NOT NULL AND %(arm_red)s THEN (
                   SELECT CASE WHEN s.target_day IS NOT NULL AND (l.due_at AT TIME ZONE %(zone)s)::time <> '00:00'
                               THEN (s.target_day + (l.due_at AT TIME ZONE %(zone)s)::time) AT TIME ZONE %(zone)s
                               ELSE s.fixed_at END
                   FROM shifts s WHERE s.day = (l.due_at AT TIME ZONE %(zone)s)::date)
               END AS red_at
        -- Ids in deadline order: the joins above need not keep the batch's order.
        FROM (SELECT * FROM locked WHERE level IN ('warning', 'overdue') ORDER BY fire_at, id) l
    ), esc AS (
        INSERT INTO {escalation} (id, clock_id, work_order_id, ticket_id, agency_id, stage, level, due_at, fired_at)
        SELECT d.escalation_id, d.clock_id, d.work_order_id, d.ticket_id, d.agency_id, d.stage, d.level, d.due_at,
               %(now)s
        FROM due d WHERE d.escalation_id IS NOT NULL ORDER BY d.escalation_id
        ON CONFLICT (clock_id, level) DO NOTHING
        RETURNING id
    ), fired_rows AS (
        -- An array rather than a join: the planner takes both sides for one row and would compare every pair.
        SELECT d.* FROM due d WHERE d.escalation_id = ANY(ARRAY(SELECT id FROM esc))
    ), marked AS (
        -- A yellow card's timer row becomes its red card's timer (one row updated, not one more inserted);
        -- every other picked warning or yellow card is done.
        UPDATE {timer} t SET
            level = CASE WHEN a.red_at IS NOT NULL THEN 'serious' ELSE t.level END,
            fire_at = COALESCE(a.red_at, t.fire_at),
            done_at = CASE WHEN a.red_at IS NOT NULL THEN NULL ELSE %(now)s END,
            outcome = CASE WHEN a.red_at IS NOT NULL THEN '' WHEN a.stopped_before THEN 'cancelled' ELSE 'fired' END,
            claim_token = '', claimed_until = NULL
        FROM (
            SELECT d.id, d.stopped_before,
                   CASE WHEN d.red_at IS NOT NULL AND (d.stopped_at IS NULL OR d.stopped_at > d.red_at)
                             AND d.escalation_id = ANY(ARRAY(SELECT id FROM esc))
                             {red_card_guard}
                        THEN d.red_at END AS red_at
            FROM due d
            OFFSET 0  -- kept a subquery: pulled up, the CASE would be worked out once per column set
        ) a
        WHERE t.id = a.id
        RETURNING t.id, t.outcome, t.level, t.fire_at
    ), steps AS (
        INSERT INTO {timeline} (ticket_id, work_order_id, machine, action, from_state, to_state, actor_id,
                                actor_agency_id, note, data, created_at)
        SELECT r.ticket_id, r.work_order_id, CASE WHEN r.work_order_id IS NULL THEN 'ticket' ELSE 'work_order' END,
               'escalate_' || r.level, r.state, r.state, NULL, NULL, '',
               jsonb_build_object('escalation_id', r.escalation_id, 'stage', r.stage, 'level', r.level,
                                  'due_at', r.due_iso),
               %(now)s
        FROM fired_rows r ORDER BY r.escalation_id
        RETURNING id
    ), per_agency AS (
        SELECT r.agency_id, min(r.escalation_id) AS first_id, min(r.ticket_id) AS ticket_id,
               min(r.ticket_id) = max(r.ticket_id) AS one_ticket,
               json_agg(json_build_object('escalation_id', r.escalation_id, 'clock_id', r.clock_id,
                                            'work_order_id', r.work_order_id, 'ticket_id', r.ticket_id,
                                            'stage', r.stage, 'level', r.level, 'due_at', r.due_iso,
                                            'provisional', r.due_provisional,
                                            'supervision_case_id', NULL) ORDER BY r.escalation_id) AS items
        FROM fired_rows r GROUP BY r.agency_id
    ), events AS (
        INSERT INTO {event} (type, payload, agency_ids, ticket_id, created_at)
        SELECT 'work_order.escalated',
               -- Built as json and cast once: cheaper than jsonb at every level.
               json_build_object('agency_id', g.agency_id, 'fired_at', %(fired_iso)s::text,
                                 'escalations', g.items)::jsonb,
               CASE WHEN g.agency_id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(g.agency_id) END,
               CASE WHEN g.one_ticket THEN g.ticket_id END, %(now)s
        FROM per_agency g ORDER BY g.first_id
        RETURNING id, agency_ids
    ), audiences AS (
        INSERT INTO {audience} (event_id, agency_id)
        SELECT ev.id, (ev.agency_ids ->> 0)::bigint FROM events ev WHERE jsonb_array_length(ev.agency_ids) > 0
        RETURNING 1
    )
    SELECT 'fired', count(*), NULL, r.level, NULL, NULL, NULL, NULL, array_agg(r.escalation_id ORDER BY r.escalation_id)
    FROM fired_rows r GROUP BY r.level
    -- Row by row only the yellow cards whose red card the statement could not place (the Python path's work).
    UNION ALL SELECT 'escalation', r.escalation_id, r.clock_id, r.level, extract(epoch FROM r.due_at)::float8,
           extract(epoch FROM r.stopped_at)::float8, r.agency_id, r.work_order_id, NULL
    FROM fired_rows r WHERE r.level = 'overdue' AND r.red_at IS NULL
    UNION ALL SELECT 'event', ev.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM events ev
    UNION ALL SELECT 'cancelled', m.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM marked m WHERE m.outcome = 'cancelled'
    UNION ALL SELECT 'steps', count(*), NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM steps
    UNION ALL SELECT 'audiences', count(*), NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM audiences
    UNION ALL SELECT 'serious', l.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM locked l WHERE l.level = 'serious'
    UNION ALL SELECT 'locked', count(*), NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM locked
    UNION ALL SELECT 'red_first', NULL, NULL, NULL, extract(epoch FROM min(m.fire_at))::float8, NULL, NULL, NULL, NULL
    FROM marked m WHERE m.level = 'serious'
    """
    # One line: psycopg caches the conversion of statements up to 4 KiB, and this one runs per batch.
    return " ".join(line.split("--")[0].strip() for line in sql.splitlines() if line.split("--")[0].strip())


def _after_set_based(out: list[tuple[Any, ...]], result: FireResult) -> None:
    timeline = TimelineEntry._meta.db_table
    by_level = [row for row in out if row[0] == "fired"]
    fired = [row for row in out if row[0] == "escalation"]
    event_ids = [row[1] for row in out if row[0] == "event"]
    result.cancelled += sum(1 for row in out if row[0] == "cancelled")
    if not by_level:
        return
    if event_ids:
        # One payload per batch is read back and checked against the schema: the statement built it.
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT payload FROM {Event._meta.db_table} WHERE id = %s", [event_ids[0]])
            (payload,) = cursor.fetchone()
        validate_payload("work_order.escalated", payload if isinstance(payload, dict) else json.loads(payload))
        ring_after_commit()

    # Epoch seconds from the statement: cheaper than a timestamptz per row through the driver.
    def moment(epoch: float | None) -> dt.datetime | None:
        return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)

    red_first = next((row[4] for row in out if row[0] == "red_first" and row[4] is not None), None)
    if red_first is not None:
        ring_if_soon([dt.datetime.fromtimestamp(red_first, dt.UTC)])
    # Red cards of yellow cards whose deadline the statement's shift table did not cover (a backlog older
    # than it, a year the calendar does not know): the Python path, which also records the error.
    overdue = [
        (None, "overdue", None, clock_id, None, moment(due_at), moment(stopped_at), None, wo_id, agency_id)
        for _kind, _id, clock_id, _level, due_at, stopped_at, agency_id, wo_id, _ids in fired
    ]
    errors = _arm_red_cards(overdue)
    if errors:
        # Rare (the year after the deadline is unpublished): say so on the yellow card's timeline row, which
        # this transaction has just written.
        with connection.cursor() as cursor:
            for clock_id, code in errors.items():
                cursor.execute(
                    f"UPDATE {timeline} SET data = data || jsonb_build_object('serious_error', %s::text) "
                    f"WHERE action = 'escalate_overdue' AND (data ->> 'escalation_id')::bigint = ANY(%s)",
                    [code, [r[1] for r in fired if r[2] == clock_id]],
                )
    for _kind, number, _clock, level, *_rest, ids in by_level:
        result.by_level[level] = result.by_level.get(level, 0) + int(number)
        result.escalation_ids.extend(ids)
        result.fired += int(number)


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
    per_agency: dict[int | None, list[dict[str, Any]]] = {}
    for esc_id, r in fired:
        _timer, level, fire_at, clock_id, stage, due_at, _stopped, ticket_id, wo_id, agency_id, wo_state, tk_state = r[
            :12
        ]
        provisional = bool(r[12])
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
        per_agency.setdefault(agency_id, []).append(
            {
                "escalation_id": esc_id,
                "clock_id": clock_id,
                "work_order_id": wo_id,
                "ticket_id": ticket_id,
                "stage": stage,
                "level": level,
                "due_at": data["due_at"],
                "provisional": provisional,
                "supervision_case_id": cases.get(esc_id),
            }
        )
        result.by_level[level] = result.by_level.get(level, 0) + 1
        result.escalation_ids.append(esc_id)
    TimelineEntry.objects.bulk_create(timeline, batch_size=1000)
    append_events("work_order.escalated", escalation_events(per_agency, now))
    result.fired += len(fired)


def escalation_events(
    per_agency: dict[int | None, list[dict[str, Any]]], fired_at: dt.datetime
) -> list[tuple[dict[str, Any], int | None, Iterable[int]]]:
    """One ``work_order.escalated`` event per agency, in the order of each agency's first escalation (as the
    set-based statement orders them); the event names the ticket when all its escalations share one."""
    events: list[tuple[dict[str, Any], int | None, Iterable[int]]] = []
    for agency_id, items in sorted(per_agency.items(), key=lambda pair: pair[1][0]["escalation_id"]):
        tickets = {item["ticket_id"] for item in items}
        payload: dict[str, Any] = {"agency_id": agency_id, "fired_at": fired_at.isoformat(), "escalations": items}
        ticket_id = next(iter(tickets)) if len(tickets) == 1 else None
        events.append((payload, ticket_id, [agency_id] if agency_id is not None else []))
    return events


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


#: Local dates before today that the statement's shift table covers: deadlines a worker fires late by more
#: than this (a long outage) take the Python path.
SHIFT_DAYS_BACK = 7
#: The last table worked out: (its key, the calendar it came from, the parameters). The calendar is held,
#: not its id(): a new calendar after a change could reuse a freed object's id.
_shift_table: list[Any] = [None, None, None]


def red_card_shifts(now: dt.datetime) -> dict[str, Any]:
    """Statement parameters telling PostgreSQL when the red card of a yellow card falls due, for deadlines on the
    local dates around ``now``: per date the date N working days later (a deadline inside a working day keeps its
    time of day) and the fixed moment for a deadline at midnight or on a rest day - the rule of
    ``calendar.after_working_days``, worked out once per date instead of once per yellow card.

    A date whose answer the calendar does not know (an unpublished year) is left out, and so is everything
    when the ladder has no red card: those yellow cards take the Python path."""
    arm = EscalationLevel.SERIOUS in levels()
    today = now.astimezone(local_zone()).date()
    calendar = calendar_data()
    serious_days = int(escalation_settings()["serious_after_working_days"])
    key = (today, arm, serious_days)
    if _shift_table[0] == key and _shift_table[1] is calendar:
        return _shift_table[2]
    days: list[dt.date] = []
    targets: list[dt.date | None] = []
    fixed: list[dt.datetime] = []
    for back in range(-1, SHIFT_DAYS_BACK + 1) if arm else ():
        day = today - dt.timedelta(days=back)
        try:
            target, fixed_at = day_shift(day, serious_days)
        except CalendarYearUnknown:
            continue
        days.append(day)
        targets.append(target)
        fixed.append(fixed_at)
    known = {
        "shift_days": days,
        "shift_targets": targets,
        "shift_fixed": fixed,
        "zone": str(local_zone()),
        "arm_red": arm,
    }
    _shift_table[:] = [key, calendar, known]
    return known


def _arm_red_cards(overdue: list[tuple[Any, ...]]) -> dict[int, str]:
    """A yellow card arms the red card N working days after the deadline; returns clocks that could not be."""
    if not overdue or EscalationLevel.SERIOUS not in levels():
        return {}
    timers: list[tuple[int, dt.datetime]] = []
    errors = {}
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
        timers.append((r[3], fire_at))
    # The yellow card's own timer row becomes the red card's timer; a clock that has a red-card timer already
    # (none should) keeps it.
    if not timers:
        return errors
    if is_postgres():
        # One statement with two array parameters: the Python path re-arms a backlog's yellow cards.
        table = Timer._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} t SET level = %s, fire_at = u.f, done_at = NULL, outcome = '', claim_token = '', "
                f"claimed_until = NULL FROM unnest(%s::bigint[], %s::timestamptz[]) AS u(c, f) "
                f"WHERE t.clock_id = u.c AND t.level = %s AND NOT EXISTS "
                f"(SELECT 1 FROM {table} s WHERE s.clock_id = u.c AND s.level = %s)",
                [
                    EscalationLevel.SERIOUS.value,
                    [c for c, _f in timers],
                    [f for _c, f in timers],
                    EscalationLevel.OVERDUE.value,
                    EscalationLevel.SERIOUS.value,
                ],
            )
    else:
        # Three statements whatever the number (bulk_update writes one CASE per column).
        fire_at_of = dict(timers)
        armed = Timer.objects.filter(clock_id__in=fire_at_of, level=EscalationLevel.SERIOUS).values_list(
            "clock_id", flat=True
        )
        rows = list(Timer.objects.filter(clock_id__in=fire_at_of.keys() - set(armed), level=EscalationLevel.OVERDUE))
        for row in rows:
            row.level, row.fire_at, row.done_at = EscalationLevel.SERIOUS, fire_at_of[row.clock_id], None
            row.outcome, row.claim_token, row.claimed_until = "", "", None
        Timer.objects.bulk_update(
            rows, ["level", "fire_at", "done_at", "outcome", "claim_token", "claimed_until"], batch_size=1000
        )
    ring_if_soon(f for _c, f in timers)
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
        if is_postgres():
            step = do_fire_due_locked(limit=batch, now=now)
            if not step.claimed:
                break
            total.add(step)
            batches += 1
            continue
        token, ids = claim_due_timers(limit=batch, lease_seconds=lease_seconds, now=now)
        if not ids:
            break
        if os.environ.get(EXIT_AFTER_CLAIM_ENV) == "1":
            os._exit(17)
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
