"""Fan-out benchmark: commit-to-last-client latency for N live sockets, ours against plain `websockets`.

Run from the project root:

    .venv/bin/python benchmarks/fanout.py [--clients 1000] [--rates 1,20] [--seconds 30] [--redis]
                                          [--writer direct|http]

Everything runs on 127.0.0.1 in a temporary folder and stops by itself:

- the database: a SQLite file (``SQLITE_PATH``; the embedded default, in-memory channel layer) or, with
  ``--redis``, a throwaway PostgreSQL and Redis from scripts/services.py (``DATABASE_URL``/``REDIS_URL``);
  migrated, with one centre operator and a DRF token;
- ours: one Daphne process serving ``config.asgi:application``; a client process (this script with
  ``--role clients``) opens N sockets to ``/ws/events/?last_event_id=<newest>`` with the operator's
  token and an Origin header, waits for "live" on every one, and records per event id when each socket
  received it (``time.time_ns()``, one clock for all processes of the machine). The first socket connects
  alone, so that the Daphne's hub starts once; ``--all-at-once`` opens all together (the hub's start-up
  race, docs/BENCHMARKS.md);
- the writer (this process, Django set up on the same database) creates tickets at each rate for
  ``--seconds``: ``--writer direct`` calls ``callcenter.actions.do_create_ticket`` (commit inside; the
  commit time is taken when it returns); ``--writer http`` POSTs ``/api/tickets/`` to the Daphne under
  test (the commit happens inside the request; the time is taken *before* the request is sent, so the
  latency includes the request's own handling). Each creation commits one ``ticket.created`` event;
- the baseline: a plain ``websockets`` server (this script with ``--role server``) that, for every id it
  is told over a control socket, calls ``broadcast()`` with a message of the same size and shape as our
  event; the same client process and rates; the time is taken just before the control message is sent.

Per event: latency = the last client's arrival - commit (or send) time; an event is lost when some
client never received it within ``--drain`` seconds after the phase. Deliveries/s = deliveries received
/ (last arrival - first commit). Targets from the issue are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import queue
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
PREFIX = '{"kind":"event","id":'
LIVE = '{"kind":"live"'
READY_TIMEOUT = 90.0
P99_MS = 150.0  # targets from the issue
RATIO = 2.0

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
        stop_process(process)


def stop_process(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
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

    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            database = f"SQLite {cursor.fetchone()[0]} (WAL)"
        else:
            cursor.execute("show server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]}"
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


# --- the client process (--role clients) --------------------------------------------------------------


class Recorder:
    """Per event id: how many sockets received it, first and last arrival (ns)."""

    def __init__(self) -> None:
        self.arrivals: dict[int, list[int]] = {}
        self.duplicates = 0
        self.closed: dict[str, int] = {}

    def record(self, event_id: int, now: int, seen: set[int]) -> None:
        if event_id in seen:
            self.duplicates += 1
            return
        seen.add(event_id)
        entry = self.arrivals.get(event_id)
        if entry is None:
            self.arrivals[event_id] = [1, now, now]
        else:
            entry[0] += 1
            entry[2] = max(entry[2], now)


def event_id_of(text: str | bytes) -> int | None:
    if isinstance(text, str) and text.startswith(PREFIX):
        end = text.find(",", len(PREFIX))
        return int(text[len(PREFIX) : end])
    return None


async def clients_main(args: argparse.Namespace) -> None:
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed

    raise_open_files_limit()
    recorder = Recorder()
    headers = {"Origin": args.origin}
    token = os.environ.get("BENCHMARK_TOKEN", "")
    if token:
        headers["Authorization"] = f"Token {token}"
    limit = asyncio.Semaphore(args.connect_concurrency)
    sockets: list[tuple[ClientConnection, set[int]]] = []  # each socket with the ids it received
    readers: list[asyncio.Task[None]] = []
    failures: dict[str, int] = {}

    async def read(ws: ClientConnection, seen: set[int]) -> None:
        try:
            async for text in ws:
                now = time.time_ns()
                event_id = event_id_of(text)
                if event_id is not None:
                    recorder.record(event_id, now, seen)
        except ConnectionClosed:
            pass
        reason = f"code {ws.close_code}"
        recorder.closed[reason] = recorder.closed.get(reason, 0) + 1

    async def open_one() -> None:
        async with limit:
            try:
                ws = await connect(
                    args.url,
                    additional_headers=headers,
                    compression=None,
                    proxy=None,
                    ping_interval=None,
                    open_timeout=60,
                    close_timeout=5,
                    max_size=2**24,
                )
                seen: set[int] = set()
                while True:  # replay (nothing, normally) until "live"
                    text = await asyncio.wait_for(ws.recv(), 60)
                    event_id = event_id_of(text)
                    if event_id is not None:
                        recorder.record(event_id, time.time_ns(), seen)
                    elif isinstance(text, str) and text.startswith(LIVE):
                        break
            except Exception as error:
                name = type(error).__name__
                failures[name] = failures.get(name, 0) + 1
                return
            sockets.append((ws, seen))
            readers.append(asyncio.create_task(read(ws, seen)))

    def missing_on_open(ids: list[int]) -> dict[int, int]:
        """Per id, how many sockets that are still open have not received it."""
        still_open = [seen for ws, seen in sockets if ws.close_code is None]
        return {i: sum(1 for seen in still_open if i not in seen) for i in ids}

    started = time.monotonic()
    if not args.all_at_once:
        await open_one()  # the first socket alone: the server's per-process hub starts once
    await asyncio.gather(*(open_one() for _ in range(args.clients - len(sockets) - sum(failures.values()))))
    reply({"ready": len(sockets), "failures": failures, "seconds": time.monotonic() - started})

    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while True:
        line = await stdin.readline()
        if not line:
            break
        command = json.loads(line)
        if command["cmd"] == "wait":
            # Until every open socket has every id, or the timeout; then the statistics of those ids.
            ids = [int(i) for i in command["ids"]]
            deadline = time.monotonic() + float(command["timeout"])
            checked = 0.0
            while time.monotonic() < deadline:
                if all(recorder.arrivals.get(i, [0])[0] >= len(sockets) for i in ids):
                    break
                if time.monotonic() - checked > 0.5:  # some socket was closed: the exact (slower) check
                    if not any(missing_on_open(ids).values()):
                        break
                    checked = time.monotonic()
                await asyncio.sleep(0.01)
            missing = missing_on_open(ids)
            reply(
                {
                    "stats": {str(i): [*recorder.arrivals.get(i, [0, 0, 0]), missing[i]] for i in ids},
                    "open": sum(1 for ws, _seen in sockets if ws.close_code is None),
                    "duplicates": recorder.duplicates,
                    "closed": recorder.closed,
                }
            )
        elif command["cmd"] == "quit":
            break
    for task in readers:
        task.cancel()
    for ws, _seen in sockets:
        ws.transport.abort()  # no closing handshake: 1,000 of them would only slow the exit down
    await asyncio.gather(*readers, return_exceptions=True)


def reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class Clients:
    """The client process as seen from the writer: JSON lines over its stdin and stdout."""

    def __init__(
        self,
        url: str,
        origin: str,
        token: str,
        count: int,
        concurrency: int,
        lifetime: float,
        log: Path,
        all_at_once: bool = False,
    ):
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--role",
                "clients",
                "--url",
                url,
                "--origin",
                origin,
                "--clients",
                str(count),
                "--connect-concurrency",
                str(concurrency),
                *(["--all-at-once"] if all_at_once else []),
                "--lifetime",
                str(lifetime),
            ],
            cwd=ROOT,
            env={**os.environ, "BENCHMARK_TOKEN": token},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.closed: dict[str, int] = {}  # sockets closed so far, by close code
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(self.process.stdout,), daemon=True).start()

    def _pump(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            self.lines.put(line)
        self.lines.put("")

    def read(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the client process did not answer within {timeout:.0f} s") from None
        if not line:
            raise RuntimeError(f"the client process exited (status {self.process.poll()}); see {self.log.name}")
        return dict(json.loads(line))

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def wait(self, ids: list[int], timeout: float) -> dict[str, Any]:
        self.send({"cmd": "wait", "ids": ids, "timeout": timeout})
        return self.read(timeout + 60)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.send({"cmd": "quit"})
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.log.close()


# --- the baseline server (--role server) -------------------------------------------------------------


async def server_main(args: argparse.Namespace) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    raise_open_files_limit()
    rest = Path(args.template).read_text(encoding="utf-8")
    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path == "/control":
            async for message in ws:  # one event id per message
                broadcast(clients, PREFIX + str(message) + rest)
            return
        clients.add(ws)
        try:
            await ws.send('{"kind":"live","last_event_id":0}')
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async with serve(
        handler, "127.0.0.1", args.port, compression=None, ping_interval=None, max_size=2**16, backlog=2048
    ):
        await asyncio.Event().wait()


# --- the writer and the run ---------------------------------------------------------------------------


@dataclass
class Phase:
    server: str
    rate: float
    sent: int
    seconds: float  # from the first commit to the last
    late: int  # commits that started after their slot
    write_ms: list[float]  # duration of each action / request / control send
    latency_ms: list[float]  # per fully delivered event: last client's arrival - commit
    first_ms: list[float]  # per event: first client's arrival - commit
    lost_events: int  # events that some socket still open after the phase never received
    lost_deliveries: int
    deliveries: int
    deliveries_per_second: float
    duplicates: int
    server_cpu: float  # share of one core over the phase
    clients_cpu: float
    writer_cpu: float
    sockets: int  # open after the phase
    closed: dict[str, int]  # sockets closed during the phase (by the server), by close code


Writer = Callable[[], list[tuple[int, int]]]  # commits one event; returns [(event id, commit time ns)]


def run_phase(
    server: str,
    rate: float,
    seconds: float,
    write: Writer,
    clients: Clients,
    pids: dict[str, int],
    drain: float,
    durations: list[float],
) -> Phase:
    count = max(1, round(rate * seconds))
    commits: dict[int, int] = {}
    late = 0
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    writer_before = time.process_time()
    wall_before = time.monotonic()
    durations.clear()
    start = time.monotonic() + 0.2
    give_up = start + max(2 * seconds, seconds + 30)  # a writer that cannot keep the rate stops here
    for k in range(count):
        if time.monotonic() > give_up:
            break
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            late += 1
        commits.update(write())
    stats = clients.wait(sorted(commits), drain)
    wall = time.monotonic() - wall_before
    cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    closed_total: dict[str, int] = stats["closed"]
    closed = {code: n - clients.closed.get(code, 0) for code, n in closed_total.items()}
    clients.closed = dict(closed_total)
    latency, first, lost_events, lost_deliveries, deliveries, last_arrival = [], [], 0, 0, 0, 0
    for event_id, committed in commits.items():
        received, first_at, last_at, missing = stats["stats"][str(event_id)]
        deliveries += received
        if received:
            first.append((first_at - committed) / 1e6)
            last_arrival = max(last_arrival, last_at)
        if missing or not received:
            lost_events += 1
            lost_deliveries += missing
        else:
            latency.append((last_at - committed) / 1e6)
    span = (last_arrival - min(commits.values())) / 1e9 if last_arrival else float("nan")
    return Phase(
        server=server,
        rate=rate,
        sent=len(commits),
        seconds=(max(commits.values()) - min(commits.values())) / 1e9,
        late=late,
        write_ms=list(durations),
        latency_ms=latency,
        first_ms=first,
        lost_events=lost_events,
        lost_deliveries=lost_deliveries,
        deliveries=deliveries,
        deliveries_per_second=deliveries / span if span > 0 else float("nan"),
        duplicates=int(stats["duplicates"]),
        server_cpu=(cpu_after["server"] - cpu_before["server"]) / wall,
        clients_cpu=(cpu_after["clients"] - cpu_before["clients"]) / wall,
        writer_cpu=(time.process_time() - writer_before) / wall,
        sockets=int(stats["open"]),
        closed={code: n for code, n in closed.items() if n},
    )


def create_world() -> tuple[Any, str]:
    """The centre with one operator (a centre role: receives every event) and the operator's token."""
    from rest_framework.authtoken.models import Token

    from callcenter.actions import do_load_taxonomy
    from dispatch.actions import do_upsert_agency, do_upsert_user
    from dispatch.models import Role

    do_upsert_agency(code="centre", name="12345热线", kind="centre", function="hotline")
    do_load_taxonomy(TAXONOMY)
    operator = do_upsert_user(username="operator", password=None, roles=[Role.OPERATOR], agency_code="centre")
    return operator, Token.objects.get_or_create(user=operator)[0].key


