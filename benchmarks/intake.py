"""Intake: ``POST /api/tickets/`` (placement, routing, timeline, event) on one Daphne, 1 and N clients.

    .venv/bin/python benchmarks/intake.py [--database sqlite|postgres|both] [--clients 4] [--tickets 1000]

The issue's target: 4 concurrent clients, one Daphne, >= 50 tickets/s and p99 <= 250 ms on SQLite and on
PostgreSQL + Redis, every response a 201. Per database, in a temporary folder (fanout.py's helpers): migrate,
the reference data placement and routing read (agencies, taxonomy, ``load_demo_boundaries``: routing.py's
fast subset), an operator whose token comes from ``POST /api/auth/token/``, one Daphne. Tickets vary:
subject, appeal type, mobile number, a point inside a central district, their own ``Idempotency-Key``.
Clients are threads here, one keep-alive ``http.client`` connection each, taking the next ticket from a
shared list (closed loop). Warm-up (not reported), one client (per-ticket baseline), then --clients. SQL
per ticket is counted once in this process (``CaptureQueriesContext``: one whole API call through DRF's
APIClient, and ``do_create_ticket`` alone); ``--profile N`` adds a cProfile of N in-process calls. Targets
are reported PASS/MISS, never asserted. ``both`` runs each database in a child process (one Django each).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The shared set-up (services, Django, Daphne) lives in the fan-out benchmark; command_rtt.py uses it too.
import fanout

TARGET_RATE, TARGET_P99_MS, TARGET_CLIENTS = 50.0, 250.0, 4
USERNAME, PASSWORD, CENTRE = "bench-operator", "intake-benchmark-12345", "lz-12345"
# A box around the central districts 450202-450205; points outside them are dropped (see payloads()).
BOX = {"lat": (24.22, 24.40), "lon": (109.30, 109.50)}
Tickets = list[tuple[str, dict[str, Any]]]  # (Idempotency-Key, JSON body)
ROADS = ["龙城路", "五一路", "文惠路", "八一路", "桂中大道", "潭中西路", "东环大道", "屏山大道", "柳石路", "飞鹅路"]


# --- set-up (in the process that owns the database) ---------------------------------------------------


def load_reference() -> None:
    """Agencies, taxonomy, jurisdiction layers and routing rules: what placement and routing read."""
    from django.core.management import call_command

    from organisation.actions import do_load_agencies, do_load_taxonomy, do_upsert_user
    from organisation.models import Role

    do_load_agencies()
    do_load_taxonomy(json.loads((fanout.ROOT / "callcenter" / "data" / "taxonomy.json").read_text(encoding="utf-8")))
    call_command("load_demo_boundaries", stdout=io.StringIO())
    do_upsert_user(username=USERNAME, password=PASSWORD, roles=[Role.OPERATOR], agency_code=CENTRE)


def payloads(count: int, rng: random.Random) -> Tickets:
    """``count`` varied ticket bodies, each with its own Idempotency-Key."""
    import numpy as np

    from gis.management.commands.load_demo_boundaries import CENTRAL_DISTRICTS
    from gis.routing import locate_many
    from organisation.models import AppealType, Subject

    subjects = sorted(Subject.objects.filter(is_leaf=True, active=True).values_list("code", flat=True))
    appeals = sorted(AppealType.objects.values_list("code", flat=True))
    # Oversample the box, keep the points the district layer itself places in a central district: every
    # ticket then really goes through placement and a district-specific routing decision.
    lats = np.array([rng.uniform(*BOX["lat"]) for _ in range(count * 4)])
    lons = np.array([rng.uniform(*BOX["lon"]) for _ in range(count * 4)])
    inside = np.isin(locate_many(lons, lats)["district"], CENTRAL_DISTRICTS)
    points = list(zip(lats[inside].tolist(), lons[inside].tolist(), strict=True))
    if len(points) < count:
        raise RuntimeError(f"only {len(points)} of {count} points fell inside the central districts")
    bodies = []
    for i, (lat, lon) in enumerate(points[:count]):
        subject, road = rng.choice(subjects), rng.choice(ROADS)
        body = {
            "channel": "phone",
            "phone": rng.choice(["138", "139", "150", "186", "199"]) + f"{rng.randrange(10**8):08d}",
            "caller_name": rng.choice("张李王刘陈韦覃蓝") + rng.choice(["先生", "女士"]),
            "appeal_type": rng.choice(appeals),
            "subject": subject,
            "title": f"{road}{subject}",
            "description": f"{road}{rng.randint(1, 300)}号附近的问题，已持续数日，请尽快处理。",
            "address": f"柳州市{road}{rng.randint(1, 300)}号",
            "latitude": round(lat, 6),
            "longitude": round(lon, 6),
        }
        bodies.append((f"intake-{i}", body))
    return bodies


def api_client(token: str) -> Any:
    from rest_framework.test import APIClient

    client = APIClient(SERVER_NAME="127.0.0.1")  # ALLOWED_HOSTS is 127.0.0.1 only
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def count_queries(token: str, tickets: Tickets) -> dict[str, Any]:
    """SQL statements of one whole API call (auth, validation, action, response) and of the action alone."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from callcenter.actions import do_create_ticket
    from callcenter.serializers import TicketCreateInput
    from dispatch.api.tickets import request_fingerprint
    from organisation.models import User

    client = api_client(token)
    first, (key, body), (key2, body2) = tickets[0], tickets[1], tickets[2]
    client.post("/api/tickets/", first[1], format="json", HTTP_IDEMPOTENCY_KEY=first[0])  # one-time caches
    with CaptureQueriesContext(connection) as request_queries:
        response = client.post("/api/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.content[:300]
    data, actor = TicketCreateInput(data=body2), User.objects.get(username=USERNAME)
    data.is_valid(raise_exception=True)
    with CaptureQueriesContext(connection) as action_queries:
        do_create_ticket(
            data.validated_data, actor=actor, idempotency_key=key2, request_hash=request_fingerprint(body2)
        )
    kinds = Counter(query["sql"].split(None, 1)[0].upper() for query in request_queries.captured_queries)
    return {"request": len(request_queries), "action": len(action_queries), "kinds": dict(kinds)}


def profile(token: str, tickets: Tickets) -> None:
    """cProfile of in-process API calls: where one ticket's time goes, without the server around it."""
    import cProfile
    import pstats

    client = api_client(token)
    profiler, started = cProfile.Profile(), time.perf_counter()
    with profiler:
        for key, body in tickets:
            client.post("/api/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    each = (time.perf_counter() - started) / len(tickets) * 1e3
    print(f"\nProfile: {len(tickets)} in-process API calls, {each:.1f} ms each (profiler overhead included)")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(rf"^{fanout.ROOT}/(?!\.venv)", 40)  # the project's own functions
    stats.sort_stats("tottime").print_stats(25)  # where the CPU goes, libraries included


# --- the clients (threads of this process) ------------------------------------------------------------


def fetch_token(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    form = f"username={USERNAME}&password={PASSWORD}"
    connection.request("POST", "/api/auth/token/", form, {"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"token: HTTP {response.status} {body[:200]!r}")
    return str(json.loads(body)["token"])


def post_all(port: int, token: str, tickets: Tickets, clients: int, pid: int) -> dict[str, Any]:
    """All ``tickets`` through ``clients`` keep-alive connections; latencies, errors, rate, CPU shares."""
    # Bodies are encoded before the clock starts: the clients share this process's GIL with each other.
    requests = [
        (json.dumps(body, ensure_ascii=False).encode(), {"Content-Type": "application/json", "Idempotency-Key": key})
        for key, body in tickets
    ]
    auth = {"Authorization": f"Token {token}"}
    lock, start = threading.Lock(), threading.Barrier(clients + 1)
    latency_ms: list[float] = []
    errors: Counter[str] = Counter()
    samples: list[str] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.connect()  # the connection is opened before the clock starts
        start.wait()
        while True:
            with lock:
                if not requests:
                    break
                body, headers = requests.pop()
            began = time.perf_counter()
            try:
                connection.request("POST", "/api/tickets/", body, {**headers, **auth})
                response = connection.getresponse()
                answer = response.read()
                if response.status != 201:
                    errors[f"HTTP {response.status}"] += 1
                    samples.append(answer[:300].decode(errors="replace"))
            except (OSError, http.client.HTTPException) as error:
                errors[type(error).__name__] += 1
                connection.close()  # http.client reconnects on the next request
            latency_ms.append((time.perf_counter() - began) * 1e3)  # list.append is atomic under the GIL
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    cpu_before, own_before = fanout.cpu_seconds(pid), time.process_time()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {
        "clients": clients,
        "tickets": len(tickets),
        "seconds": wall,
        "rate": (len(tickets) - sum(errors.values())) / wall,
        "latency_ms": latency_ms,
        "errors": dict(errors),
        "samples": samples[:3],
        "server_cpu": (fanout.cpu_seconds(pid) - cpu_before) / wall,  # share of one core: is Daphne CPU-bound?
        "client_cpu": (time.process_time() - own_before) / wall,
    }


# --- one database, end to end -------------------------------------------------------------------------


def run_database(database: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="intake-benchmark-") as name:
        folder = Path(name)
        (folder / "var").mkdir()
        started = time.perf_counter()
        backend = fanout.start_backend(folder, redis=database == "postgres")
        try:
            fanout.setup_django(backend)
            from django.db import connections

            try:
                load_reference()
                sizes = [args.warmup, args.baseline_tickets, args.tickets, 3 + args.profile]
                tickets = iter(payloads(sum(sizes), random.Random(args.seed)))
                warm, single, many, local = ([next(tickets) for _ in range(size)] for size in sizes)
                print(f"[{database}] set-up (services, migrate, reference data) {time.perf_counter() - started:.1f} s")
                print(f"[{database}] " + f"\n[{database}] ".join(fanout.machine_info(backend)), flush=True)
                connections.close_all()  # nothing of this process holds SQLite's write lock while Daphne works
                port = fanout.free_port()
                daphne = fanout.daphne_command(port)  # one process, as deployed: daphne config.asgi:application
                with fanout.running(daphne, backend.env, folder / "daphne.log", port, "daphne") as pid:
                    token = fetch_token(port)
                    post_all(port, token, warm, args.clients, pid)  # imports, caches, connections: not reported
                    print(f"[{database}] load average before the measurement: {fanout.load_average()}", flush=True)
                    batches = [post_all(port, token, single, 1, pid), post_all(port, token, many, args.clients, pid)]
                queries = count_queries(token, local)  # in this process, after Daphne has stopped
                if args.profile:
                    profile(token, local[3:])
            finally:
                connections.close_all()
        finally:
            backend.stop()
            fanout.show_logs(folder, None, names=("daphne.log",))
    return {"database": database, "batches": batches, "queries": queries}


# --- report -------------------------------------------------------------------------------------------


def print_summary(results: list[dict[str, Any]], clients: int) -> None:
    print("\nIntake: POST /api/tickets/ on one Daphne (closed loop; latency = request sent -> 201 read)")
    print(
        f"  {'database':<9}{'clients':>7}{'tickets':>8}{'s':>7}{'tickets/s':>10}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'max ms':>8}{'errors':>7}{'daphne cpu':>11}{'client cpu':>11}"
    )
    for result in results:
        for b in result["batches"]:
            ms, errors = b["latency_ms"], sum(b["errors"].values())
            p50, p99 = fanout.percentile(ms, 50), fanout.percentile(ms, 99)
            print(
                f"  {result['database']:<9}{b['clients']:>7}{b['tickets']:>8}{b['seconds']:>7.1f}{b['rate']:>10.1f}"
                f"{p50:>8.1f}{p99:>8.1f}{max(ms):>8.1f}{errors:>7}{b['server_cpu']:>11.0%}{b['client_cpu']:>11.0%}"
            )
            for sample in b["samples"]:
                print(f"      error body: {sample}")
        q = result["queries"]
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(q["kinds"].items(), key=lambda item: -item[1]))
        print(f"  {'':<9}SQL per ticket: {q['request']} per API call ({kinds}), {q['action']} in do_create_ticket")
    print(f"\nTargets from the issue ({TARGET_CLIENTS} clients, one Daphne):")
    for result in results:
        b = next((b for b in result["batches"] if b["clients"] == TARGET_CLIENTS), None)
        if b is None:
            print(f"  {result['database']}: not measured at {TARGET_CLIENTS} clients (--clients {clients})")
            continue
        p99, errors = fanout.percentile(b["latency_ms"], 99), sum(b["errors"].values())
        checks = [
            (f">= {TARGET_RATE:.0f} tickets/s", f"{b['rate']:.1f} tickets/s", b["rate"] >= TARGET_RATE),
            (f"p99 <= {TARGET_P99_MS:.0f} ms", f"{p99:.1f} ms", p99 <= TARGET_P99_MS),
            ("every response 201", f"{errors} errors", errors == 0),
        ]
        for target, measured, met in checks:
            print(f"  {result['database']:<9}{target:<22}{measured:>16}  {'PASS' if met else 'MISS'}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--clients", type=int, default=TARGET_CLIENTS, help="concurrent clients of the target run")
    parser.add_argument("--tickets", type=int, default=1000, help="tickets of the target run")
    parser.add_argument("--baseline-tickets", type=int, default=200, help="tickets of the one-client run")
    parser.add_argument("--warmup", type=int, default=40, help="tickets before measuring (not reported)")
    parser.add_argument("--profile", type=int, default=0, help="cProfile this many in-process API calls")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--result", help=argparse.SUPPRESS)  # a child of --database both writes its figures here
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.database != "both":
        result = run_database(args.database, args)
        if args.result:
            Path(args.result).write_text(json.dumps(result))
            return 0
        results = [result]
    else:
        results = []
        forwarded = list(argv if argv is not None else sys.argv[1:])
        with tempfile.TemporaryDirectory(prefix="intake-results-") as folder:
            for database in ("sqlite", "postgres"):
                out = Path(folder) / f"{database}.json"
                command = [sys.executable, __file__, *forwarded, "--database", database, "--result", str(out)]
                subprocess.run(command, check=True, cwd=fanout.ROOT)  # argparse keeps the last --database
                results.append(json.loads(out.read_text()))
    print_summary(results, args.clients)
    print(f"\nWall time: {time.perf_counter() - started:.0f} s")
    return 0  # targets are reported, never asserted


if __name__ == "__main__":
    sys.exit(main())
