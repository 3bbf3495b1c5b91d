"""Command round trip: an agency action over the live socket, written and acknowledged, against plain `websockets`.

Run from the project root:

    .venv/bin/python benchmarks/command_rtt.py [--requests 300] [--redis]

Everything runs on 127.0.0.1 in a temporary folder and stops by itself. The set-up (database, Daphne,
logs) is the one of benchmarks/fanout.py, which this script imports:

- the database: a SQLite file (the embedded default) or, with ``--redis``, a throwaway PostgreSQL and
  Redis from scripts/services.py; migrated, with the centre, one agency, a ticket created
  (``callcenter.actions.do_create_ticket``), dispatched to the agency (``dispatch.actions.
  do_dispatch_ticket``) and signed by the agency's handler (``do_sign_work_order``): the work order is in
  handling, where the "note" action can repeat;
- ours: one Daphne process; the handler's socket (``Authorization: Token``, Origin) sends
  ``{"type": "act", "request_id": ..., "work_order": ID, "action": "note", "fields": {"note": ...}}``
  and waits for the "ack" with that request id (other messages, such as the event the note itself
  publishes, are skipped). The note goes through dispatch/socket_commands.py: input checks,
  ``do_note_work_order`` (locks, with the visibility check in the ticket's lock; transition, timeline row,
  event; the doorbell rings at its commit), then the ack;
- the baseline: a plain ``websockets`` server (this script with ``--role server``, Django set up on the
  same database) that, for each message, parses it, writes in a thread (``asyncio.to_thread``) with the
  ORM, and replies ``{"kind": "ack", "request_id": ..., "ok": true}``. The target is judged against the
  baseline that makes the same writes as our note (``write_note``: in one transaction, the work order's
  ``updated_at``, the timeline row, the event row and its audience row). A second baseline inserts only
  the timeline row (``insert_note``), for comparison.

The round trip is timed from just before the send to the ack (``perf_counter_ns``), one request at a
time with ``--gap`` seconds between requests. The consumer closes a socket that sends more than 20
messages in 10 s, so both clients open a fresh socket every 18 requests (untimed). For reference, the
same two writes are also timed in this process without any socket: ``dispatch.socket_commands.run_command``
(what the consumer calls) and the same-writes baseline. Targets are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The shared set-up lives in the fan-out benchmark.
from fanout import (
    ROOT,
    TAXONOMY,
    TICKET,
    Backend,
    daphne_command,
    free_port,
    load_average,
    machine_info,
    percentile,
    running,
    setup_django,
    show_logs,
    start_backend,
)

RATIO = 1.5  # target from the issue: p50 ours / baseline
PER_SOCKET = 18  # the consumer allows 20 inbound messages per 10 s per socket
NOTE = "已联系市民，正在安排人员处理。"


@dataclass(frozen=True)
class World:
    ticket_id: int
    work_order_id: int
    handler_id: int
    agency_id: int
    token: str


@dataclass
class Result:
    name: str
    rtt_ms: list[float]
    failures: dict[str, int]
    reconnects: int


# --- set-up -------------------------------------------------------------------------------------------


def create_world() -> World:
    from callcenter.actions import do_create_ticket
    from dispatch.actions import do_dispatch_ticket, do_sign_work_order
    from dispatch.models import WorkOrder
    from organisation.actions import do_load_taxonomy, do_upsert_agency, do_upsert_user
    from organisation.identity.tokens import issue_token
    from organisation.models import Role

    do_upsert_agency(code="centre", name="12345热线", kind="centre", function="hotline")
    agency = do_upsert_agency(code="cgj", name="市城管局", kind="department", function="urban_management")
    do_load_taxonomy(TAXONOMY)
    operator = do_upsert_user(username="operator", password=None, roles=[Role.OPERATOR], agency_code="centre")
    dispatcher = do_upsert_user(username="dispatcher", password=None, roles=[Role.DISPATCHER], agency_code="centre")
    handler = do_upsert_user(username="handler", password=None, roles=[Role.AGENCY_HANDLER], agency_code="cgj")
    ticket, _created = do_create_ticket(dict(TICKET), actor=operator)
    do_dispatch_ticket(ticket.pk, actor=dispatcher, lead_agency_id=agency.pk)
    work_order = WorkOrder.objects.get(ticket=ticket)
    do_sign_work_order(work_order.pk, actor=handler)
    token = issue_token(handler)[1]
    return World(ticket.pk, work_order.pk, handler.pk, agency.pk, token)


# --- the client (this process) ------------------------------------------------------------------------


async def measure(url: str, origin: str, token: str, world: World, count: int, warmup: int, gap: float) -> Result:
    """``warmup`` + ``count`` acts, one at a time; the round trips of the last ``count``."""
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed

    headers = {"Origin": origin}
    if token:
        headers["Authorization"] = f"Token {token}"
    rtts: list[float] = []
    failures: dict[str, int] = {}
    reconnects = 0
    ws: ClientConnection | None = None
    sent_on_socket = 0
    attempts = 0

    async def open_socket() -> ClientConnection:
        socket = await connect(url, additional_headers=headers, compression=None, proxy=None, ping_interval=None)
        while True:
            text = await asyncio.wait_for(socket.recv(), 30)
            if json.loads(text).get("kind") == "live":
                return socket

    try:
        while len(rtts) < count and attempts < 2 * (count + warmup):
            attempts += 1
            if ws is None or sent_on_socket >= PER_SOCKET:
                if ws is not None:
                    await ws.close()
                ws = await open_socket()
                reconnects += 1
                sent_on_socket = 0
            request_id = f"r{attempts}"
            message = json.dumps(
                {
                    "type": "act",
                    "request_id": request_id,
                    "work_order": world.work_order_id,
                    "action": "note",
                    "fields": {"note": NOTE},
                },
                ensure_ascii=False,
            )
            try:
                started = time.perf_counter_ns()
                await ws.send(message)
                sent_on_socket += 1
                while True:  # skip other messages (the note's own event, on ours)
                    answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if answer.get("kind") == "ack" and answer.get("request_id") == request_id:
                        break
                elapsed = (time.perf_counter_ns() - started) / 1e6
            except ConnectionClosed as closed:
                name = f"socket closed by the server ({closed.rcvd.code if closed.rcvd else 'no code'})"
                failures[name] = failures.get(name, 0) + 1
                ws = None
                continue
            if not answer.get("ok"):
                name = f"ack not ok: {answer.get('code')}"
                failures[name] = failures.get(name, 0) + 1
            elif attempts > warmup:
                rtts.append(elapsed)
            await asyncio.sleep(gap)
    finally:
        if ws is not None:
            await ws.close()
    return Result("", rtts, failures, reconnects)


def in_process(name: str, function: Callable[[], Any], count: int, warmup: int, gap: float) -> Result:
    for _ in range(warmup):
        function()
    rtts = []
    for _ in range(count):
        started = time.perf_counter_ns()
        function()
        rtts.append((time.perf_counter_ns() - started) / 1e6)
        time.sleep(gap)
    return Result(name, rtts, {}, 0)


# --- the baseline server (--role server) --------------------------------------------------------------


def insert_note(world: World, note: str) -> None:
    """The single-INSERT baseline: only the one row a note adds to the ticket's timeline."""
    from core import clock
    from dispatch.models import TimelineEntry

    TimelineEntry.objects.create(
        ticket_id=world.ticket_id,
        work_order_id=world.work_order_id,
        machine="work_order",
        action="note",
        from_state="handling",
        to_state="handling",
        actor_id=world.handler_id,
        actor_agency_id=world.agency_id,
        note=note,
        data={},
        created_at=clock.now(),
    )


