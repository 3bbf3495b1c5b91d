"""Fan-out benchmark: 1,000 centre screens on one Daphne under the issue's load, commit -> last screen.

    .venv/bin/python benchmarks/fanout.py [--screens 1000] [--baseline-screens 100] [--redis]

The load and the target are the issue's: ``ticket.created`` events committed at 5/s for 60 s and then,
without a pause, at 20/s for 10 s (``--steps 5x60,20x10``); every event reaches every screen (0 lost),
and p99 commit -> last screen <= 1 s. For context, the same load then runs against a fresh Daphne with
``--baseline-screens`` (100) screens: what the tenfold audience costs.

All on 127.0.0.1, in a temporary folder: a SQLite file (the embedded default) or, with ``--redis``, a
throwaway PostgreSQL and Redis (scripts/services.py), migrated, with one centre operator (centre screens
receive every event) and a token; one Daphne serving ``config.asgi:application``; a spawned process that
opens the screens (``/ws/events/?last_event_id=<newest>``, the first alone so that the hub starts once,
then 50 handshakes at a time) and records per event id how many screens received it and the first and
last arrival (``time.time_ns()``: one clock for every process), and counts messages and events
received twice or out of order; and the writer, this process, calling ``do_create_ticket`` on schedule
(one ``ticket.created`` event each; the commit time is taken when it returns). An event is lost when a
screen still open never received it within ``--drain`` seconds after the last commit; screens the
server closed are counted apart. The target is reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 90.0
TARGET_P99_MS = 1000.0
TARGET_SCREENS = 1000

# Minimal reference data: one appeal type, one subject, the centre and one agency.
TAXONOMY = {
    "appeal_types": [{"code": "complaint", "name": "投诉", "name_en": "Complaint"}],
    "subjects": [
        {
            "code": "b-urban",
            "name": "城乡建设",
            "children": [{"code": "b-garbage", "name": "垃圾清运", "default_agency_function": "urban_management"}],
        }
    ],
}
TICKET = {
    "channel": "phone",
    "phone": "13812341234",
    "caller_name": "张先生",
    "appeal_type": "complaint",
    "subject": "b-garbage",
    "urgency": "normal",
    "title": "垃圾未清运",
    "description": "小区门口垃圾堆放三天无人清运，气味很大。",
    "address": "柳州市城中区文惠路12号",
    "latitude": 24.3126,
    "longitude": 109.4112,
}


# --- shared set-up (command_rtt.py uses these too) ---------------------------------------------------


@dataclass
class Backend:
    name: str  # "embedded" or "redis"
    env: dict[str, str]  # what every Django process of the run gets
    stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stops):
            stop()


def start_backend(folder: Path, redis: bool, redis_options: str = "") -> Backend:
    """The database (and channel layer) of the run: a SQLite file, or PostgreSQL + Redis servers."""
    env = {
        "HOTLINE_VAR_DIR": str(folder / "var"),
        "DJANGO_SECRET_KEY": "benchmark-" + secrets.token_urlsafe(24),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    if not redis:
        env["SQLITE_PATH"] = str(folder / "benchmark.sqlite3")
        return Backend("embedded", env)
    sys.path.insert(0, str(ROOT / "scripts"))
    import services

    backend = Backend("redis", env)
    # Its own top-level folder: start_postgres hands it to the postgres user when run as root, and that
    # user could not enter ``folder`` (mode 0700, ours).
    pg_folder = tempfile.mkdtemp(prefix="fanout-benchmark-pg-")
    backend.stops.append(lambda: shutil.rmtree(pg_folder, ignore_errors=True))
    try:
        env["DATABASE_URL"], stop_pg = services.start_postgres(pg_folder)
        backend.stops.append(stop_pg)
        redis_url, stop_redis = services.start_redis()
        backend.stops.append(stop_redis)
        # A deployment setting, not code: e.g. socket_timeout=30 in the URL lifts redis-py 8's 5 s default
        # read timeout above channels_redis' 5 s BZPOPMIN (see docs/BENCHMARKS.md).
        env["REDIS_URL"] = redis_url + (f"?{redis_options}" if redis_options else "")
    except BaseException:
        backend.stop()
        raise
    return backend


def setup_django(backend: Backend) -> None:
    """Django in this process on the run's database, migrated; must run before any project import."""
    for name in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH"):
        os.environ.pop(name, None)
    os.environ.update(backend.env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load_average() -> str:
    """The machine's load (1, 5, 15 min): other work on a shared machine shows here."""
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # the port is not open yet: a readiness check
    raise TimeoutError(f"{what} did not listen on {port} within {READY_TIMEOUT:.0f} s")


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], log: Path, port: int, what: str) -> Iterator[int]:
    """A server subprocess listening on 127.0.0.1:port; yields its pid and always stops it."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_open_files_limit,  # Daphne holds one file per socket
        )
    try:
        wait_for_port(port, process, what)
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def daphne_command(port: int) -> list[str]:
    daphne = str(Path(sys.executable).with_name("daphne"))
    return [daphne, "-b", "127.0.0.1", "-p", str(port), "-v", "0", "config.asgi:application"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def machine_info(backend: Backend) -> list[str]:
    import channels
    import daphne
    import django
    import websockets
    from django.db import connection

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()" if connection.vendor == "sqlite" else "show server_version")
        database = f"{connection.display_name} {cursor.fetchone()[0]}"
    layer = "in-memory channel layer"
    if backend.name == "redis":
        import channels_redis

        version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False)
        redis_version = next((part for part in version.stdout.split() if part.startswith("v=")), "v=?")[2:]
        layer = f"Redis {redis_version} (channels_redis {channels_redis.__version__})"
    return [
        f"python {platform.python_version()}, Django {django.__version__}, channels {channels.__version__}, "
        f"daphne {daphne.__version__}, websockets {websockets.__version__}; {database}, {layer}",
        f"{platform.platform()}; CPUs: {os.cpu_count()} ({usable} usable){'; ' + model if model else ''}",
    ]


def show_logs(folder: Path, keep: str | None, names: Sequence[str] = ("daphne.log",)) -> None:
    """What the helper processes said (warnings, errors): the run's folder is removed afterwards."""
    for log in names:
        path = folder / log
        if path.exists() and path.stat().st_size:
            print(f"\n--- {log} (last 2,000 characters) ---\n{path.read_text(errors='replace')[-2000:]}")
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                shutil.copy(path, Path(keep) / log)