def direct_writer(operator: Any, durations: list[float]) -> Writer:
    from callcenter.actions import do_create_ticket
    from realtime.models import Event
    from realtime.queries import latest_event_id

    last = [latest_event_id()]

    def write() -> list[tuple[int, int]]:
        before = time.time_ns()
        do_create_ticket(dict(TICKET), actor=operator)  # the commit is inside
        committed = time.time_ns()
        durations.append((committed - before) / 1e6)
        ids = list(Event.objects.filter(id__gt=last[0]).values_list("id", flat=True))
        last[0] = max([last[0], *ids])
        return [(event_id, committed) for event_id in ids]

    return write


def http_writer(port: int, token: str, durations: list[float]) -> Writer:
    from realtime.models import Event
    from realtime.queries import latest_event_id

    last = [latest_event_id()]
    body = json.dumps(TICKET).encode()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only, never a proxy

    def write() -> list[tuple[int, int]]:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/tickets/", data=body, headers=headers)
        sent = time.time_ns()  # the commit happens inside the request: this is an upper bound on latency
        with opener.open(request, timeout=30) as response:
            response.read()
        durations.append((time.time_ns() - sent) / 1e6)
        ids = list(Event.objects.filter(id__gt=last[0]).values_list("id", flat=True))
        last[0] = max([last[0], *ids])
        return [(event_id, sent) for event_id in ids]

    return write


