"""The live events WebSocket: subscribe first, replay the log after ``last_event_id``, then stream.

Client -> server messages are small JSON objects: {"type": "ping"}, or a command that an app registered
(realtime/commands.py; dispatch's work-order actions {"type": "act", ...}), answered by an "ack".
Server -> client messages carry a ``kind``: "hello", "event" (with its event id), "events" (several live
events in one message, see realtime/hub.py), "snapshot" (when the client is too far behind to replay), "live"
(replay done), "pong", "error". Close codes: 4001 not authenticated or no live scope, 4003 access revoked,
4008 message too big or too many messages, 4009 too many live sockets of this user on this process.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from realtime import commands
from realtime.audience import Audience, audience_of
from realtime.hub import Hub, Subscriber, encode_event, get_hub
from realtime.queries import events_for, needs_snapshot, snapshot

MAX_MESSAGE_BYTES = 4096
MAX_MESSAGES = 20
PER_SECONDS = 10.0
REPLAY_BATCH = 500


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _replay_batch(audience: Audience, after: int) -> list[tuple[int, str]]:
    return [
        (event.pk, encode_event(event, masked=not audience.centre))
        for event in events_for(audience).filter(id__gt=after).order_by("id")[:REPLAY_BATCH]
    ]


#: No such layer is configured, so Channels gives a socket no channel of its own: sockets are fed by
#: their process's hub, and a per-socket receive loop on Redis would cost a blocking pop per socket.
NO_CHANNEL_LAYER = "none: fed by the process hub"


class EventsConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = NO_CHANNEL_LAYER
    hub: Hub | None = None
    subscriber: Subscriber | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        # In a thread: the audience reads the user's agency (its city) from the database.
        audience = await database_sync_to_async(audience_of)(user) if user is not None else None
        if audience is None:
            await self.close(code=4001)
            return
        self.recent: list[float] = []
        await self.accept()
        session = self.scope.get("session")
        by_token = self.scope.get("auth") == "token"
        session_key = None if by_token else getattr(session, "session_key", None)
        self.hub = await get_hub()
        if self.hub.sockets_of(audience.user_id) >= int(settings.HOTLINE.get("MAX_SOCKETS_PER_USER", 30)):
            await self.close(code=4009)
            return
        # Subscribe before reading the log: whatever commits meanwhile waits in the buffer.
        self.subscriber = Subscriber(
            audience=audience,
            session_key=session_key,
            send=self._send_text,
            close=self._close,
            # Closed by the hub when this credential is revoked (realtime/auth.py, organisation/identity/).
            token_digest=self.scope.get("token_digest") if by_token else None,
            auth_hash=None if by_token else user.get_session_auth_hash(),
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
                    "city_id": audience.city_id,
                }
            )
        )
        try:
            position, sent = await self._catch_up(audience, last_event_id)
            await self.subscriber.go_live(position, start=last_event_id, sent=sent)
        except BaseException:
            # The database went away mid-replay (a restart): Channels may not call disconnect() for a connect
            # that failed, and the hub must not keep a connection that will never be sent to.
            self.hub.remove(self.subscriber)
            raise
        await self.send(_dump({"kind": "live", "last_event_id": position}))

    def _last_event_id(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            return int(query["last_event_id"][0])
        except (KeyError, ValueError, IndexError):
            return None

    async def _catch_up(self, audience: Audience, last_event_id: int | None) -> tuple[int, set[int] | None]:
        """Snapshot or replay; returns the position reached and the ids replayed (None: a snapshot)."""
        if last_event_id is None or await database_sync_to_async(needs_snapshot)(last_event_id):
            state = await database_sync_to_async(snapshot)(audience)
            await self.send(_dump({"kind": "snapshot", **state}))
            return int(state["as_of"]), None
        position = last_event_id
        sent: set[int] = set()
        while True:
            batch = await database_sync_to_async(_replay_batch)(audience, position)
            for event_id, text in batch:
                await self.send(text)
                position = event_id
                sent.add(event_id)
            if len(batch) < REPLAY_BATCH:
                return position, sent

    async def _reply(self, message: dict[str, Any]) -> None:
        """An answer to this socket's own message."""
        await self.send(_dump(message))

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def _close(self, code: int) -> None:
        await self.close(code=code)

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
        handler = commands.handler_for(message.get("type")) if isinstance(message, dict) else None
        if isinstance(message, dict) and message.get("type") == "ping":
            await self._reply({"kind": "pong"})
        elif handler is not None and isinstance(message, dict):
            # The command commits (and rings the doorbell) before its answer is sent.
            await self._reply(await database_sync_to_async(handler)(self.scope["user"], message))
        else:
            await self._reply({"kind": "error", "code": "unknown_message"})
