"""Escalation timers: the issue's targets, measured with real ``manage.py run_timers`` workers.

- PostgreSQL, 2 workers: 100,000 timers due at one instant with 1,000,000 open: all fired within 60 s, each
  exactly once, flat memory.
- SQLite (the embedded default), 1 worker: 10,000 due at once, all fired within 60 s (100,000 open: the issue
  gives none for it; an embedded deployment serves a county, not a metropolis).

    .venv/bin/python benchmarks/timers.py [--database postgres|sqlite] [--open N] [--due N] [--workers N]

Defaults are the targets; results are reported PASS/MISS, never asserted. A ticket made through the real
actions is cloned into --open work orders, each with a running sign clock and a yellow-card timer days away.
The workers start and sleep; --due timers then move to one instant --lead seconds ahead and the doorbell rings,
as arming through the actions does. Not --once --now: a sleeping worker computes its own wake-up from the rows,
so the instant is deterministic anyway, and waking on time is part of the job. The baseline puts the due
timers back and runs as many plain psycopg/sqlite3 processes over the same rows, one UPDATE per transaction
claiming up to --batch due rows and marking them done: the least any engine must do.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.db import connection, transaction  # lazy: usable once main() has set Django up

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {  # lead: seconds from arming to the instant, enough for the arming (PostgreSQL: VACUUM included)
    "postgres": {"open": 1_000_000, "due": 100_000, "workers": 2, "lead": 90.0},
    "sqlite": {"open": 100_000, "due": 10_000, "workers": 1, "lead": 15.0},
}
TARGET_SECONDS = 60.0
#: Flat memory: at most this growth per worker over the second half of the firing. The first batches load code
#: and fill caches once (~13 MiB); memory held per fired timer grows as much in the second half as in the first.
FLAT_MIB = 4.0
AGENCIES, PER_TICKET = 100, 10
PG = True  # set by main(): which database this run uses


def sql(statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """One statement through Django's connection; params always passed, so ``%%`` is a % on both databases."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else []


def db_time(moment: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)  # SQLite compares the text Django stores


def start_database(folder: Path) -> list[Any]:
    """Start the database, point Django (and the workers, which inherit os.environ) at it, migrate; the stops."""
    stops: list[Any] = []
    env = {"HOTLINE_VAR_DIR": str(folder / "var"), "DJANGO_SECRET_KEY": "timers-benchmark", "LOG_LEVEL": "WARNING"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if PG:
        sys.path.insert(0, str(ROOT / "scripts"))
        import services

        pg_folder = tempfile.mkdtemp(prefix="timers-benchmark-pg-")  # top level: handed to postgres when root
        # A production-sized cache (the default 128 MB does not hold a million work orders), the exact commit
        # time of the last escalation, no checkpoint storm during the bulk load.
        settings = {"shared_buffers": "1GB", "track_commit_timestamp": "on", "max_wal_size": "8GB"}
        env["DATABASE_URL"], stop = services.start_postgres(pg_folder, settings=settings)
        stops += [stop, lambda: shutil.rmtree(pg_folder, ignore_errors=True)]
    else:
        env["SQLITE_PATH"] = str(folder / "hotline.sqlite3")
    for name in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "HOTLINE_TIMER_MAX_SLEEP_SECONDS"):
        os.environ.pop(name, None)  # nothing of the caller's deployment
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return stops


