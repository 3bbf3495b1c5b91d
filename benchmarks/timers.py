"""Timer benchmark: escalations fired per second through the real firing path, against a raw SQL loop.

Run from the project root (needs the PostgreSQL server binaries; scripts/services.py starts a throwaway
cluster in a temporary folder and removes it afterwards):

    .venv/bin/python benchmarks/timers.py [--work-orders 1000000] [--due 100000] [--workers 4] [--batch 500]

What it does, in one run on one database:

1. Loads ``--work-orders`` open work orders (one running sign clock and one yellow-card timer each) with
   set-based ``INSERT ... SELECT generate_series`` statements cloning one ticket/work order made through
   the real actions: 1 ticket per 10 work orders. All deadlines are days away, except ``--due`` of them,
   spread evenly over one second starting a little after the workers are up.
2. ours: ``--workers`` processes of ``manage.py run_timers`` (the real worker: it sleeps until the next
   due timer, locks batches with ``FOR UPDATE SKIP LOCKED`` and fires each in one statement through
   ``dispatch.escalations.do_fire_due_locked``: Escalation rows, timeline rows, one event per agency per
   batch with its audience row, red-card timers). The benchmark polls the pending due timers every 20 ms
   to see when the last one committed. Lag per escalation = ``fired_at - due_at`` (fired_at is stamped when
   the batch's transaction starts); the completion time bounds the lag including commit.
3. raw: the same number of processes running a plain psycopg loop on a copy of the timer table (same
   partial index, same 1,000,000 rows, ``--due`` falling due over one second): per transaction
   ``SELECT id ... ORDER BY fire_at LIMIT 500 FOR UPDATE SKIP LOCKED`` then ``UPDATE ... SET done_at =
   clock_timestamp()``. Nothing else.
4. floor: the same again, but each transaction also does what any firing path must at least do per
   escalation - insert the escalation row and its timeline row, into tables shaped and indexed like ours -
   in one statement, and nothing more (no joins, no event, no red card). Its rate and lag bound what any
   path writing those rows can reach on this machine; ours also writes the events and arms the red cards.
5. Worker memory: VmRSS of each run_timers process while idle with every timer pending, and after firing.

Targets from the issue (reported, never asserted): >= 30,000 escalations/s, >= 0.3 of raw, p99 lag <= 1 s,
memory flat.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATE = 30_000
TARGET_RATIO = 0.3
TARGET_P99_S = 1.0
RAW_BATCH = 500
AGENCIES = 100  # departments answering for the work orders (a city's order of magnitude)


PG_CHANNEL = "hotline_timers"  # dispatch.timers.PG_CHANNEL (not imported: Django is set up later)


#: What the throwaway cluster of scripts/services.py turns off to make test setup fast, turned back on by
#: ``--durable``: each commit waits for its WAL on disk, and the first change of a page after a checkpoint
#: writes the whole page to the WAL, as in production.
DURABLE_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


def start_database(folder: Path, *, durable: bool = False) -> tuple[dict[str, str], list[Any]]:
    sys.path.insert(0, str(ROOT / "scripts"))
    import services

    # Its own top-level folder: start_postgres hands it to the postgres user when run as root.
    pg_folder = tempfile.mkdtemp(prefix="timers-benchmark-pg-")
    stops: list[Any] = [lambda: shutil.rmtree(pg_folder, ignore_errors=True)]
    # A production-sized buffer cache (the default 128 MB suits a laptop): a million work orders with their
    # clocks and timers do not fit in the default, for ours and raw alike.
    settings = {"shared_buffers": "1GB", **(DURABLE_SETTINGS if durable else {})}
    url, stop = services.start_postgres(pg_folder, settings=settings)
    stops.insert(0, stop)
    env = {
        "DATABASE_URL": url,
        "HOTLINE_VAR_DIR": str(folder / "var"),
        "DJANGO_SECRET_KEY": "timers-benchmark",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    return env, stops


def setup_django(env: dict[str, str]) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH"):
        os.environ.pop(name, None)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_template() -> tuple[int, int]:
    """One ticket and work order through the real actions: the rows the bulk load clones."""
    from callcenter.actions import do_create_ticket, do_load_taxonomy
    from dispatch.actions import do_dispatch_ticket, do_upsert_agency, do_upsert_user
    from dispatch.models import WorkOrder

    do_upsert_agency(code="centre", name="12345热线", kind="centre", function="hotline")
    for i in range(AGENCIES):
        do_upsert_agency(code=f"a{i}", name=f"单位{i}", kind="department", function="urban_management")
    do_load_taxonomy(
        {
            "appeal_types": [{"code": "complaint", "name": "投诉"}],
            "subjects": [{"code": "b-urban", "name": "城乡建设", "children": [{"code": "b-garbage", "name": "垃圾"}]}],
        }
    )
    operator = do_upsert_user(username="operator", password=None, roles=["operator"], agency_code="centre")
    dispatcher = do_upsert_user(username="dispatcher", password=None, roles=["dispatcher"], agency_code="centre")
    ticket, _created = do_create_ticket(
        {
            "channel": "phone",
            "phone": "13812341234",
            "appeal_type": "complaint",
            "subject": "b-garbage",
            "urgency": "normal",
            "title": "垃圾未清运",
            "description": "小区门口垃圾堆放三天无人清运。",
            "address": "柳州市城中区文惠路12号",
        },
        actor=operator,
    )
    from dispatch.models import Agency

    do_dispatch_ticket(
        ticket.pk, actor=dispatcher, lead_agency_id=Agency.objects.get(code="a0").pk, override_reason="benchmark"
    )
    return ticket.pk, WorkOrder.objects.get(ticket=ticket).pk


def bulk_load(work_orders: int, template_ticket: int, template_wo: int) -> float:
    """Set-based clones of the template: tickets, work orders, running sign clocks, yellow-card timers."""
    from django.db import connection

    from callcenter.models import Ticket
    from dispatch.models import Agency, WorkOrder

    started = time.perf_counter()
    per_ticket = 10
    tickets = (work_orders + per_ticket - 1) // per_ticket
    agency_ids = list(Agency.objects.exclude(code="centre").order_by("id").values_list("id", flat=True))

    def clone(model: Any, overrides: dict[str, str]) -> tuple[str, str]:
        columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
        values = [overrides.get(c, f"t.{c}") for c in columns]
        return ", ".join(columns), ", ".join(values)

    with connection.cursor() as cursor:
        cols, vals = clone(Ticket, {"number": "'B' || lpad(g::text, 9, '0')"})
        cursor.execute(
            f"INSERT INTO {Ticket._meta.db_table} ({cols}) SELECT {vals} "
            f"FROM {Ticket._meta.db_table} t CROSS JOIN generate_series(1, %s) g WHERE t.id = %s",
            [tickets, template_ticket],
        )
        cols, vals = clone(
            WorkOrder,
            {
                "ticket_id": "nt.id",
                "number": "nt.number || '-' || lpad(k::text, 2, '0')",
                # The ten work orders of a ticket go to ten different agencies, and the tickets rotate through
                # all of them: a batch of due timers spans about as many agencies as a city's would.
                "agency_id": f"(ARRAY{agency_ids})[((nt.id * {per_ticket} + k) %% {len(agency_ids)}) + 1]",
                "responsibility": "CASE WHEN k = 1 THEN 'lead' ELSE 'co' END",
            },
        )
        cursor.execute(
            f"INSERT INTO {WorkOrder._meta.db_table} ({cols}) SELECT {vals} "
            f"FROM {Ticket._meta.db_table} nt CROSS JOIN generate_series(1, {per_ticket}) k "
            f"CROSS JOIN {WorkOrder._meta.db_table} t WHERE t.id = %s AND nt.number LIKE 'B%%' "
            f"ORDER BY nt.id, k LIMIT %s",
            [template_wo, work_orders],
        )
        # Deadlines days away, spread over a day; the due set is moved next to "now" later.
        cursor.execute(
            "INSERT INTO dispatch_stageclock (ticket_id, work_order_id, stage, started_at, due_at, due_error, "
            "stopped_at, stopped_by, time_limit, warn_at, policy_id) "
            "SELECT wo.ticket_id, wo.id, 'sign', now(), now() + interval '10 days' + (wo.id %% 86400) * interval "
            "'1 second', '', NULL, '', '1wd', NULL, NULL FROM dispatch_workorder wo WHERE wo.number LIKE 'B%%'",
            [],
        )
        cursor.execute(
            "INSERT INTO dispatch_timer (clock_id, level, fire_at, claim_token, claimed_until, done_at, outcome) "
            "SELECT c.id, 'overdue', c.due_at, '', NULL, NULL, '' FROM dispatch_stageclock c "
            "JOIN dispatch_workorder wo ON wo.id = c.work_order_id WHERE wo.number LIKE 'B%%'",
            [],
        )
        # As autovacuum would have long before the deadlines: visibility maps set, no vacuum during the run.
        cursor.execute("VACUUM (ANALYZE)")
    return time.perf_counter() - started


def make_due(table: str, clock_table: str | None, due: int, start: dt.datetime) -> None:
    """Move ``due`` timers (every n-th by id) to fall due evenly over one second from ``start``."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE done_at IS NULL")
        total = int(cursor.fetchone()[0])
        step = max(1, total // due)
        cursor.execute(
            f"CREATE TEMP TABLE chosen AS SELECT id, clock_id, (row_number() OVER (ORDER BY id) - 1) AS r "
            f"FROM (SELECT id, clock_id FROM {table} WHERE done_at IS NULL AND id %% %s = 0 ORDER BY id LIMIT %s) s",
            [step, due],
        )
        cursor.execute(
            f"UPDATE {table} t SET fire_at = %s + (c.r::float8 / %s) * interval '1 second' FROM chosen c "
            f"WHERE t.id = c.id",
            [start, due],
        )
        if clock_table:
            cursor.execute(
                f"UPDATE {clock_table} k SET due_at = %s + (c.r::float8 / %s) * interval '1 second' FROM chosen c "
                f"WHERE k.id = c.clock_id",
                [start, due],
            )
        cursor.execute("DROP TABLE chosen")
        for name in filter(None, (table, clock_table)):
            cursor.execute(f"VACUUM (ANALYZE) {name}")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def count(sql: str, params: list[Any] | None = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (those gone meanwhile count nothing)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds([pid]) for pid in pids}


def cpu_growth(before: dict[int, float]) -> float:
    """CPU these processes used since ``before``; one gone meanwhile (an autovacuum worker) counts what
    ``before`` saw, not minus it."""
    after = cpu_by_pid(list(before))
    return sum(max(0.0, after[pid] - seconds) for pid, seconds in before.items())


def cluster_pids() -> list[int]:
    """Every process of the benchmark's PostgreSQL cluster: its backends and its background processes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity")
        return [int(row[0]) for row in cursor.fetchall()]


def escalation_ids_drawn() -> int:
    """How many escalation ids the firing statements have drawn so far: one per escalation (an aborted batch's
    ids count too). A sequence read costs the same however many rows exist."""
    last_value, is_called = count("SELECT last_value, is_called FROM dispatch_escalation_id_seq")
    return int(last_value) if is_called else 0


def wait_until_none_pending(last_due: dt.datetime, expected_ids: int, timeout: float) -> float:
    """Poll until no timer due by ``last_due`` is pending; the wall time (epoch seconds) when none was.

    The poll must not take CPU from the workers: until the firing statements have drawn the ids of every due
    timer it reads a sequence; only then does it ask the timer table, once per poll, through a plain index
    scan (an index-only scan would revisit the heap for every fired row each time instead of marking the
    index entries dead, as the workers' own scans do)."""
    deadline = time.monotonic() + timeout
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET enable_indexonlyscan TO off")
    while time.monotonic() < deadline:
        if time.time() > last_due.timestamp() and escalation_ids_drawn() >= expected_ids:
            (left,) = count(
                "SELECT EXISTS (SELECT 1 FROM dispatch_timer WHERE done_at IS NULL AND fire_at <= %s)", [last_due]
            )
            if not left:
                return time.time()
        time.sleep(0.02)  # a measurement poll: 20 ms resolution on the completion time
    raise TimeoutError(f"timers due by {last_due} still pending after {timeout:.0f} s")


def run_ours(env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "run_timers", "--batch", str(args.batch), "--max-sleep", "120"],
            cwd=ROOT,
            env={**os.environ, **env, "HOTLINE_TIMER_ASYNC_COMMIT": "1" if args.async_commit else ""},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(args.workers)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            if not line.startswith("run_timers: ready"):
                raise RuntimeError(f"worker did not start: {line}{worker.stdout.read()}")
            # Keep reading what it prints, so that a full pipe never stalls it.
            threading.Thread(target=worker.stdout.read, daemon=True).start()
        # Every worker is asleep until the due second; start it a little later.
        start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=args.lead)
        expected_ids = escalation_ids_drawn() + args.due
        make_due("dispatch_timer", "dispatch_stageclock", args.due, start)
        margin = (start - dt.datetime.now(dt.UTC)).total_seconds()
        print(f"ours: {args.due:,} timers armed {margin:.1f} s before the first deadline", flush=True)
        if margin <= 0:
            raise RuntimeError("arming took longer than --lead: raise it")
        # Arming through the actions rings the workers' doorbell; the bulk move above did not, so ring here.
        count("SELECT pg_notify(%s, '')", [PG_CHANNEL])
        time.sleep(max(0.0, (start - dt.datetime.now(dt.UTC)).total_seconds() - 1.0))  # idle until just before
        rss_before = [rss_kib(w.pid) for w in workers]
        # CPU spent while firing, by the workers and by the whole database (the poll below included): unlike the
        # rate, it does not depend on what else the machine is doing.
        database = cluster_pids()
        cpu_before = cpu_seconds([w.pid for w in workers]), cpu_by_pid(database)
        last_due = start + dt.timedelta(seconds=1)
        done_at = wait_until_none_pending(last_due, expected_ids, timeout=600)
        rss_after = [rss_kib(w.pid) for w in workers]
        cpu_workers = cpu_seconds([w.pid for w in workers]) - cpu_before[0]
        cpu_database = cpu_growth(cpu_before[1])
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
    lags = count(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - due_at)), "
        "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - due_at)), "
        "max(extract(epoch FROM fired_at - due_at)), count(*), count(DISTINCT clock_id) FROM dispatch_escalation"
    )
    checks = count(
        "SELECT (SELECT count(*) FROM dispatch_timelineentry WHERE action = 'escalate_overdue'), "
        "(SELECT count(*) FROM realtime_event WHERE type = 'work_order.escalated'), "
        "(SELECT count(*) FROM realtime_event e, jsonb_array_elements(e.payload -> 'escalations') "
        "WHERE e.type = 'work_order.escalated'), "
        "(SELECT count(*) FROM realtime_eventagency), "
        "(SELECT count(*) FROM dispatch_timer WHERE level = 'serious')"
    )
    elapsed = done_at - start.timestamp()
    return {
        "elapsed": elapsed,
        "rate": args.due / elapsed,
        "p50": float(lags[0]),
        "p99": float(lags[1]),
        "max": float(lags[2]),
        "escalations": int(lags[3]),
        "distinct_clocks": int(lags[4]),
        "timeline": int(checks[0]),
        "events": int(checks[1]),
        "escalations_in_events": int(checks[2]),
        "event_audiences": int(checks[3]),
        "red_card_timers": int(checks[4]),
        "cpu_us_workers": cpu_workers / args.due * 1e6,
        "cpu_us_database": cpu_database / args.due * 1e6,
        "rss_before": rss_before,
        "rss_after": rss_after,
    }