def baseline_writer(control: Any, durations: list[float]) -> Writer:
    """Tells the baseline server to broadcast the next id, over an open control socket."""
    counter = [0]

    def write() -> list[tuple[int, int]]:
        counter[0] += 1
        sent = time.time_ns()
        control.send(str(counter[0]))
        durations.append((time.time_ns() - sent) / 1e6)
        return [(counter[0], sent)]

    return write


def session(
    server: str,
    args: argparse.Namespace,
    folder: Path,
    url: str,
    origin: str,
    token: str,
    server_pid: int,
    make_writer: Callable[[list[float]], Writer],
) -> list[Phase]:
    """Connect the clients once, warm up, then one phase per rate on the same sockets."""
    lifetime = 300 + len(args.rates) * (args.seconds + args.drain + 90)
    clients = Clients(
        url, origin, token, args.clients, args.connect_concurrency, lifetime, folder / "clients.log", args.all_at_once
    )
    try:
        ready = clients.read(READY_TIMEOUT + args.clients / 10)
        print(
            f"  {server}: {ready['ready']:,} of {args.clients:,} sockets live in {ready['seconds']:.1f} s"
            + (f"; failures: {ready['failures']}" if ready["failures"] else ""),
            flush=True,
        )
        durations: list[float] = []
        write = make_writer(durations)
        pids = {"server": server_pid, "clients": clients.process.pid}
        run_phase(server, 2.0, 1.5, write, clients, pids, args.drain, durations)  # warm-up, not reported
        phases = []
        for rate in args.rates:
            phase = run_phase(server, rate, args.seconds, write, clients, pids, args.drain, durations)
            print(
                f"  {server} at {rate:g}/s: {phase.sent} events, p99 {percentile(phase.latency_ms, 99):.1f} ms, "
                f"lost {phase.lost_events}",
                flush=True,
            )
            phases.append(phase)
        return phases
    finally:
        clients.close()


