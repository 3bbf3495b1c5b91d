"""The doorbell: "new events are in the log", rung after commit, heard by every web process's hub.

It carries no data a client depends on (the log is the truth), so a lost ring costs one poll interval.
Two kinds, chosen from the deployment:

- With Redis, the ring is one channel-layer group message (channels_redis) that every web process's hub
  receives on its own channel. Writers without a running event loop of their own (the timer worker,
  management commands) publish from one long-lived publisher thread, so the process keeps one Redis
  connection instead of opening one per commit.
- In the embedded default the in-memory layer does not cross processes, yet the timer worker and
  management commands write from processes of their own: the hubs listen on the one wake-up primitive's
  sockets on this machine (core/doorbell.py, doorbell "events").
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from core import doorbell as core_doorbell

logger = logging.getLogger(__name__)

#: The one channel-layer group every web process listens on; processes fan out locally.
EVENTS_GROUP = "hotline.events"
RING_MESSAGE = {"type": "events.committed"}
LAYER_REJOIN_SECONDS = 30.0
PUBLISH_TIMEOUT_SECONDS = 5.0
#: The name of the doorbell on this machine (core/doorbell.py).
BELL = "events"
#: The second bell, rung after a user's access was revoked: every hub re-checks its sockets at once.
REVOKED_GROUP = "hotline.revocations"
REVOKED_MESSAGE = {"type": "access.revoked"}
REVOKED_BELL = "revocations"


def uses_channel_layer() -> bool:
    """True when the channel layer crosses processes (channels_redis); otherwise the datagram doorbell."""
    backend = str(settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", ""))
    return backend.startswith("channels_redis.")


def ring() -> None:
    """Tell every hub that events were committed. Never raises: a lost ring is recovered by the poll."""
    try:
        if uses_channel_layer():
            _publisher().publish()
        else:
            core_doorbell.ring(BELL)
    except Exception:
        logger.warning("could not ring the doorbell; hubs will find the events at their next poll", exc_info=True)


def ring_revoked(**_signal: Any) -> None:
    """Tell every hub that someone's access was revoked (a receiver of ``access_revoked``). Never raises: a lost
    ring is covered by the hubs' periodic re-check."""
    try:
        if uses_channel_layer():
            _publisher().publish(REVOKED_GROUP, REVOKED_MESSAGE)
        else:
            core_doorbell.ring(REVOKED_BELL)
    except Exception:
        logger.warning("could not ring the revocation bell; hubs re-check their sockets shortly", exc_info=True)


class _LayerPublisher:
    """One event loop thread per process for publishing to channels_redis from synchronous code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="doorbell-publisher", daemon=True)
        self.thread.start()
        self.lock = threading.Lock()
        self.pending: set[concurrent.futures.Future[None]] = set()
        atexit.register(self.flush)

    def publish(self, group: str = EVENTS_GROUP, message: dict[str, str] = RING_MESSAGE) -> None:
        """Hand the ring to the publisher thread and return: the writer never waits for Redis."""
        layer = get_channel_layer()
        if layer is None:
            return
        coroutine: Coroutine[Any, Any, None] = layer.group_send(group, dict(message))
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        with self.lock:
            self.pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: concurrent.futures.Future[None]) -> None:
        with self.lock:
            self.pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.warning("could not ring the doorbell; hubs will find the events at their next poll")

    def flush(self, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        """Wait for the rings still on their way (a command that exits right after its last commit)."""
        with self.lock:
            pending = list(self.pending)
        concurrent.futures.wait(pending, timeout=timeout)


_publisher_lock = threading.Lock()
_publisher_instance: _LayerPublisher | None = None
_publisher_pid: int | None = None


def _publisher() -> _LayerPublisher:
    global _publisher_instance, _publisher_pid
    with _publisher_lock:
        # A forked child inherits the object but not the thread: it needs its own.
        if _publisher_instance is None or _publisher_pid != os.getpid():
            _publisher_instance = _LayerPublisher()
            _publisher_pid = os.getpid()
        return _publisher_instance


async def listen(on_ring: Callable[[], None], ready: asyncio.Event | None = None) -> None:
    """Call ``on_ring`` whenever the doorbell rings; runs until cancelled. ``ready`` is set once rings are heard."""
    ready = ready if ready is not None else asyncio.Event()
    if uses_channel_layer():
        await _listen_to_layer(on_ring, ready)
    else:
        await _listen_to_datagrams(on_ring, ready)


async def listen_revoked(on_ring: Callable[[], None], ready: asyncio.Event | None = None) -> None:
    """Call ``on_ring`` whenever someone's access is revoked; runs until cancelled."""
    ready = ready if ready is not None else asyncio.Event()
    if uses_channel_layer():
        await _listen_to_layer(on_ring, ready, REVOKED_GROUP, REVOKED_MESSAGE["type"])
    else:
        await _listen_to_datagrams(on_ring, ready, REVOKED_BELL)


async def _listen_to_layer(
    on_ring: Callable[[], None],
    ready: asyncio.Event,
    group: str = EVENTS_GROUP,
    message_type: str = RING_MESSAGE["type"],
) -> None:
    layer = get_channel_layer()
    if layer is None:
        await asyncio.Event().wait()
        return
    channel = await layer.new_channel()
    joined = 0.0
    try:
        while True:
            # Group membership expires in channels_redis and vanishes when Redis restarts: renew it.
            if time.monotonic() - joined > LAYER_REJOIN_SECONDS:
                try:
                    await layer.group_add(group, channel)
                    joined = time.monotonic()
                    ready.set()
                except Exception:
                    logger.warning("could not join the events group; polling the log meanwhile", exc_info=True)
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=LAYER_REJOIN_SECONDS)
            except TimeoutError:
                continue
            if message.get("type") == message_type:
                on_ring()
    finally:
        with contextlib.suppress(Exception):
            await layer.group_discard(group, channel)


async def _listen_to_datagrams(on_ring: Callable[[], None], ready: asyncio.Event, name: str = BELL) -> None:
    try:
        bell = core_doorbell.SocketBell(name, tag=f"{id(asyncio.get_running_loop()):x}")
    except OSError:
        logger.warning("could not bind the doorbell socket; polling the log only", exc_info=True)
        await asyncio.Event().wait()
        return
    try:
        await bell.listen(on_ring, ready)
    finally:
        bell.close()