# --- the screens (a spawned process) ------------------------------------------------------------------

EVENT_START = '{"kind":"event","id":'  # how realtime.hub.encode_event begins every event


def event_ids(text: str | bytes) -> list[int]:
    """The ids of the events in an "event" or "events" message, found where each event starts.

    Cheaper than parsing each message: the screens are here to measure, not to be the slowest part of
    the run (no payload of this benchmark contains that text)."""
    text = text if isinstance(text, str) else ""
    ids, at = [], text.find(EVENT_START)
    while at >= 0:
        end = text.index(",", at + len(EVENT_START))
        ids.append(int(text[at + len(EVENT_START) : end]))
        at = text.find(EVENT_START, end)
    return ids


class Arrivals:
    """Per event id: how many screens received it, and the first and the last arrival (ns)."""

    def __init__(self) -> None:
        self.by_id: dict[int, list[int]] = {}
        self.messages = self.duplicates = self.out_of_order = 0

    def record(self, seen: dict[int, None], text: str | bytes) -> None:
        """``seen``: the ids one screen received, in the order they came."""
        now = time.time_ns()
        self.messages += 1
        for event_id in event_ids(text):
            if event_id in seen:
                self.duplicates += 1
                continue
            if seen and event_id < next(reversed(seen)):
                self.out_of_order += 1
            seen[event_id] = None
            entry = self.by_id.setdefault(event_id, [0, now, now])
            entry[0] += 1
            entry[2] = now