def run_ours(args: argparse.Namespace, backend: Backend, folder: Path, operator: Any, token: str) -> list[Phase]:
    from realtime.queries import latest_event_id

    port = free_port()
    env = dict(backend.env)
    if args.poll_seconds is not None:
        env["HOTLINE_EVENT_POLL_SECONDS"] = str(args.poll_seconds)
    with running(daphne_command(port), env, folder / "daphne.log", port, "daphne") as pid:
        url = f"ws://127.0.0.1:{port}/ws/events/?last_event_id={latest_event_id()}"

        def make_writer(durations: list[float]) -> Writer:
            if args.writer == "http":
                return http_writer(port, token, durations)
            return direct_writer(operator, durations)

        return session("ours", args, folder, url, f"http://127.0.0.1:{port}", token, pid, make_writer)


def run_baseline(args: argparse.Namespace, folder: Path, template: Path) -> list[Phase]:
    from websockets.sync.client import connect

    port = free_port()
    command = [sys.executable, str(Path(__file__).resolve()), "--role", "server", "--port", str(port)]
    command += ["--template", str(template)]
    with (
        running(command, {}, folder / "baseline.log", port, "baseline server") as pid,
        connect(f"ws://127.0.0.1:{port}/control", compression=None, proxy=None) as control,
    ):
        origin = f"http://127.0.0.1:{port}"
        return session(
            "baseline",
            args,
            folder,
            f"ws://127.0.0.1:{port}/",
            origin,
            "",
            pid,
            lambda durations: baseline_writer(control, durations),
        )


