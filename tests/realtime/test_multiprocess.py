"""Two Daphne processes on PostgreSQL and Redis: an event committed on one reaches sockets on the other."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from django.conf import settings
from django.db import connection

from organisation.identity.tokens import issue_token
from tests.conftest import World, ticket_payload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
READY_TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne on {port} exited: {process.stdout.read().decode() if process.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet; the readiness check, not synchronisation
    raise TimeoutError(f"daphne on {port} did not start")


@pytest.fixture
def two_daphnes(world: World) -> Iterator[tuple[int, int]]:
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECRET_KEY": "multi-process-test",
        "HOTLINE_EVENT_POLL_SECONDS": "3600",
    }
    ports = (_free_port(), _free_port())
    daphne = str(Path(sys.executable).with_name("daphne"))
    processes = [
        subprocess.Popen(
            [daphne, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            _wait_for_port(port, process)
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def test_an_event_committed_on_one_process_reaches_a_socket_on_the_other(
    world: World, two_daphnes: tuple[int, int]
) -> None:
    assert settings.REDIS_URL, "this test runs in the PostgreSQL + Redis pass"
    writer_port, reader_port = two_daphnes
    token = issue_token(world.users["operator"])[1]

    async def scenario() -> dict:
        headers = {"Authorization": f"Token {token}", "Origin": f"http://127.0.0.1:{reader_port}"}
        async with websockets.connect(
            f"ws://127.0.0.1:{reader_port}/ws/events/?last_event_id=0", additional_headers=headers
        ) as ws:
            while json.loads(await asyncio.wait_for(ws.recv(), 30))["kind"] != "live":
                pass
            request = urllib.request.Request(
                f"http://127.0.0.1:{writer_port}/api/tickets/",
                data=json.dumps(ticket_payload()).encode(),
                headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
                method="POST",
            )
            created = await asyncio.to_thread(lambda: json.loads(urllib.request.urlopen(request, timeout=30).read()))
            # The poll fallback is an hour here: only the Redis doorbell can bring this in time.
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 15))
                for event in message["events"] if message["kind"] == "events" else [message]:
                    if event["kind"] == "event" and event["type"] == "ticket.created":
                        return {"created": created, "event": event}

    outcome = asyncio.run(scenario())
    assert outcome["event"]["payload"]["ticket"]["id"] == outcome["created"]["id"]