async def screens_main(url: str, origin: str, token: str, count: int, control: Connection) -> None:
    """Open ``count`` screens, report when they are live, then answer the writer's "wait" requests."""
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed

    arrivals = Arrivals()
    headers = {"Origin": origin, "Authorization": f"Token {token}"}
    limit = asyncio.Semaphore(50)  # handshakes in flight
    screens: list[tuple[ClientConnection, dict[int, None]]] = []
    readers: list[asyncio.Task[None]] = []
    failures: Counter[str] = Counter()
    closed: Counter[str] = Counter()

    async def read(ws: ClientConnection, seen: dict[int, None]) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in ws:
                arrivals.record(seen, text)
        closed[f"code {ws.close_code}"] += 1

    async def open_one() -> None:
        async with limit:
            try:
                ws = await connect(url, additional_headers=headers, compression=None, proxy=None, ping_interval=None)
                seen: dict[int, None] = {}
                while not str(text := await asyncio.wait_for(ws.recv(), 60)).startswith('{"kind":"live"'):
                    arrivals.record(seen, text)  # the replay: nothing, normally
            except Exception as error:
                failures[type(error).__name__] += 1
                return
            screens.append((ws, seen))
            readers.append(asyncio.create_task(read(ws, seen)))

    started = time.monotonic()
    await open_one()
    await asyncio.gather(*(open_one() for _ in range(count - 1)))
    control.send({"ready": len(screens), "failures": dict(failures), "seconds": time.monotonic() - started})
    while (request := await asyncio.to_thread(control.recv)) is not None:
        # Until every open screen has every id, or the drain time is up; then the figures.
        ids, deadline = request["ids"], time.monotonic() + request["timeout"]
        while time.monotonic() < deadline and any(
            event_id not in seen for ws, seen in screens if ws.close_code is None for event_id in ids
        ):
            await asyncio.sleep(0.1)  # the drain: polled, the screens' readers run meanwhile
        still_open = [seen for ws, seen in screens if ws.close_code is None]
        control.send(
            {
                "arrivals": {i: arrivals.by_id.get(i, [0, 0, 0]) for i in ids},
                "missing": {i: sum(1 for seen in still_open if i not in seen) for i in ids},
                "messages": arrivals.messages,
                "duplicates": arrivals.duplicates,
                "out_of_order": arrivals.out_of_order,
                "closed": dict(closed),
            }
        )
    for ws, _seen in screens:
        ws.transport.abort()  # no closing handshakes: a thousand of them would only slow the exit down


def screens_process(url: str, origin: str, token: str, count: int, control: Connection) -> None:
    raise_open_files_limit()
    asyncio.run(screens_main(url, origin, token, count, control))