def write_note(world: World, note: str) -> None:
    """The same-writes baseline: the rows our note writes, in one transaction, with none of our checks.

    The work order's ``updated_at``, the timeline row, the ``work_order.changed`` event row (the payload
    our action writes, read once at start-up) and its agency audience row. No locks, no validation, no
    workflow table, no publish.
    """
    from django.db import transaction

    from core import clock
    from dispatch.models import WorkOrder
    from realtime.models import Event, EventAgency

    at = clock.now()
    with transaction.atomic():
        WorkOrder.objects.filter(pk=world.work_order_id).update(updated_at=at)
        insert_note(world, note)
        event = Event.objects.create(
            type="work_order.changed",
            payload=_event_payload(world),
            ticket_id=world.ticket_id,
            agency_ids=[world.agency_id],
        )
        EventAgency.objects.create(event=event, agency_id=world.agency_id)


_payloads: dict[int, dict[str, Any]] = {}


def _event_payload(world: World) -> dict[str, Any]:
    if world.work_order_id not in _payloads:
        from realtime.models import Event

        latest = Event.objects.filter(type="work_order.changed").order_by("-id").values_list("payload", flat=True)
        _payloads[world.work_order_id] = dict(latest.first() or {})
    return _payloads[world.work_order_id]


BASELINE_WRITES: dict[str, Callable[[World, str], None]] = {"same": write_note, "insert": insert_note}