def make_template() -> dict[str, int]:
    """One ticket and work order through the real actions: the rows the bulk load clones."""
    from callcenter.actions import do_create_ticket
    from dispatch.actions import do_dispatch_ticket
    from dispatch.models import StageClock, Timer, WorkOrder
    from organisation.actions import do_load_taxonomy, do_upsert_agency, do_upsert_user
    from organisation.models import Agency

    do_upsert_agency(code="centre", name="12345热线", kind="centre", function="hotline")
    for i in range(AGENCIES):
        do_upsert_agency(code=f"a{i}", name=f"单位{i}", kind="department", function="urban_management")
    garbage = {"code": "b-urban", "name": "城乡建设", "children": [{"code": "b-garbage", "name": "垃圾"}]}
    do_load_taxonomy({"appeal_types": [{"code": "complaint", "name": "投诉"}], "subjects": [garbage]})
    operator = do_upsert_user(username="operator", password=None, roles=["operator"], agency_code="centre")
    dispatcher = do_upsert_user(username="dispatcher", password=None, roles=["dispatcher"], agency_code="centre")
    data = {"channel": "phone", "phone": "13812341234", "appeal_type": "complaint", "subject": "b-garbage"}
    data |= {"urgency": "normal", "title": "垃圾未清运", "description": "小区门口垃圾堆放三天无人清运。"}
    ticket, _created = do_create_ticket({**data, "address": "柳州市城中区文惠路12号"}, actor=operator)
    a0 = Agency.objects.get(code="a0").pk  # the agencies' ids run on from it (the bulk load rotates over them)
    do_dispatch_ticket(ticket.pk, actor=dispatcher, lead_agency_id=a0, override_reason="benchmark")
    work_order = WorkOrder.objects.get(ticket=ticket)
    clock_row = StageClock.objects.get(work_order=work_order, stage="sign", stopped_at__isnull=True)
    timer = Timer.objects.get(clock=clock_row, level="overdue")
    return {"ticket": ticket.pk, "work_order": work_order.pk, "clock": clock_row.pk, "timer": timer.pk, "agency": a0}


