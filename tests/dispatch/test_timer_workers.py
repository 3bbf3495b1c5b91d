"""Timer workers as real processes: several at once fire each due timer exactly once; a worker that died right
after claiming, or was killed mid-run, loses nothing once its lease expires and doubles nothing; a sleeping
worker wakes when a nearer deadline appears.

On PostgreSQL the workers use the test database; on SQLite (in-memory test database) the test copies the
database to a file first and reads the outcome back from that file.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from callcenter.actions import do_create_ticket
from core import clock
from dispatch.actions import do_dispatch_ticket
from dispatch.models import StageClock, Timer, WorkOrder
from tests.conftest import World, ticket_payload

pytestmark = pytest.mark.django_db(transaction=True)
WAIT_SECONDS = 60
# Fixed moments in a year the working calendar knows, so that the tests mean the same on any day they run.
# The seeded yellow cards fall due at SEEDED_DUE; --once workers are told the time (WORKER_NOW), so their red
# cards (five working days later) are armed but not yet due; the sleeping worker reads the real clock, for
# which timers of a ticket dispatched at DISPATCHED_AT are long due.
SEEDED_DUE = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
WORKER_NOW = SEEDED_DUE + dt.timedelta(minutes=5)
DISPATCHED_AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@dataclass
class Database:
    """Where worker processes find the data, and how the test reads results back."""

    env: dict[str, str]
    sqlite_path: Path | None

    def count(self, sql: str) -> int:
        if self.sqlite_path is None:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return int(cursor.fetchone()[0])
        with sqlite3.connect(self.sqlite_path) as db:
            return int(db.execute(sql).fetchone()[0])

    def escalations_in_events(self) -> tuple[int, int]:
        """(listed, distinct): the escalations the work_order.escalated events carry (one event per agency per
        batch lists several)."""
        if self.sqlite_path is None:
            items = "jsonb_array_elements(e.payload -> 'escalations') AS item"
            escalation_id = "item ->> 'escalation_id'"
        else:
            items = "json_each(e.payload, '$.escalations') AS item"
            escalation_id = "json_extract(item.value, '$.escalation_id')"
        sql = (
            f"SELECT COUNT(*), COUNT(DISTINCT {escalation_id}) FROM realtime_event e, {items} "
            "WHERE e.type = 'work_order.escalated'"
        )
        listed = self.count(sql)
        distinct = self.count(sql.replace("COUNT(*), ", ""))
        return listed, distinct


def seed_due_timers(world: World, count: int, due: dt.datetime) -> None:
    """A fixture shortcut: ``count`` running sign clocks, each with a yellow-card timer due at ``due``."""
    with clock.pinned_at(due - dt.timedelta(days=1)):
        ticket, _created = do_create_ticket(ticket_payload(), actor=world.users["operator"])
    work_orders = WorkOrder.objects.bulk_create(
        [
            WorkOrder(ticket=ticket, number=f"W{i:06d}", agency=world.agency_a, responsibility="co", created_at=due)
            for i in range(count)
        ]
    )
    clocks = StageClock.objects.bulk_create(
        [
            StageClock(ticket=ticket, work_order=wo, stage="sign", started_at=due - dt.timedelta(hours=1), due_at=due)
            for wo in work_orders
        ]
    )
    Timer.objects.bulk_create([Timer(clock=c, level="overdue", fire_at=due) for c in clocks])


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


def database_for_workers(var_dir: Path) -> Database:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SQLITE_PATH"}}
    env.update({"HOTLINE_VAR_DIR": str(var_dir), "DJANGO_SECRET_KEY": "timer-worker-test"})
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        env["DATABASE_URL"] = f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        return Database(env, None)
    path = var_dir / "workers.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(path) as target:
        connection.connection.backup(target)
    env["SQLITE_PATH"] = str(path)
    return Database(env, path)


def run_workers(database: Database, processes: int, *args: str, env: dict[str, str] | None = None) -> list[str]:
    command = [sys.executable, "manage.py", "run_timers", "--once", *args]
    started = [
        subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env={**database.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(processes)
    ]
    outputs = []
    for process in started:
        output, _unused = process.communicate(timeout=WAIT_SECONDS)
        outputs.append(f"{process.returncode}:{output}")
    return outputs


def fired_counts(outputs: list[str]) -> list[int]:
    counts = []
    for output in outputs:
        code, text = output.split(":", 1)
        assert code == "0", output
        line = next(line for line in text.splitlines() if line.startswith("fired "))
        counts.append(int(line.split()[1].rstrip(",")))
    return counts


def test_several_worker_processes_fire_each_due_timer_exactly_once(world: World, var_dir: Path) -> None:
    count = 3000
    seed_due_timers(world, count, SEEDED_DUE)
    database = database_for_workers(var_dir)
    processes = 4 if database.sqlite_path is None else 2
    outputs = run_workers(database, processes, "--batch", "25", "--now", WORKER_NOW.isoformat())
    assert sum(fired_counts(outputs)) == count
    assert database.count("SELECT COUNT(*) FROM dispatch_escalation WHERE level = 'overdue'") == count
    assert database.count("SELECT COUNT(DISTINCT clock_id) FROM dispatch_escalation") == count
    assert database.count("SELECT COUNT(*) FROM dispatch_timelineentry WHERE action = 'escalate_overdue'") == count
    assert database.escalations_in_events() == (count, count)
    # Batched: one event per agency per batch, so far fewer events than escalations.
    assert database.count("SELECT COUNT(*) FROM realtime_event WHERE type = 'work_order.escalated'") < count
    assert database.count("SELECT COUNT(*) FROM dispatch_timer WHERE level = 'overdue' AND done_at IS NULL") == 0
    # Each yellow card armed exactly one red card.
    assert database.count("SELECT COUNT(*) FROM dispatch_timer WHERE level = 'serious'") == count


def assert_each_fired_once(database: Database, count: int) -> None:
    assert database.count("SELECT COUNT(*) FROM dispatch_escalation") == count
    assert database.count("SELECT COUNT(DISTINCT clock_id) FROM dispatch_escalation") == count
    assert database.count("SELECT COUNT(*) FROM dispatch_timelineentry WHERE action = 'escalate_overdue'") == count
    assert database.escalations_in_events() == (count, count)
    assert database.count("SELECT COUNT(*) FROM dispatch_timer WHERE level = 'overdue' AND done_at IS NULL") == 0


def test_a_worker_that_died_after_claiming_loses_nothing_and_doubles_nothing(world: World, var_dir: Path) -> None:
    count, batch = 400, 50
    seed_due_timers(world, count, SEEDED_DUE)
    database = database_for_workers(var_dir)
    now = ("--now", WORKER_NOW.isoformat())
    claimed = "SELECT COUNT(*) FROM dispatch_timer WHERE done_at IS NULL AND claim_token != ''"
    # This test plays the worker that is killed right after its claim committed: it claims a batch, an hour's
    # lease, and never fires it.
    claim = (
        "from dispatch.deadlines.escalations import claim_due_timers; import datetime as dt; "
        f"print(len(claim_due_timers(limit={batch}, lease_seconds=3600, now=dt.datetime.fromisoformat('{now[1]}'))[1]))"
    )
    died = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", claim],
        cwd=settings.BASE_DIR,
        env=database.env,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert died.stdout.strip().endswith(str(batch)), died.stdout + died.stderr
    assert database.count(claimed) == batch
    # Another worker takes everything else ...
    assert fired_counts(run_workers(database, 1, "--batch", str(batch), *now)) == [count - batch]
    assert database.count(claimed) == batch
    # ... and after the lease (the worker is told the time) the claimed rows fire, once.
    later = (WORKER_NOW + dt.timedelta(hours=2)).isoformat()
    assert fired_counts(run_workers(database, 1, "--batch", str(batch), "--now", later)) == [batch]
    assert_each_fired_once(database, count)


def test_a_worker_killed_mid_run_loses_nothing_and_doubles_nothing(world: World, var_dir: Path) -> None:
    count, batch = 3000, 10
    seed_due_timers(world, count, SEEDED_DUE)
    database = database_for_workers(var_dir)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_timers", "--once", "--batch", str(batch), "--now", WORKER_NOW.isoformat()],
        cwd=settings.BASE_DIR,
        env=database.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Killed by the test (SIGKILL) once it has fired something: wherever it was, mid-claim or mid-batch.
    deadline = time.monotonic() + WAIT_SECONDS
    while worker.poll() is None and database.count("SELECT COUNT(*) FROM dispatch_escalation") == 0:
        assert time.monotonic() < deadline, "the worker fired nothing"
        time.sleep(0.01)  # polling the database for the condition, not waiting a guessed time
    worker.kill()
    worker.wait(timeout=WAIT_SECONDS)
    fired_before = database.count("SELECT COUNT(*) FROM dispatch_escalation")
    assert fired_before > 0
    # A worker after the lease of whatever the killed one held: everything left fires, nothing twice.
    later = (WORKER_NOW + dt.timedelta(hours=2)).isoformat()
    assert fired_counts(run_workers(database, 1, "--batch", "100", "--now", later)) == [count - fired_before]
    assert_each_fired_once(database, count)


@pytest.fixture
def sleeping_worker(world: World, var_dir: Path) -> Iterator[tuple[Database, subprocess.Popen[str]]]:
    database = database_for_workers(var_dir)
    # It would sleep ten minutes: only the doorbell can bring it back within the test's wait.
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_timers", "--max-sleep", "600"],
        cwd=settings.BASE_DIR,
        env=database.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line.startswith("run_timers: ready"), line
        yield database, worker
    finally:
        worker.terminate()
        worker.wait(timeout=WAIT_SECONDS)


DISPATCH_SCRIPT = """
import datetime as dt
from callcenter.actions import do_create_ticket
from core import clock
from dispatch.actions import do_dispatch_ticket
from organisation.models import Agency, User
from tests.conftest import ticket_payload

