"""The fault drill (issue #18): the production topology survives killed processes and restarted services.

scripts/cluster.py brings up PostgreSQL, Redis, 2 Daphne behind nginx and 2 timer workers. 200 live screens
(centre and agency users) watch the event stream while a steady stream of tickets is taken, dispatched and
signed, and timers fall due. During the run: SIGKILL of a random Daphne, SIGKILL of a random timer worker, a
PostgreSQL restart and a Redis restart. Then:

- no ticket is lost or doubled (every intake retried with its idempotency key until it succeeded);
- every escalation fired exactly once;
- every screen got every event its user may see exactly once, in order, across its reconnections (checked
  against the log), and every screen reconnected by itself.

The numbers are printed; nothing timed is asserted (the waits below are only guards against a hang).
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ops.drill import Screen, Traffic, http_json, wait_for

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from cluster import Cluster  # noqa: E402

pytestmark = [pytest.mark.postgres]

SCREENS_PER_USER = 20
USERS = 10  # half centre operators, half handlers of the demo handler's agency
TIMERS = 30
TIMER_SPREAD_SECONDS = 60.0
TICKETS_BETWEEN_FAULTS = 6
GUARD_SECONDS = 300.0


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # Not under pytest's tmp_path: PostgreSQL runs as its own user, who may not enter pytest's private folders.
    data = Path(tempfile.mkdtemp(prefix="hotline-drill-"))
    topology = Cluster(data, web=2, workers=2, grace=5.0)
    try:
        topology.up(demo=True, demo_args=("--tickets", "0"))
        yield topology
    finally:
        topology.down()
        shutil.rmtree(data, ignore_errors=True)


def _in_cluster(cluster: Cluster, action: str, **env: str) -> Any:
    command = "from tests.ops import drill_setup; drill_setup.main()"
    result = subprocess.run(
        [cluster.python, "manage.py", "shell", "-c", command],
        cwd=ROOT, env={**cluster.env(), "DRILL_ACTION": action, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_cluster_survives_killed_processes_and_restarted_services(cluster: Cluster) -> None:
    seeded = _in_cluster(
        cluster, "seed", DRILL_USERS=str(USERS), DRILL_TIMERS=str(TIMERS), DRILL_SPREAD=str(TIMER_SPREAD_SECONDS)
    )
    password = seeded["password"]
    usernames = seeded["users"]["centre"] + seeded["users"]["agency"]
    tokens = {name: _token(cluster, name, password) for name in [*usernames, "operator", "dispatcher", "handler"]}
    report = asyncio.run(_drill(cluster, usernames, tokens, seeded["agency_id"]))

    facts = _in_cluster(cluster, "facts")
    print(json.dumps({"report": report["numbers"], "facts": facts}, ensure_ascii=False, indent=1))
    # No ticket lost or doubled: one per intake, each title once.
    assert facts["drill_tickets"] == report["numbers"]["tickets"] == facts["distinct_drill_tickets"]
    # Every escalation fired once.
    assert facts["pending_timers"] == 0
    assert facts["escalations"] == facts["escalated_clocks"] == TIMERS
    assert facts["escalations_in_events"] == facts["distinct_escalations_in_events"] == TIMERS
    # Every screen: each event it may see, once, in order, across reconnections; and it reconnected.
    visible = _in_cluster(cluster, "visible", DRILL_NAMES=",".join(usernames))
    problems = [problem for screen in report["screens"] for problem in screen.check(visible[screen.username])]
    if problems:
        for screen in [s for s in report["screens"] if s.check(visible[s.username])][:3]:
            print(screen.username, [(seg.start, seg.snapshot, seg.ids) for seg in screen.segments])
    assert problems == [], problems[:20]
    assert report["numbers"]["screens_connected_at_the_end"] == len(report["screens"])
    assert report["numbers"]["reconnections"] >= len(report["screens"]) // 2


def _token(cluster: Cluster, username: str, password: str) -> str:
    password = "demo-12345" if username in {"operator", "dispatcher", "handler"} else password
    answer = http_json(cluster.url, "POST", "/api/auth/token/", None, {"username": username, "password": password})
    return str(answer["token"])


async def _drill(cluster: Cluster, usernames: list[str], tokens: dict[str, str], agency_id: int) -> dict[str, Any]:
    screens = [Screen(cluster.url, name, tokens[name]) for name in usernames for _ in range(SCREENS_PER_USER)]
    tasks = [asyncio.create_task(screen.run()) for screen in screens]
    supervising = asyncio.create_task(_supervise(cluster))
    await wait_for(lambda: all(screen.live for screen in screens), GUARD_SECONDS, "every screen live")
    traffic = Traffic(cluster.url, tokens["operator"], tokens["dispatcher"], tokens["handler"], agency_id)
    faults = [
        ("kill a Daphne", lambda: cluster.kill(random.choice(["web-1", "web-2"]))),
        ("kill a timer worker", lambda: cluster.kill(random.choice(["timers-1", "timers-2"]))),
        ("restart PostgreSQL", cluster.restart_postgres),
        ("restart Redis", cluster.restart_redis),
    ]
    done: list[str] = []
    for name, fault in faults:
        await traffic.run(TICKETS_BETWEEN_FAULTS)
        await asyncio.to_thread(fault)
        done.append(name)
    await traffic.run(TICKETS_BETWEEN_FAULTS)
    await wait_for(
        lambda: http_json(cluster.url, "GET", "/health/ready", None, None, ok=(200, 503)).get("status") == "ready",
        GUARD_SECONDS, "the cluster ready again",
    )  # fmt: skip
    last_due = await asyncio.to_thread(lambda: _in_cluster(cluster, "facts"))
    await wait_for(lambda: _in_cluster(cluster, "facts")["pending_timers"] == 0, GUARD_SECONDS, "every timer fired")
    final = _in_cluster(cluster, "visible", DRILL_NAMES=",".join(usernames))
    await wait_for(
        lambda: all(screen.caught_up(final[screen.username]) for screen in screens), GUARD_SECONDS,
        "every screen caught up with the log",
    )  # fmt: skip
    connected_at_the_end = sum(1 for screen in screens if screen.connected)
    for screen in screens:
        screen.stop()
    supervising.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    numbers = {
        "screens": len(screens),
        "screens_connected_at_the_end": connected_at_the_end,
        "faults": done,
        "tickets": traffic.tickets,
        "retries": traffic.retries,
        "reconnections": sum(screen.reconnections for screen in screens),
        "why_screens_reconnected": dict(sum((screen.closes for screen in screens), Counter())),
        "events_received": sum(len(screen.received) for screen in screens),
        "events_after_a_higher_id": sum(screen.out_of_order for screen in screens),
        "snapshots": sum(1 for screen in screens for segment in screen.segments if segment.snapshot),
        "max_event_at_end": last_due["max_event"],
    }
    return {"numbers": numbers, "screens": screens}


async def _supervise(cluster: Cluster) -> None:
    """The supervisor's loop (scripts/cluster.py's serve()): killed processes are started again."""
    while True:
        await asyncio.to_thread(cluster.poll)
        await asyncio.sleep(0.5)