class Screens:
    """The screens' process, spawned (not forked from this process, which has Django and threads)."""

    def __init__(self, url: str, origin: str, token: str, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.control, theirs = context.Pipe()
        self.process = context.Process(target=screens_process, args=(url, origin, token, count, theirs), daemon=True)
        self.process.start()
        self.pid = int(self.process.pid or 0)

    def read(self, timeout: float) -> dict[str, Any]:
        if not self.control.poll(timeout):
            raise TimeoutError(f"the screens' process did not answer within {timeout:.0f} s")
        return dict(self.control.recv())

    def wait(self, ids: list[int], drain: float) -> dict[str, Any]:
        self.control.send({"ids": ids, "timeout": drain})
        return self.read(drain + 120)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.control.send(None)
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


# --- the writer and the run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    rate: float  # events per second
    seconds: float


def parse_steps(text: str) -> list[Step]:
    """From "5x60,20x10": 5 events/s for 60 s, then 20 events/s for 10 s."""
    return [Step(*(float(number) for number in part.split("x"))) for part in text.split(",")]


@dataclass
class StepResult:
    step: Step
    latency_ms: list[float]  # per event every open screen received: the last screen's arrival - commit
    first_ms: list[float]  # per event: the first screen's arrival - commit
    events: int
    rate: float  # events committed per second: below the step's when the writer could not keep up
    lost: int  # events that some screen still open never received
    cpu: dict[str, float]  # share of one core during the step: server, screens, writer


@dataclass
class Run:
    screens: int
    ready: int
    steps: list[StepResult]
    stats: dict[str, Any]  # the screens' counts after the load: messages, duplicates, out_of_order, closed


def create_world() -> tuple[Any, str]:
    """The centre with one operator (a centre role: receives every event) and the operator's token."""
    from organisation.actions import do_load_taxonomy, do_upsert_agency, do_upsert_user
    from organisation.identity.tokens import issue_token
    from organisation.models import Role

    do_upsert_agency(code="centre", name="12345热线", kind="centre", function="hotline")
    do_load_taxonomy(TAXONOMY)
    operator = do_upsert_user(username="operator", password=None, roles=[Role.OPERATOR], agency_code="centre")
    return operator, issue_token(operator)[1]


def ticket_writer(operator: Any) -> Callable[[], list[tuple[int, int]]]:
    """Creates one ticket (committing its event); returns the new events as (id, commit time ns)."""
    from callcenter.actions import do_create_ticket
    from realtime.models import Event
    from realtime.queries import latest_event_id

    newest = latest_event_id()

    def write() -> list[tuple[int, int]]:
        nonlocal newest
        do_create_ticket(dict(TICKET), actor=operator)  # commits inside
        committed = time.time_ns()
        ids = list(Event.objects.filter(id__gt=newest).values_list("id", flat=True))
        newest = max([newest, *ids])
        return [(event_id, committed) for event_id in ids]

    return write


def run_load(
    steps: list[Step], write: Callable[[], list[tuple[int, int]]], screens: Screens, pids: dict[str, int], drain: float
) -> tuple[list[StepResult], dict[str, Any]]:
    """Commit on schedule, step after step without a pause; then wait for the screens and collect."""

    def cpu_now() -> dict[str, float]:
        return {**{name: cpu_seconds(pid) for name, pid in pids.items()}, "writer": time.process_time()}

    commits: list[list[tuple[int, int]]] = [[] for _ in steps]
    cpu, walls = [], []
    due = time.monotonic() + 0.2
    for index, step in enumerate(steps):
        before, started = cpu_now(), time.monotonic()
        for _ in range(round(step.rate * step.seconds)):
            time.sleep(max(0.0, due - time.monotonic()))  # on schedule, or at once when behind it
            commits[index] += write()
            due += 1 / step.rate
        after, wall = cpu_now(), time.monotonic() - started
        cpu.append({name: (after[name] - before[name]) / wall for name in after})
        walls.append(wall)
    stats = screens.wait([event_id for step_commits in commits for event_id, _committed in step_commits], drain)
    results = []
    for index, step in enumerate(steps):
        latency, first, lost = [], [], 0
        for event_id, committed in commits[index]:
            received, first_at, last_at = stats["arrivals"][event_id]
            if received:
                first.append((first_at - committed) / 1e6)
            if stats["missing"][event_id] or not received:
                lost += 1
            else:
                latency.append((last_at - committed) / 1e6)
        events = len(commits[index])
        results.append(StepResult(step, latency, first, events, events / walls[index], lost, cpu[index]))
    return results, stats


def run(args: argparse.Namespace, backend: Backend, folder: Path, count: int, operator: Any, token: str) -> Run:
    """A fresh Daphne, ``count`` screens, a short warm-up (not reported), then the load."""
    from realtime.queries import latest_event_id

    port = free_port()
    with running(daphne_command(port), backend.env, folder / "daphne.log", port, "daphne") as server_pid:
        url = f"ws://127.0.0.1:{port}/ws/events/?last_event_id={latest_event_id()}"
        screens = Screens(url, f"http://127.0.0.1:{port}", token, count)
        try:
            ready = screens.read(READY_TIMEOUT + count / 10)
            failed = f"; failures: {ready['failures']}" if ready["failures"] else ""
            print(f"  {ready['ready']:,} of {count:,} screens live in {ready['seconds']:.1f} s{failed}", flush=True)
            write, pids = ticket_writer(operator), {"server": server_pid, "screens": screens.pid}
            _warm_up, before = run_load([Step(2.0, 2.5)], write, screens, pids, args.drain)
            steps, stats = run_load(args.steps, write, screens, pids, args.drain)
        finally:
            screens.close()
    stats["messages"] -= before["messages"]
    stats["closed"] = {code: n - before["closed"].get(code, 0) for code, n in stats["closed"].items()}
    return Run(count, int(ready["ready"]), steps, stats)


# --- report -------------------------------------------------------------------------------------------


def whole(run_: Run) -> StepResult:
    """The run's steps taken together (without CPU figures)."""
    steps = run_.steps
    latency, first = [ms for r in steps for ms in r.latency_ms], [ms for r in steps for ms in r.first_ms]
    events, wall = sum(r.events for r in steps), sum(r.events / r.rate for r in steps)
    return StepResult(Step(0.0, wall), latency, first, events, events / wall, sum(r.lost for r in steps), {})


def print_report(runs: list[Run]) -> None:
    print("\nLatency in ms, commit -> last screen (first: commit -> first screen); CPU as a share of one core")
    print(
        f"  {'screens':>7} {'step':<14} {'events':>6} {'got/s':>5} {'first p50':>9} {'p50':>7} {'p99':>7} "
        f"{'max':>7} {'lost':>4} {'srv cpu':>7} {'scr cpu':>7} {'wrt cpu':>7}"
    )
    for run_ in runs:
        for result in [*run_.steps, whole(run_)]:
            step, latency = result.step, result.latency_ms
            label = f"{step.rate:g}/s x {step.seconds:g} s" if step.rate else "whole run"
            usage = " ".join(f"{result.cpu[name]:>7.0%}" for name in ("server", "screens", "writer") if result.cpu)
            print(
                f"  {run_.screens:>7,} {label:<14} {result.events:>6} {result.rate:>5.1f} "
                f"{percentile(result.first_ms, 50):>9.1f} {percentile(latency, 50):>7.1f} "
                f"{percentile(latency, 99):>7.1f} {max(latency, default=float('nan')):>7.1f} {result.lost:>4} {usage}"
            )
        stats, closed = run_.stats, {code: n for code, n in run_.stats["closed"].items() if n}
        print(
            f"  {'':>7} {run_.ready:,} screens live; {stats['messages']:,} messages "
            f"({stats['messages'] / max(run_.ready, 1):,.0f} per screen); events received twice "
            f"{stats['duplicates']}, out of order {stats['out_of_order']}; closed by the server: {closed or 'none'}"
        )
    target = next((run_ for run_ in runs if run_.screens == TARGET_SCREENS), None)
    if target is not None:
        result, closed_count = whole(target), sum(target.stats["closed"].values())
        p99 = percentile(result.latency_ms, 99)
        intact = result.lost == 0 and closed_count == 0 and target.ready == TARGET_SCREENS
        print(f"\nTarget from the issue ({TARGET_SCREENS:,} screens, the whole run):")
        print(f"  0 lost: {result.lost} lost, {closed_count} closed  {'met' if intact else 'NOT MET'}")
        print(f"  p99 <= {TARGET_P99_MS:,.0f} ms: {p99:,.1f} ms  {'met' if p99 <= TARGET_P99_MS else 'NOT MET'}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--screens", type=int, default=TARGET_SCREENS, help="screens of the target run (1,000)")
    parser.add_argument("--baseline-screens", type=int, default=100, help="screens of the context run; 0: none")
    parser.add_argument("--steps", type=parse_steps, default="5x60,20x10", help="RATExSECONDS,... (5x60,20x10)")
    parser.add_argument("--redis", action="store_true", help="PostgreSQL + Redis instead of the embedded default")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to wait for stragglers after the load")
    parser.add_argument("--logs", help="copy the Daphne's log to this folder")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fanout-benchmark-") as name:
        folder = Path(name)
        (folder / "var").mkdir()
        started = time.perf_counter()
        backend = start_backend(folder, args.redis)
        try:
            setup_django(backend)
            from django.db import connections

            try:
                operator, token = create_world()
                print(f"Set-up ({backend.name}): services + migrate + world in {time.perf_counter() - started:.1f} s")
                print("Machine: " + "\n         ".join(machine_info(backend)))
                load = ", then ".join(f"{step.rate:g}/s for {step.seconds:g} s" for step in args.steps)
                print(f"Load: {load}; load average at start {load_average()}")
                runs = []
                for count in (args.screens, args.baseline_screens):
                    if count:
                        print(f"{count:,} screens:", flush=True)
                        runs.append(run(args, backend, folder, count, operator, token))
                print_report(runs)
                print(f"\nLoad average at the end: {load_average()}")
            finally:
                connections.close_all()
        finally:
            backend.stop()
            show_logs(folder, args.logs)
    return 0  # the target is reported, never asserted


if __name__ == "__main__":
    sys.exit(main())