with clock.pinned_at(dt.datetime.fromisoformat("{dispatched_at}")):
    ticket, _ = do_create_ticket(ticket_payload(), actor=User.objects.get(username="operator"))
    do_dispatch_ticket(
        ticket.pk,
        actor=User.objects.get(username="dispatcher"),
        lead_agency_id=Agency.objects.get(code="cgj").pk,
        override_reason="test",
    )
"""


def test_a_sleeping_worker_wakes_when_a_nearer_deadline_is_created(
    world: World, sleeping_worker: tuple[Database, subprocess.Popen[str]]
) -> None:
    database, worker = sleeping_worker
    if database.sqlite_path is None:
        # PostgreSQL: the dispatch happens here; NOTIFY reaches the worker on commit.
        with clock.pinned_at(DISPATCHED_AT):
            ticket, _created = do_create_ticket(ticket_payload(), actor=world.users["operator"])
            do_dispatch_ticket(
                ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk, override_reason="test"
            )
    else:
        # SQLite: another process writes the file database and rings the worker's socket.
        writer = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                DISPATCH_SCRIPT.format(dispatched_at=DISPATCHED_AT.isoformat()),
            ],
            cwd=settings.BASE_DIR,
            env=database.env,
            capture_output=True,
            text=True,
            timeout=WAIT_SECONDS,
        )
        assert writer.returncode == 0, writer.stderr
    deadline = time.monotonic() + WAIT_SECONDS
    while database.count("SELECT COUNT(*) FROM dispatch_escalation") < 2:
        assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
        assert time.monotonic() < deadline, "the worker did not wake up"
        time.sleep(0.05)  # polling the database for the outcome, not waiting for the worker to be ready
    assert database.count("SELECT COUNT(*) FROM dispatch_escalation WHERE level IN ('warning', 'overdue')") == 2