def event_template(operator: Any, folder: Path) -> Path:
    """What follows the id in a real ticket.created event, for the baseline's messages (same size)."""
    from callcenter.actions import do_create_ticket
    from realtime.hub import encode_event
    from realtime.models import Event

    ticket, _created = do_create_ticket(dict(TICKET), actor=operator)
    text = encode_event(Event.objects.filter(ticket_id=ticket.pk, type="ticket.created").get())
    path = folder / "template.txt"
    path.write_text(text[text.index(",", len(PREFIX)) :], encoding="utf-8")
    return path


# --- report -------------------------------------------------------------------------------------------


def achieved(phase: Phase) -> float:
    """Events per second the writer actually committed (below the rate when it could not keep up)."""
    return (phase.sent - 1) / phase.seconds if phase.seconds > 0 else float("nan")


def print_report(args: argparse.Namespace, backend: Backend, phases: list[Phase]) -> list[tuple[str, str, bool | None]]:
    print(
        f"\n{backend.name}: {args.clients:,} clients, {args.seconds:g} s per rate, writer {args.writer}; "
        "latency = last client's arrival - commit, in ms"
    )
    header = (
        f"  {'server':<9} {'rate':>5} {'events':>6} {'got/s':>5} {'late':>4} {'write p50':>9} {'first p50':>9} "
        f"{'p50':>7} {'p99':>7} {'max':>7} {'lost ev':>7} {'lost dl':>7} {'deliv/s':>8} {'srv cpu':>7} {'cli cpu':>7} "
        f"{'wrt cpu':>7}"
    )
    print(header)
    for p in phases:
        p50, p99 = percentile(p.latency_ms, 50), percentile(p.latency_ms, 99)
        worst = max(p.latency_ms, default=float("nan"))
        print(
            f"  {p.server:<9} {p.rate:>4g}/s {p.sent:>6} {achieved(p):>5.1f} {p.late:>4} "
            f"{percentile(p.write_ms, 50):>9.1f} {percentile(p.first_ms, 50):>9.1f} {p50:>7.1f} {p99:>7.1f} "
            f"{worst:>7.1f} {p.lost_events:>7} {p.lost_deliveries:>7} {p.deliveries_per_second:>8,.0f} "
            f"{p.server_cpu:>7.0%} {p.clients_cpu:>7.0%} {p.writer_cpu:>7.0%}"
        )
        if p.duplicates or p.closed or p.sockets != args.clients:
            codes = ", ".join(f"{n} with {code}" for code, n in p.closed.items()) or "none"
            print(
                f"            sockets still open {p.sockets:,}; closed by the server during the phase: {codes}; "
                f"duplicates {p.duplicates}"
            )
    # The targets: ratio <= 2 at 1/s; p99 <= 150 ms and zero loss, judged here at every rate.
    targets: list[tuple[str, str, bool | None]] = []
    by = {(p.server, p.rate): p for p in phases}
    for rate in args.rates:
        ours, base = by.get(("ours", rate)), by.get(("baseline", rate))
        if ours is None:
            continue
        p99 = percentile(ours.latency_ms, 99)
        if base is not None:
            ratio = p99 / percentile(base.latency_ms, 99)
            if rate == 1:
                targets.append((f"p99 ours / baseline <= {RATIO:g} at 1/s", f"{ratio:.2f}", ratio <= RATIO))
            else:
                targets.append((f"p99 ours / baseline at {rate:g}/s", f"{ratio:.2f} (no target)", None))
        targets.append((f"p99 <= {P99_MS:g} ms at {rate:g}/s", f"{p99:.1f} ms", p99 <= P99_MS))
        closed = sum(ours.closed.values())
        lost = f"{ours.lost_events} events, {ours.lost_deliveries} deliveries lost; {closed} sockets closed"
        targets.append((f"zero loss at {rate:g}/s", lost, ours.lost_events == 0 and closed == 0))
    print(f"\nTargets from the issue ({backend.name}, writer {args.writer}):")
    for text, value, met in targets:
        status = "-" if met is None else ("met" if met else "NOT MET")
        print(f"  {text:<36} {value:<36} {status}")
    return targets


