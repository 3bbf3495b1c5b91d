"""The one wake-up primitive: a doorbell, named for what it announces ("events", "timers").

A ring carries no data anyone depends on - the database rows are the truth - so a lost ring costs one poll
interval of the listener, never a lost event or timer. A listener rung many times while busy wakes once.

This module is the transport on one machine: each listener binds a Unix datagram socket in
``VAR_DIR/doorbell/<name>/`` and a ring is one non-blocking ``sendto`` to each socket there; the socket of a
process that died refuses the datagram and is removed. Across machines the layers above ring through what
the deployment already has, with the same contract: the realtime layer through the Redis channel layer
(realtime/doorbell.py), the timer workers through PostgreSQL ``NOTIFY`` (``PostgresBell`` below).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

#: sun_path holds 108 bytes on Linux (104 on macOS), the terminating NUL included.
MAX_SOCKET_PATH_BYTES = 100


def directory_of(name: str) -> Path:
    return Path(settings.VAR_DIR) / "doorbell" / name


def ring_sockets(directory: Path) -> int:
    """Send one datagram to every listener socket in ``directory``; returns how many listeners were rung."""
    rung = 0
    try:
        paths = [entry.path for entry in os.scandir(directory) if entry.name.endswith(".sock")]
    except FileNotFoundError:
        return 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for path in paths:
            try:
                sender.sendto(b"!", path)
                rung += 1
            except BlockingIOError:
                rung += 1  # its queue is full of rings it has not read yet: it is ringing already
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)  # its process is gone
            except OSError:
                logger.warning("could not ring a doorbell socket", exc_info=True)
    return rung


def ring(name: str) -> int:
    """Ring every listener of the named doorbell on this machine."""
    return ring_sockets(directory_of(name))


class SocketBell:
    """One listener's socket of the named doorbell on this machine (None-safe to close twice)."""

    def __init__(self, name: str, *, tag: str = "") -> None:
        directory = directory_of(name)
        directory.mkdir(parents=True, exist_ok=True)
        self.path: Path | None = directory / f"{os.getpid()}{'-' + tag if tag else ''}.sock"
        if len(os.fsencode(self.path)) > MAX_SOCKET_PATH_BYTES:
            raise OSError(f"the doorbell path is too long for a Unix socket: {self.path}")
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.sock: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)

    def drain(self) -> None:
        """Read every queued ring: one wake-up covers them all."""
        assert self.sock is not None
        with contextlib.suppress(BlockingIOError):
            while self.sock.recv(64):
                pass

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when rung."""
        assert self.sock is not None
        readable, _w, _x = select.select([self.sock], [], [], max(0.0, seconds))
        if not readable:
            return False
        self.drain()
        return True

    async def listen(self, on_ring: Callable[[], None], ready: asyncio.Event) -> None:
        """Call ``on_ring`` on the running loop whenever rung; runs until cancelled."""
        assert self.sock is not None
        loop = asyncio.get_running_loop()
        fileno = self.sock.fileno()

        def woken() -> None:
            self.drain()
            on_ring()

        loop.add_reader(fileno, woken)
        ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            loop.remove_reader(fileno)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.path = None


def notify_postgres(channel: str) -> None:
    """Ring across machines on PostgreSQL: ``NOTIFY`` in the writing transaction, delivered on commit."""
    with connection.cursor() as cursor:
        cursor.execute(f"NOTIFY {channel}")


class PostgresBell:
    """A listener of ``NOTIFY channel`` on a connection of its own (autocommit), for synchronous workers."""

    def __init__(self, channel: str) -> None:
        import psycopg

        params: dict[str, Any] = connection.get_connection_params()
        for django_only in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(django_only, None)
        self._conn: Any = psycopg.connect(**params, autocommit=True)
        self._conn.execute(f"LISTEN {channel}")

    def wait(self, seconds: float) -> bool:
        rung = False
        for _notice in self._conn.notifies(timeout=max(0.0, seconds), stop_after=1):
            rung = True
        # Several rings may be queued: one look at the table answers them all.
        for _notice in self._conn.notifies(timeout=0):
            pass
        return rung

    def close(self) -> None:
        self._conn.close()
