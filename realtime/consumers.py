"""The live events WebSocket: subscribe first, replay the log after ``last_event_id``, then stream.

Client -> server messages are small JSON objects: {"type": "ping"}, or a work-order action
{"type": "act", ...} (see realtime/commands.py), answered by an "ack". Server -> client messages carry a
``kind``: "hello", "event" (with its event id), "snapshot" (when the client is too far behind to
replay), "live" (replay done), "pong", "error". Close codes: 4001 not authenticated or no live scope,
4003 access revoked, 4008 message too big or too many messages.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from asgiref.sync import AsyncToSync, SyncToAsync
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections

from dispatch.models import User
from realtime import doorbell
from realtime.audience import Audience, audience_of
from realtime.commands import run_command
from realtime.events import ring_held
from realtime.hub import Hub, Subscriber, encode_event, get_hub
from realtime.queries import events_for, needs_snapshot, snapshot
from realtime.wire import SCOPE_KEY as WIRE_SCOPE_KEY
from realtime.wire import DaphneWire, frame_text

MAX_MESSAGE_BYTES = 4096
MAX_MESSAGES = 20
PER_SECONDS = 10.0
REPLAY_BATCH = 500


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _replay_batch(audience: Audience, after: int) -> list[tuple[int, str]]:
    return [
        (event.pk, encode_event(event))
        for event in events_for(audience).filter(id__gt=after).order_by("id")[:REPLAY_BATCH]
    ]


#: No such layer is configured, so Channels gives a socket no channel of its own: sockets are fed by
#: their process's hub, and a per-socket receive loop on Redis would cost a blocking pop per socket.
NO_CHANNEL_LAYER = "none: fed by the process hub"


Result = TypeVar("Result")


async def _in_database_thread(function: Callable[..., Result], *args: Any) -> Result:
    """``database_sync_to_async(function)(*args)`` for socket commands, without asgiref's per-call bookkeeping.

    That bookkeeping cost ~70 us a call here, as much again as the thread hop itself. The function runs in
    the thread where asgiref runs thread-sensitive code under Daphne (so on the same database connection as
    this process's other socket work), between the same connection clean-ups as database_sync_to_async.
    Wherever asgiref would pick another thread (below a sync caller, in a ThreadSensitiveContext, on a loop
    of async_to_sync's), it simply is database_sync_to_async.
    """
    loop = asyncio.get_running_loop()
    if (
        getattr(AsyncToSync.executors, "current", None) is not None
        or SyncToAsync.thread_sensitive_context.get(None) is not None
        or loop in AsyncToSync.loop_thread_executors
    ):
        return await database_sync_to_async(function)(*args)

    def run() -> Result:
        # What asgiref's thread handler records: async_to_sync below finds its way back to this loop.
        SyncToAsync.threadlocal.main_event_loop = loop
        SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
        close_old_connections()
        try:
            return function(*args)
        finally:
            close_old_connections()

    context = contextvars.copy_context()
    return await loop.run_in_executor(SyncToAsync.single_thread_executor, context.run, run)


def _run_command_ring_held(user: User, message: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """run_command, but the commit's doorbell ring is left to the caller: (the answer, whether to ring)."""
    with ring_held() as held:
        try:
            answer = run_command(user, message)
        except BaseException:
            if held.due:  # committed, then failed: the events are in the log, so the hubs hear of them now
                doorbell.ring()
            raise
    return answer, held.due


class EventsConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = NO_CHANNEL_LAYER
    hub: Hub | None = None
    subscriber: Subscriber | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        audience = audience_of(user) if user is not None else None
        if audience is None:
            await self.close(code=4001)
            return
        self.recent: list[float] = []
        await self.accept()
        session = self.scope.get("session")
        session_key = None if self.scope.get("auth") == "token" else getattr(session, "session_key", None)
        self.hub = await get_hub()
        # Subscribe before reading the log: whatever commits meanwhile waits in the buffer.
        self.subscriber = Subscriber(
            audience=audience,
            session_key=session_key,
            send=self._send_text,
            close=self._close,
            wire=self.scope.get(WIRE_SCOPE_KEY),
        )
        self.hub.add(self.subscriber)
        last_event_id = self._last_event_id()
        await self.send(
            _dump(
                {
                    "kind": "hello",
                    "user_id": audience.user_id,
                    "centre": audience.centre,
                    "agency_id": audience.agency_id,
                }
            )
        )
        position = await self._catch_up(audience, last_event_id)
        await self.subscriber.go_live(position)
        await self.send(_dump({"kind": "live", "last_event_id": position}))

    def _last_event_id(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            return int(query["last_event_id"][0])
        except (KeyError, ValueError, IndexError):
            return None

    async def _catch_up(self, audience: Audience, last_event_id: int | None) -> int:
        if last_event_id is None or await database_sync_to_async(needs_snapshot)(last_event_id):
            state = await database_sync_to_async(snapshot)(audience)
            await self.send(_dump({"kind": "snapshot", **state}))
            return int(state["as_of"])
        position = last_event_id
        while True:
            batch = await database_sync_to_async(_replay_batch)(audience, position)
            for event_id, text in batch:
                await self.send(text)
                position = event_id
            if len(batch) < REPLAY_BATCH:
                return position

    async def _reply(self, message: dict[str, Any]) -> None:
        """An answer to this socket's own message, written at once (as the hub writes events, realtime/wire.py).

        Through ASGI the reply would be framed by autobahn and written by Twisted on a later turn of the
        event loop. Under another server (the test communicator) there is no wire, and it goes through ASGI.
        """
        text = _dump(message)
        wire: DaphneWire | None = self.scope.get(WIRE_SCOPE_KEY)
        if wire is not None and wire.open:
            wire.write(frame_text(text))
        else:
            await self.send(text)

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def _close(self, code: int) -> None:
        await self.close(code=code)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels hops to a thread to close stale database connections before every message. Every
        # database access here goes through database_sync_to_async, which does that itself, so the
        # extra hop (a fraction of a millisecond on each socket command) is left out.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        if self.hub is not None and self.subscriber is not None:
            self.hub.remove(self.subscriber)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        now = time.monotonic()
        self.recent = [t for t in self.recent if now - t < PER_SECONDS] + [now]
        if size > MAX_MESSAGE_BYTES or len(self.recent) > MAX_MESSAGES:
            await self.close(code=4008)
            return
        try:
            message = json.loads(text_data or "")
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("type") == "ping":
            await self._reply({"kind": "pong"})
        elif isinstance(message, dict) and message.get("type") == "act":
            answer, ring = await _in_database_thread(_run_command_ring_held, self.scope["user"], message)
            try:
                await self._reply(answer)
            finally:
                # After commit and after the ack: rung earlier (from the worker thread, at commit), this
                # process's hub would start reading the log in the worker thread while the ack waited for
                # the interpreter lock behind it.
                if ring:
                    doorbell.ring()
        else:
            await self._reply({"kind": "error", "code": "unknown_message"})