async def server_main(args: argparse.Namespace) -> None:
    import django
    from websockets.asyncio.server import ServerConnection, serve

    sys.path.insert(0, str(ROOT))
    django.setup()  # DATABASE_URL / SQLITE_PATH come from the writer's environment
    world = World(args.ticket, args.work_order, args.actor, args.agency, "")
    write = BASELINE_WRITES[args.writes]

    async def handler(ws: ServerConnection) -> None:
        await ws.send('{"kind":"live","last_event_id":0}')
        async for text in ws:
            message = json.loads(text)
            await asyncio.to_thread(write, world, str(message["fields"]["note"]))
            answer = {"kind": "ack", "request_id": message["request_id"], "ok": True}
            await ws.send(json.dumps(answer, separators=(",", ":")))

    async with serve(handler, "127.0.0.1", args.port, compression=None, ping_interval=None):
        await asyncio.Event().wait()


# --- the run ------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, backend: Backend, folder: Path) -> list[Result]:
    from dispatch.socket_commands import run_command
    from organisation.models import User

    world = create_world()
    results: list[Result] = []

    port = free_port()
    with running(daphne_command(port), backend.env, folder / "daphne.log", port, "daphne"):
        url = f"ws://127.0.0.1:{port}/ws/events/?last_event_id=0"
        ours = asyncio.run(
            measure(url, f"http://127.0.0.1:{port}", world.token, world, args.requests, args.warmup, args.gap)
        )
        ours.name = "ours: act 'note' over /ws/events/ (Daphne)"
        results.append(ours)

    for writes, label in (
        ("same", "baseline: websockets + the same writes"),
        ("insert", "baseline: websockets + one INSERT"),
    ):
        port = free_port()
        command = [sys.executable, str(Path(__file__).resolve()), "--role", "server", "--port", str(port)]
        command += ["--ticket", str(world.ticket_id), "--work-order", str(world.work_order_id)]
        command += ["--actor", str(world.handler_id), "--agency", str(world.agency_id), "--writes", writes]
        with running(command, backend.env, folder / f"baseline-{writes}.log", port, "baseline server"):
            url = f"ws://127.0.0.1:{port}/"
            baseline = asyncio.run(
                measure(url, f"http://127.0.0.1:{port}", "", world, args.requests, args.warmup, args.gap)
            )
            baseline.name = label
            results.append(baseline)

    handler = User.objects.get(pk=world.handler_id)
    message: dict[str, Any] = {
        "type": "act",
        "request_id": "x",
        "work_order": world.work_order_id,
        "action": "note",
        "fields": {"note": NOTE},
    }
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        run_command(handler, message)
    statements = [query["sql"].split()[0].upper() for query in captured.captured_queries]
    counts = {verb: statements.count(verb) for verb in dict.fromkeys(statements)}
    print(
        f"SQL statements per note through run_command: {len(statements)} "
        f"({', '.join(f'{n} {verb}' for verb, n in counts.items())}); the same-writes baseline: BEGIN, UPDATE, "
        "3 INSERT, COMMIT"
    )
    results.append(
        in_process(
            "in-process: run_command() (no socket)",
            lambda: run_command(handler, message),
            args.requests,
            args.warmup,
            args.gap,
        )
    )
    results.append(
        in_process(
            "in-process: the same writes (no socket)",
            lambda: write_note(world, NOTE),
            args.requests,
            args.warmup,
            args.gap,
        )
    )
    return results