#: The floor's statement: what any firing path must at least do per escalation - lock the due timer, mark it
#: done, insert the escalation row and its timeline row into tables shaped and indexed like ours - and nothing
#: else (no joins, no events, no red cards, constant payloads).
FLOOR_STATEMENT = f"""
WITH picked AS (
    SELECT id, clock_id, fire_at FROM bench_floor_timer WHERE done_at IS NULL AND fire_at <= now()
    ORDER BY fire_at LIMIT {RAW_BATCH} FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE bench_floor_timer t SET done_at = clock_timestamp(), outcome = 'fired' FROM picked p WHERE t.id = p.id
    RETURNING t.id
), esc AS (
    INSERT INTO bench_floor_escalation (clock_id, work_order_id, ticket_id, agency_id, stage, level, due_at, fired_at)
    SELECT clock_id, clock_id, clock_id / 10, clock_id % {AGENCIES}, 'sign', 'overdue', fire_at, now() FROM picked
    RETURNING id, clock_id
), steps AS (
    INSERT INTO bench_floor_timeline (ticket_id, work_order_id, machine, action, from_state, to_state, note, data,
                                      created_at)
    SELECT e.clock_id / 10, e.clock_id, 'work_order', 'escalate_overdue', 'signed', 'signed', '',
           jsonb_build_object('escalation_id', e.id), now()
    FROM esc e
    RETURNING 1
)
SELECT (SELECT count(*) FROM marked), (SELECT count(*) FROM steps)
"""


