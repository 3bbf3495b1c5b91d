"""The backup drill (issue #18): pg_dump of a loaded, running system, restored into a fresh cluster, serves and
replays as before. The times are printed (docs/OPERATIONS.md keeps a measured run); nothing timed is asserted."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.ops.drill import http_json

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from cluster import Cluster, backup_database  # noqa: E402

pytestmark = [pytest.mark.postgres]
DEMO_TICKETS = "60"
# The drill replays the whole log over a socket: no snapshot in its place however long the log is.
WHOLE_LOG = {"HOTLINE_REPLAY_MAX_EVENTS": "1000000"}


def _token(base: str) -> str:
    answer = http_json(base, "POST", "/api/auth/token/", None, {"username": "operator", "password": "demo-12345"})
    return str(answer["token"])


def _tickets(base: str, token: str) -> list[tuple[int, str, str]]:
    rows: list[Any] = []
    path: str | None = "/api/tickets/?limit=200"
    while path:
        page = http_json(base, "GET", path, token, None)
        rows.extend(page["results"] if isinstance(page, dict) else page)
        following = page.get("next") if isinstance(page, dict) else None
        path = following[following.index("/api/") :] if following else None
    return sorted((row["id"], row["number"], row["state"]) for row in rows)


async def _replay(base: str, token: str) -> list[int]:
    """Every event id a centre screen gets when it replays the whole log (from position 0)."""
    url = base.replace("http://", "ws://") + "/ws/events/?last_event_id=0"
    ids: list[int] = []
    headers = {"Authorization": f"Token {token}", "Origin": base}
    async with connect(url, additional_headers=headers, open_timeout=30, max_size=None) as socket:
        async for raw in socket:
            message = json.loads(raw)
            if message["kind"] == "event":
                ids.append(message["id"])
            elif message["kind"] == "events":
                ids.extend(event["id"] for event in message["events"])
            elif message["kind"] == "snapshot":
                raise AssertionError("a replay from the start of an unpruned log must not fall back to a snapshot")
            elif message["kind"] == "live":
                return ids
    raise AssertionError("the socket closed before the replay ended")


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not under pytest's tmp_path: PostgreSQL runs as its own user, who may not enter pytest's private folders.
    folder = Path(tempfile.mkdtemp(prefix="hotline-backup-"))
    folder.chmod(0o755)  # the clusters' data directories go inside it
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_backup_restored_into_a_fresh_cluster_serves_and_replays_as_before(workdir: Path) -> None:
    tmp_path = workdir
    archive = tmp_path / "hotline.dump"
    source = Cluster(tmp_path / "source", web=1, workers=1, grace=5.0, settings=WHOLE_LOG)
    try:
        source.up(demo=True, demo_args=("--tickets", DEMO_TICKETS))
        token = _token(source.url)
        tickets_before = _tickets(source.url, token)
        events_before = asyncio.run(_replay(source.url, token))
        started = time.monotonic()
        backup_database(source.database_url, archive)
        backup_seconds = time.monotonic() - started
    finally:
        source.down()

    target = Cluster(tmp_path / "restored", web=1, workers=1, grace=5.0, settings=WHOLE_LOG)
    try:
        started = time.monotonic()
        target.up(restore=archive)
        recovery_seconds = time.monotonic() - started
        token = _token(target.url)  # the users, their passwords and roles came back
        tickets_after = _tickets(target.url, token)
        events_after = asyncio.run(_replay(target.url, token))
    finally:
        target.down()

    print(json.dumps({
        "tickets": len(tickets_before), "events": len(events_before), "archive_bytes": archive.stat().st_size,
        "backup_seconds": round(backup_seconds, 1), "recovery_seconds": round(recovery_seconds, 1),
    }))  # fmt: skip
    assert len(tickets_before) >= int(DEMO_TICKETS)
    assert tickets_after == tickets_before
    assert len(events_before) > len(tickets_before)
    # The log came back whole and in order; the restored timer workers may have appended to it since.
    assert events_after[: len(events_before)] == events_before