def report(args: argparse.Namespace, backend: Backend, results: list[Result]) -> None:
    print(
        f"\n{backend.name}: {args.requests} timed requests each after {args.warmup} untimed, {args.gap:g} s apart; "
        "round trip in ms"
    )
    print(f"  {'':<46} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for result in results:
        rtt = result.rtt_ms
        print(
            f"  {result.name:<46} {len(rtt):>5} {percentile(rtt, 50):>8.2f} {percentile(rtt, 95):>8.2f} "
            f"{percentile(rtt, 99):>8.2f} {max(rtt, default=float('nan')):>8.2f}"
        )
        if result.failures:
            print(f"  {'':<46} failures: {result.failures}")
    ours, baseline = results[0], results[1]
    ratio = percentile(ours.rtt_ms, 50) / percentile(baseline.rtt_ms, 50)
    print(f"\nTarget from the issue ({backend.name}):")
    verdict = "met" if ratio <= RATIO and not ours.failures else "NOT MET"
    extra = f"; {sum(ours.failures.values())} failed requests" if ours.failures else ""
    print(f"  p50 ours / baseline <= {RATIO:g}: {ratio:.2f}{extra}  {verdict}")
    single = percentile(ours.rtt_ms, 50) / percentile(results[2].rtt_ms, 50)
    print(f"  (against the single-INSERT baseline, which writes a quarter of our rows: {single:.2f})")
    for result in results[:3]:
        print(
            f"  ({result.name}: {result.reconnects} sockets opened; p95/p50 "
            f"{percentile(result.rtt_ms, 95) / percentile(result.rtt_ms, 50):.2f})"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=300, help="timed round trips per method (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed round trips first (default 20)")
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between requests (default 0.02)")
    parser.add_argument("--redis", action="store_true", help="PostgreSQL + Redis instead of the embedded default")
    parser.add_argument(
        "--redis-url-options",
        default="",
        help="query string appended to REDIS_URL for every process, e.g. socket_timeout=30 (default: none)",
    )
    parser.add_argument("--logs", help="copy the servers' logs to this folder")
    # Internal: the baseline server is this script in another role.
    parser.add_argument("--role", choices=("main", "server"), default="main", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ticket", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work-order", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--actor", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--agency", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--writes", choices=sorted(BASELINE_WRITES), default="same", help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=900.0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role == "server":
        # The baseline server stops by itself, whatever happens to the writer.
        with contextlib.suppress(TimeoutError):
            asyncio.run(asyncio.wait_for(server_main(args), args.lifetime))
        return 0
    with tempfile.TemporaryDirectory(prefix="command-rtt-benchmark-") as name:
        folder = Path(name)
        (folder / "var").mkdir()
        started = time.perf_counter()
        backend = start_backend(folder, args.redis, args.redis_url_options)
        try:
            setup_django(backend)
            from django.db import connections

            try:
                print(f"Set-up ({backend.name}): services + migrate in {time.perf_counter() - started:.1f} s")
                print("Machine: " + "\n         ".join(machine_info(backend)))
                if args.redis_url_options:
                    print(f"REDIS_URL options: {args.redis_url_options}")
                print(f"Load average at start: {load_average()}")
                report(args, backend, run(args, backend, folder))
                print(f"\nLoad average at the end: {load_average()}")
            finally:
                connections.close_all()
        finally:
            backend.stop()
            show_logs(folder, args.logs, ("daphne.log", "baseline-same.log", "baseline-insert.log"))
    return 0  # the target is reported, never asserted


if __name__ == "__main__":
    sys.exit(main())