def loop_worker(url: str, kind: str, start_epoch: float, results: Any) -> None:
    """One process of the raw loop (``kind`` "raw") or of the floor ("floor"). Puts ("pids", (its pid, its
    backend's)) once connected, and ("fired", (timers it fired, CPU seconds of both)) when no due timer of its
    table is left."""
    import psycopg

    table = f"bench_{kind}_timer"
    fired = 0
    with psycopg.connect(url, autocommit=False) as conn:
        backend = conn.info.backend_pid
        results.put(("pids", (os.getpid(), backend)))
        while True:
            with conn.cursor() as cursor:
                if kind == "floor":
                    cursor.execute(FLOOR_STATEMENT)
                    row = cursor.fetchone()
                    done = int(row[0]) if row else 0
                else:
                    cursor.execute(
                        f"SELECT id FROM {table} WHERE done_at IS NULL AND fire_at <= now() "
                        f"ORDER BY fire_at LIMIT {RAW_BATCH} FOR UPDATE SKIP LOCKED"
                    )
                    ids = [row[0] for row in cursor.fetchall()]
                    if ids:
                        cursor.execute(
                            f"UPDATE {table} SET done_at = clock_timestamp(), outcome = 'fired' WHERE id = ANY(%s)",
                            [ids],
                        )
                    done = len(ids)
            conn.commit()
            fired += done
            if not done:
                if time.time() > start_epoch + 1.0:
                    with conn.cursor() as cursor:
                        cursor.execute(f"SELECT count(*) FROM {table} WHERE done_at IS NULL AND fire_at <= now()")
                        left = cursor.fetchone()
                    conn.commit()
                    if left is not None and left[0] == 0:
                        break
                time.sleep(0.001)  # nothing due yet: the loop polls
        # Read before the connection closes: its backend's CPU goes with it.
        results.put(("fired", (fired, cpu_seconds([os.getpid(), backend]))))