LOGS = ("daphne.log", "clients.log", "baseline.log")


def show_logs(folder: Path, keep: str | None, names: Sequence[str] = LOGS) -> None:
    """What the helper processes said (warnings, errors): the run's folder is removed afterwards."""
    for log in names:
        path = folder / log
        if path.exists() and path.stat().st_size:
            print(f"\n--- {log} (last 2,000 characters) ---\n{path.read_text(errors='replace')[-2000:]}")
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                shutil.copy(path, Path(keep) / log)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=1000, help="WebSocket clients (default 1,000)")
    parser.add_argument(
        "--rates", type=lambda s: [float(r) for r in s.split(",")], default=[1.0, 20.0], help="events/s (1,20)"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each rate (default 30)")
    parser.add_argument("--redis", action="store_true", help="PostgreSQL + Redis instead of the embedded default")
    parser.add_argument(
        "--redis-url-options",
        default="",
        help="query string appended to REDIS_URL for every process, e.g. socket_timeout=30 (default: none)",
    )
    parser.add_argument(
        "--writer",
        choices=("direct", "http"),
        default="direct",
        help="commit through do_create_ticket in this process (default) or POST /api/tickets/ to the Daphne",
    )
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to wait for stragglers after a phase")
    parser.add_argument("--connect-concurrency", type=int, default=50, help="handshakes in flight while connecting")
    parser.add_argument(
        "--all-at-once",
        action="store_true",
        help="open every socket concurrently, the first one too (default: the first alone, then the rest); "
        "shows the hub's start-up race (docs/BENCHMARKS.md)",
    )
    parser.add_argument("--logs", help="copy the servers' and clients' logs to this folder")
    parser.add_argument("--servers", default="ours,baseline", help="which servers to run (ours,baseline)")
    parser.add_argument(
        "--poll-seconds", type=float, help="HOTLINE_EVENT_POLL_SECONDS for the Daphne (default: the app's, 1 s)"
    )
    # Internal: the client process and the baseline server are this script in another role.
    parser.add_argument("--role", choices=("main", "clients", "server"), default="main", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--origin", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--template", help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=900.0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role != "main":
        role = clients_main if args.role == "clients" else server_main
        # Helper processes stop by themselves, whatever happens to the writer.
        with contextlib.suppress(TimeoutError):
            asyncio.run(asyncio.wait_for(role(args), args.lifetime))
        return 0
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="fanout-benchmark-") as name:
        folder = Path(name)
        (folder / "var").mkdir()
        started = time.perf_counter()
        backend = start_backend(folder, args.redis, args.redis_url_options)
        try:
            setup_django(backend)
            from django.db import connections

            try:
                operator, token = create_world()
                template = event_template(operator, folder)
                print(f"Set-up ({backend.name}): services + migrate + world in {time.perf_counter() - started:.1f} s")
                print("Machine: " + "\n         ".join(machine_info(backend)))
                print(f"Load average at start: {load_average()}")
                phases: list[Phase] = []
                if "ours" in servers:
                    phases += run_ours(args, backend, folder, operator, token)
                if "baseline" in servers:
                    phases += run_baseline(args, folder, template)
                print_report(args, backend, phases)
                print(f"\nLoad average at the end: {load_average()}")
            finally:
                connections.close_all()
        finally:
            backend.stop()
            show_logs(folder, args.logs)
    return 0  # targets are reported, never asserted


if __name__ == "__main__":
    sys.exit(main())