def bulk_load(open_count: int, tpl: dict[str, int]) -> None:
    """Set-based clones of the template: tickets, work orders, running sign clocks, yellow-card timers."""
    from callcenter.models import Ticket
    from dispatch.models import StageClock, Timer, WorkOrder

    far = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).replace(microsecond=0)
    if PG:
        pad = "lpad(({})::text, {}, '0')"
        days_away = f"('{far.isoformat()}'::timestamptz + ({{}}) * interval '1 second')"
    else:
        pad = "printf('%%0{1}d', {0})"
        days_away = f"datetime('{db_time(far)}', '+' || ({{}}) || ' seconds')"

    def clone(model: Any, rows: int, source: str, overrides: dict[str, str], where: str) -> None:
        table, columns = model._meta.db_table, [f.column for f in model._meta.concrete_fields if not f.primary_key]
        values = ", ".join(overrides.get(c, f"t.{c}") for c in columns)
        counter = f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows}) "
        sql(f"{counter}INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM {table} t, {source} {where}")

    number = "'B' || " + pad.format("g.n", 9)
    clone(Ticket, -(-open_count // PER_TICKET), "g", {"number": number}, f"WHERE t.id = {tpl['ticket']}")
    # A ticket's ten work orders go to ten agencies, shifted by one per ticket: a batch of due timers (every n-th
    # work order) spans all the agencies, so makes as many events as a city's would.
    work_orders = {
        "ticket_id": "nt.id",
        "number": "nt.number || '-' || " + pad.format("g.n", 2),
        "agency_id": f"{tpl['agency']} + (nt.id + g.n) %% {AGENCIES}",
        "responsibility": "CASE WHEN g.n = 1 THEN 'lead' ELSE 'co' END",
    }
    where = f"WHERE t.id = {tpl['work_order']} AND nt.id > {tpl['ticket']} ORDER BY nt.id, g.n LIMIT {open_count}"
    clone(WorkOrder, PER_TICKET, f"{Ticket._meta.db_table} nt, g", work_orders, where)
    clocks = {"ticket_id": "w.ticket_id", "work_order_id": "w.id", "due_at": days_away.format("w.id %% 86400")}
    where = f"WHERE t.id = {tpl['clock']} AND w.id > {tpl['work_order']}"
    clone(StageClock, 1, "g, dispatch_workorder w", {**clocks, "warn_at": "NULL"}, where)
    timers = {"clock_id": "c.id", "fire_at": "c.due_at"}
    clone(Timer, 1, "g, dispatch_stageclock c", timers, f"WHERE t.id = {tpl['timer']} AND c.id > {tpl['clock']}")
    if PG:
        sql("VACUUM (ANALYZE)")  # as autovacuum would have, long before the deadlines
        durable = [f"ALTER SYSTEM SET {name} = on" for name in ("fsync", "synchronous_commit", "full_page_writes")]
        for statement in [*durable, "SELECT pg_reload_conf()", "CHECKPOINT"]:  # durable from here on
            sql(statement)


def arm(due: int, at: dt.datetime, open_count: int, tpl: dict[str, int]) -> None:
    """Move ``due`` timers, every (open/due)-th, and their clocks' deadlines to the instant ``at``."""
    from dispatch.deadlines.timers import ring_if_soon

    with transaction.atomic():
        ((first,),) = sql("SELECT min(id) FROM dispatch_timer WHERE clock_id > %s", [tpl["clock"]])
        chosen = "SELECT id FROM dispatch_timer WHERE clock_id > %s AND (id - %s) %% %s = 0 ORDER BY id LIMIT %s"
        params = [db_time(at), tpl["clock"], first, max(1, open_count // due), due]
        sql(f"UPDATE dispatch_timer SET fire_at = %s WHERE id IN ({chosen})", params)
        clocks = "SELECT clock_id FROM dispatch_timer WHERE fire_at = %s"
        sql(f"UPDATE dispatch_stageclock SET due_at = %s WHERE id IN ({clocks})", [db_time(at)] * 2)
        ((armed,),) = sql("SELECT count(*) FROM dispatch_stageclock WHERE due_at = %s", [db_time(at)])
        ring_if_soon([at])  # as arming through the actions does when the instant is within a worker's sleep
    if armed != due:
        raise RuntimeError(f"armed {armed} timers, not {due}: --open must be at least --due")
    if PG:
        sql("VACUUM (ANALYZE) dispatch_timer, dispatch_stageclock")  # in a city the due rows are old rows


def proc(pid: int) -> tuple[float, float]:
    """(VmRSS in MiB, user + system CPU seconds) of a process; zeros once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0, 0.0
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return rss / 1024, (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def run_ours(args: argparse.Namespace, tpl: dict[str, int]) -> dict[str, Any]:
    from django.db.models import Min

    from dispatch.models import Escalation

    command = [sys.executable, "manage.py", "run_timers", "--batch", str(args.batch)]  # production sleep cap
    # Only the ready line is read; what they log (an error is a finding) goes to our stderr as it happens.
    workers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(args.workers)]
    polled = None
    try:
        for worker in workers:
            assert worker.stdout is not None
            if not (line := worker.stdout.readline()).startswith("run_timers: ready"):
                raise RuntimeError(f"worker did not start: {line}")
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=args.lead)
        arm(args.due, at, args.open, tpl)
        margin = (at - dt.datetime.now(dt.UTC)).total_seconds()
        print(f"armed {args.due:,} timers {margin:.1f} s before the instant ({at:%H:%M:%S} UTC)", flush=True)
        if margin < 2:
            raise RuntimeError("arming took longer than --lead allowed: raise --lead")
        time.sleep(margin - 1)
        pids = [w.pid for w in workers]
        idle, half = [proc(pid)[0] for pid in pids], None
        backends = [pid for (pid,) in sql("SELECT pid FROM pg_stat_activity")] if PG else []
        cpu = {pid: proc(pid)[1] for pid in pids}, {pid: proc(pid)[1] for pid in backends}
        while polled is None and time.time() < at.timestamp() + args.timeout:  # constant cost: no CPU taken
            # Ids (none drawn before) are drawn before commit and two workers commit out of order: a count confirms.
            top = sql("SELECT max(id) FROM dispatch_escalation")[0][0] or 0
            half = half or ([proc(pid)[0] for pid in pids] if top >= args.due / 2 else None)
            if top >= args.due:
                polled = time.time() if sql("SELECT count(*) FROM dispatch_escalation")[0][0] >= args.due else None
            time.sleep(0.01)
        # CPU per escalation, of the workers and of the database: what the elapsed time is made of.
        used = [sum(max(0.0, proc(pid)[1] - before) for pid, before in group.items()) for group in cpu]
        time.sleep(1.0)  # the workers end their round and go back to sleep
        after = [proc(pid)[0] for pid in pids]
    finally:  # a worker still firing (the run gave up) is killed: its open transaction rolls back
        for worker in workers:
            worker.send_signal(signal.SIGTERM if polled else signal.SIGKILL)
        for worker in workers:
            worker.wait(timeout=60)
    last = polled
    if polled is not None and PG:
        ((last,),) = sql("SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin))) FROM dispatch_escalation")
    fired = Escalation.objects.count()
    first = Escalation.objects.aggregate(at=Min("fired_at"))["at"]
    return {
        "at": at,
        "elapsed": None if last is None else float(last) - at.timestamp(),
        "first": None if first is None else (first - at).total_seconds(),
        "fired": fired,
        "cpu_us": [seconds / max(fired, 1) * 1e6 for seconds in used],
        "rss": {"idle": idle, "half-way": half or after, "after": after},
    }


def check_once(due: int, at: dt.datetime) -> dict[str, Any]:
    from dispatch.models import Escalation, TimelineEntry, Timer
    from realtime.models import Event

    ids = set(Escalation.objects.values_list("id", flat=True))
    events = Event.objects.filter(type="work_order.escalated")
    listed = [e["escalation_id"] for p in events.values_list("payload", flat=True) for e in p["escalations"]]
    found = {
        "escalations": len(ids),
        "distinct (clock, level)": Escalation.objects.values_list("clock_id", "level").distinct().count(),
        "on the due clocks": Escalation.objects.filter(due_at=at).count(),
        "timeline rows": TimelineEntry.objects.filter(action="escalate_overdue").count(),
        "listed by events": len(listed),
        "distinct listed": len(set(listed)),
    }
    # Each escalation once among those fired (true of a run that gave up, too), and all of the due fired.
    each_once = all(n == len(ids) for n in found.values()) and set(listed) == ids
    found["events"] = events.count()
    found["red-card timers"] = Timer.objects.filter(level="serious").count()
    found["due timers pending"] = pending = Timer.objects.filter(done_at__isnull=True, fire_at__lte=at).count()
    return {"each_once": each_once, "ok": each_once and len(ids) == due and pending == 0, "found": found}


def baseline_loop(pg: bool, dsn: str, batch: int, start: float, results: Any) -> None:
    """One baseline process: claim-and-mark-done until nothing is due; reports when it last committed."""
    if pg:
        import psycopg

        conn: Any = psycopg.connect(dsn, autocommit=True)  # each statement its own (durable) transaction
        now, lock = "now()", " FOR UPDATE SKIP LOCKED"
    else:
        conn = sqlite3.connect(dsn, isolation_level=None, timeout=30)  # likewise
        conn.execute("PRAGMA synchronous=NORMAL")  # the project's setting; the file is in WAL already
        now, lock = "?1", ""
    due = f"SELECT id FROM dispatch_timer WHERE done_at IS NULL AND fire_at <= {now} ORDER BY fire_at LIMIT {batch}"
    statement = f"UPDATE dispatch_timer SET done_at = {now}, outcome = 'fired' WHERE id IN ({due}{lock})"
    time.sleep(max(0.0, start - time.time()))
    fired, last = 0, start
    # Until none is due (PostgreSQL: or the rest is locked by another process, which fires it).
    while rows := conn.execute(statement, None if pg else [str(dt.datetime.now(dt.UTC).replace(tzinfo=None))]).rowcount:
        fired, last = fired + rows, time.time()
    conn.close()
    results.put((fired, last))


def run_baseline(args: argparse.Namespace, at: dt.datetime) -> dict[str, Any]:
    # The same rows: the due timers back as they were at the instant (ours made them red-card timers since).
    clocks = "SELECT id FROM dispatch_stageclock WHERE due_at = %s"
    put_back = "level = 'overdue', fire_at = %s, done_at = NULL, outcome = ''"
    sql(f"UPDATE dispatch_timer SET {put_back} WHERE clock_id IN ({clocks})", [db_time(at)] * 2)
    if PG:
        sql("VACUUM (ANALYZE) dispatch_timer")  # as for ours
    ((due,),) = sql("SELECT count(*) FROM dispatch_timer WHERE done_at IS NULL AND fire_at <= %s", [db_time(at)])
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    start = time.time() + 5.0  # all connected by then; one that was not finds the rows fired by the others
    loop = (PG, os.environ["DATABASE_URL" if PG else "SQLITE_PATH"], args.batch, start, results)
    processes = [ctx.Process(target=baseline_loop, args=loop) for _ in range(args.workers)]
    for process in processes:
        process.start()
    done = [results.get(timeout=args.timeout) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    elapsed = max(last for _fired, last in done) - start
    fired = sum(fired for fired, _last in done)
    return {"due": due, "fired": fired, "elapsed": elapsed, "rate": fired / elapsed}


def report(args: argparse.Namespace, ours: dict[str, Any], once: dict[str, Any], base: dict[str, Any]) -> None:
    version = sql("SHOW server_version")[0][0] + ", durable" if PG else sqlite3.sqlite_version
    print(f"\n=== timers: {args.database} {version}; {platform.machine()}, {os.cpu_count()} cpus ===")
    load = f"load average {os.getloadavg()[0]:.1f}"
    print(f"{args.open:,} open work orders, {args.due:,} due at one instant, {args.workers} worker(s); {load}")
    elapsed, fired = ours["elapsed"], ours["fired"]
    rate = fired / (elapsed or args.timeout)
    if elapsed is None:
        print(f"ours: NOT all fired: {fired:,} of {args.due:,} in {args.timeout:.0f} s after the instant (gave up)")
    else:
        how = "its commit timestamp" if PG else "the 10 ms poll"
        print(f"ours: first escalation fired {ours['first']:.3f} s after the instant, the last committed")
        print(f"      {elapsed:.2f} s after it ({how}) -> {rate:,.0f} escalations/s")
    workers_us, database_us = ours["cpu_us"]
    where = f", database {database_us:,.0f} us" if PG else " (SQLite runs inside them)"
    print(f"ours: CPU per escalation: workers {workers_us:,.0f} us{where}")
    loop = f"{args.workers} plain {'psycopg' if PG else 'sqlite3'} process(es), one UPDATE claiming {args.batch}"
    print(f"baseline: {loop} due and marking them done: {base['fired']:,} of {base['due']:,}")
    print(f"      in {base['elapsed']:.3f} s -> {base['rate']:,.0f}/s; ours is {rate / base['rate']:.4f} of it")
    print("exactly once: " + ", ".join(f"{name} {n:,}" for name, n in once["found"].items()))
    for name, values in ours["rss"].items():
        print(f"worker RSS {name}: " + ", ".join(f"{v:.1f} MiB" for v in values))
    growth = [a - b for a, b in zip(ours["rss"]["after"], ours["rss"]["half-way"], strict=True)]
    sizes = {name: getattr(args, name) for name in ("open", "due", "workers")}
    issue = {k: v for k, v in TARGETS[args.database].items() if k != "lead"}
    print("targets" + ("" if sizes == issue else f" (NOT at the issue's sizes, {issue})") + ":")
    took = "gave up" if elapsed is None else f"{elapsed:.2f} s"
    verdict(f"all fired within {TARGET_SECONDS:.0f} s", elapsed is not None and elapsed <= TARGET_SECONDS, took)
    each = "each once" if once["each_once"] else "NOT each once"
    verdict("each exactly once", once["ok"], f"{once['found']['escalations']:,} of {args.due:,} fired, {each}")
    flat = f"flat memory (at most +{FLAT_MIB:.0f} MiB per worker from half-way to after)"
    verdict(flat, max(growth) <= FLAT_MIB, ", ".join(f"{g:+.1f} MiB" for g in growth))


def verdict(target: str, met: bool, value: str) -> None:
    print(f"  {'PASS' if met else 'MISS'}  {target}: {value}")


def main(argv: list[str] | None = None) -> int:
    global PG
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=sorted(TARGETS), default="postgres")
    parser.add_argument("--open", type=int, help="open work orders, one pending timer each (default: target)")
    parser.add_argument("--due", type=int, help="timers due at the one instant (default: target)")
    parser.add_argument("--workers", type=int, help="run_timers processes, and baseline processes (default: target)")
    parser.add_argument("--batch", type=int, default=500, help="timers per claim (run_timers' default)")
    parser.add_argument("--lead", type=float, help="seconds from arming to the instant (must cover the arming)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up this long after the instant")
    args = parser.parse_args(argv)
    for name, value in TARGETS[args.database].items():
        setattr(args, name, value if getattr(args, name) is None else getattr(args, name))
    PG = args.database == "postgres"
    wall = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="timers-benchmark-"))
    stops = start_database(folder)
    try:
        tpl = make_template()
        started = time.monotonic()
        bulk_load(args.open, tpl)
        print(f"loaded {args.open:,} open work orders in {time.monotonic() - started:.0f} s", flush=True)
        ours = run_ours(args, tpl)
        once = check_once(args.due, ours["at"])
        base = run_baseline(args, ours["at"])
        report(args, ours, once, base)
        print(f"whole run: {time.monotonic() - wall:.0f} s")
    finally:
        for stop in stops:
            stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