def run_loop(env: dict[str, str], args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """The raw loop or the floor, with ``--workers`` processes, on its own copy of the timer table."""
    from django.db import connection

    table = f"bench_{kind}_timer"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (LIKE dispatch_timer INCLUDING DEFAULTS INCLUDING INDEXES)")
        cursor.execute(
            f"INSERT INTO {table} (id, clock_id, level, fire_at, claim_token, claimed_until, done_at, outcome) "
            "SELECT id, clock_id, level, now() + interval '10 days' + (id % 86400) * interval '1 second', "
            "'', NULL, NULL, '' FROM dispatch_timer WHERE level = 'overdue'"
        )
        if kind == "floor":
            # Shaped and indexed like ours (LIKE copies no foreign keys: ours checks none on these columns).
            cursor.execute("CREATE TABLE bench_floor_escalation (LIKE dispatch_escalation INCLUDING ALL)")
            cursor.execute("CREATE TABLE bench_floor_timeline (LIKE dispatch_timelineentry INCLUDING ALL)")
        cursor.execute(f"VACUUM (ANALYZE) {table}")
    start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=args.lead)
    make_due(table, None, args.due, start)
    margin = (start - dt.datetime.now(dt.UTC)).total_seconds()
    print(f"{kind}: {args.due:,} timers armed {margin:.1f} s before the first deadline", flush=True)
    if margin <= 0:
        raise RuntimeError("arming took longer than --lead: raise it")
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    processes = [
        ctx.Process(target=loop_worker, args=(env["DATABASE_URL"], kind, start.timestamp(), results))
        for _ in range(args.workers)
    ]
    for process in processes:
        process.start()
    pids = [results.get(timeout=120)[1] for _ in processes]  # nothing is due before every loop has started
    own = [pid for pair in pids for pid in pair]
    # Counted from the first deadline: before it the loops only poll.
    time.sleep(max(0.0, (start - dt.datetime.now(dt.UTC)).total_seconds()))
    others = [pid for pid in cluster_pids() if pid not in own]
    cpu_before = cpu_seconds(own), cpu_by_pid(others)
    finished = [results.get(timeout=600)[1] for _ in processes]
    fired = sum(count for count, _cpu in finished)
    cpu = sum(cpu for _count, cpu in finished) - cpu_before[0] + cpu_growth(cpu_before[1])
    for process in processes:
        process.join(timeout=60)
    stats = count(
        "SELECT max(done_at), percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - fire_at)), "
        "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - fire_at)), count(*) "
        f"FROM {table} WHERE done_at IS NOT NULL"
    )
    elapsed = stats[0].timestamp() - start.timestamp()
    return {
        "elapsed": elapsed,
        "rate": args.due / elapsed,
        "p50": float(stats[1]),
        "p99": float(stats[2]),
        "fired": fired,
        "cpu_us": cpu / args.due * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-orders", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000, help="timers falling due within one second")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (ours and raw)")
    parser.add_argument("--batch", type=int, default=500, help="timers per transaction in run_timers")
    parser.add_argument(
        "--async-commit", action="store_true", help="workers with HOTLINE_TIMER_ASYNC_COMMIT=1 (no WAL-flush wait)"
    )
    parser.add_argument(
        "--durable",
        action="store_true",
        help="the cluster with fsync, synchronous_commit and full_page_writes on (the test cluster has them off)",
    )
    parser.add_argument(
        "--lead", type=float, default=60.0, help="seconds from arming to the due second (must cover the arming)"
    )
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="timers-benchmark-"))
    env, stops = start_database(folder, durable=args.durable)
    try:
        setup_django(env)
        template_ticket, template_wo = make_template()
        load_seconds = bulk_load(args.work_orders, template_ticket, template_wo)
        pending = int(count("SELECT count(*) FROM dispatch_timer WHERE done_at IS NULL")[0])
        print(f"loaded {pending:,} pending timers on {args.work_orders:,} work orders in {load_seconds:.1f} s")
        ours = run_ours(env, args)
        raw = run_loop(env, args, "raw")
        floor = run_loop(env, args, "floor")
    finally:
        for stop in stops:
            stop()
        shutil.rmtree(folder, ignore_errors=True)
    print_report(args, ours, raw, floor)
    return 0


