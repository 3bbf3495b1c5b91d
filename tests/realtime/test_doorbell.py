"""The doorbell crosses processes: a commit in another process wakes this process's hub at once.

On the embedded pass the ring is a Unix datagram (realtime/doorbell.py); on the PostgreSQL + Redis pass
it is a channels_redis group message. The same tests run on both.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import sys
from pathlib import Path

from django.conf import settings

from core import doorbell as core_doorbell
from realtime import doorbell

RING_FROM_ANOTHER_PROCESS = "import django; django.setup(); from realtime import doorbell; doorbell.ring()"


def test_a_ring_from_another_process_wakes_a_listener() -> None:
    # Its own thread and loop: browser tests earlier in the session leave Playwright's loop running here.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _ring_from_another_process()).result(timeout=120)


async def _ring_from_another_process() -> None:
    rung, ready = asyncio.Event(), asyncio.Event()
    listener = asyncio.create_task(doorbell.listen(rung.set, ready))
    try:
        await asyncio.wait_for(ready.wait(), timeout=30)
        ringer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RING_FROM_ANOTHER_PROCESS,
            cwd=settings.BASE_DIR,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        )
        assert await asyncio.wait_for(ringer.wait(), timeout=60) == 0
        await asyncio.wait_for(rung.wait(), timeout=30)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


def test_the_socket_of_a_process_that_died_is_removed_and_not_counted(tmp_path: Path) -> None:
    alive = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    alive.bind(str(tmp_path / "alive.sock"))
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(tmp_path / "dead.sock"))
    dead.close()  # its file stays behind, as when a process is killed
    try:
        assert core_doorbell.ring_sockets(tmp_path) == 1
        assert alive.recv(8) == b"!"
        assert not (tmp_path / "dead.sock").exists()
        assert (tmp_path / "alive.sock").exists()
    finally:
        alive.close()