def print_report(args: argparse.Namespace, ours: dict[str, Any], raw: dict[str, Any], floor: dict[str, Any]) -> None:
    cpus, python = os.cpu_count(), platform.python_version()
    print(f"machine: {platform.machine()}, {cpus} cpus, load {os.getloadavg()}, Python {python}")
    print(
        f"settings: {args.work_orders:,} work orders, {args.due:,} due within 1 s, {args.workers} workers, "
        f"batch {args.batch} (raw {RAW_BATCH}), async commit {'on' if args.async_commit else 'off'}, "
        + ("durable cluster" if args.durable else "test cluster (fsync, synchronous commit, full-page writes off)")
    )
    print(
        f"ours: {ours['escalations']:,} escalations ({ours['distinct_clocks']:,} clocks), "
        f"timeline {ours['timeline']:,}, "
        f"events {ours['events']:,} listing {ours['escalations_in_events']:,} escalations (audience rows "
        f"{ours['event_audiences']:,}), red-card timers armed "
        f"{ours['red_card_timers']:,}"
    )
    print(
        f"ours: all committed {ours['elapsed']:.2f} s after the first deadline -> {ours['rate']:,.0f} escalations/s; "
        f"lag fired_at-due_at p50 {ours['p50']:.3f} s, p99 {ours['p99']:.3f} s, max {ours['max']:.3f} s"
    )
    print(
        f"raw:  all done {raw['elapsed']:.2f} s after the first deadline -> {raw['rate']:,.0f} claims/s; "
        f"lag p50 {raw['p50']:.3f} s, p99 {raw['p99']:.3f} s; CPU per claim {raw['cpu_us']:.1f} us"
    )
    print(
        f"floor: all done {floor['elapsed']:.2f} s after the first deadline -> {floor['rate']:,.0f} escalations/s; "
        f"lag p50 {floor['p50']:.3f} s, p99 {floor['p99']:.3f} s; CPU per escalation {floor['cpu_us']:.1f} us "
        f"({floor['fired']:,} timers marked, with their escalation and timeline rows; nothing else)"
    )
    per_escalation = ours["cpu_us_workers"] + ours["cpu_us_database"]
    print(
        f"ours: CPU per escalation {per_escalation:.1f} us (workers {ours['cpu_us_workers']:.1f} us, database "
        f"{ours['cpu_us_database']:.1f} us): at most {(cpus or 1) / per_escalation * 1e6:,.0f}/s on {cpus} cpus"
    )
    ratio = ours["rate"] / raw["rate"]
    print(f"ratio ours/raw: {ratio:.2f}")
    print(f"worker RSS KiB idle with all timers pending: {ours['rss_before']}, after firing: {ours['rss_after']}")
    growth = max(a - b for a, b in zip(ours["rss_after"], ours["rss_before"], strict=True))
    verdicts = [
        (f">= {TARGET_RATE:,}/s", ours["rate"] >= TARGET_RATE, f"{ours['rate']:,.0f}/s"),
        (f">= {TARGET_RATIO} of raw", ratio >= TARGET_RATIO, f"{ratio:.2f}"),
        (f"p99 lag <= {TARGET_P99_S} s", ours["p99"] <= TARGET_P99_S, f"{ours['p99']:.3f} s"),
        ("memory flat", growth < 50_000, f"max growth {growth:,} KiB"),
    ]
    for name, met, value in verdicts:
        print(f"target {name}: {'met' if met else 'NOT met'} ({value})")


if __name__ == "__main__":
    sys.exit(main())
