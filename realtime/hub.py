"""The per-process fan-out hub: one channel-layer subscription, local delivery to matching sockets.

The channel layer only rings the doorbell ("events up to id N were committed"). The hub then reads
every event after the last one it delivered from the log, encodes each once, and hands each audience's
connections one message with the events that audience may see. A doorbell that never rings (a full
Redis group, a Redis restart) costs at most one poll interval, because the hub also polls the log. Ids
are assigned before commit, so a later id can become visible first: ids skipped over are remembered as
holes and looked for again until they appear or are old enough to have been rolled back.

Every message to every socket goes through Channels' ASGI send, and to Daphne it costs about the same
whether it carries one event or fifty. So after each delivery the hub rests as long as the delivery
kept its thread busy, and whatever commits meanwhile goes out together as one "events" message
(docs/EVENTS.md): a thousand sockets get a few messages a second however fast events come, and a
handful of sockets get each event almost at once.

The hub also re-checks every local connection's user every few seconds and closes connections whose
user logged out, was deactivated or lost the role, so a revoked user is cut off within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.serializers.json import DjangoJSONEncoder

from core import clock
from organisation.identity.second_factor import needs_second_factor, session_is_verified
from organisation.models import User
from organisation.privacy import mask_free_text
from realtime import doorbell
from realtime.actions import do_prune_events
from realtime.audience import Audience, audience_of, may_receive
from realtime.models import Event

logger = logging.getLogger(__name__)

# The log poll is the safety net behind the doorbell; HOTLINE_EVENT_POLL_SECONDS can lengthen it.
POLL_SECONDS = float(getattr(settings, "HOTLINE", {}).get("EVENT_POLL_SECONDS", 1.0))
REVALIDATE_SECONDS = 2.0
PRUNE_SECONDS = 600.0
HOLE_PATIENCE_SECONDS = 60.0
BATCH = 500
# The longest rest after a delivery: bounds the wait an unusually costly delivery adds to the next one.
MAX_REST_SECONDS = 0.5
# A delivery lets the event loop run after this many sends: Daphne writes out what was sent so far, so
# the first screens receive while the others are still being sent to, and handshakes and commands are
# not held up for the whole delivery.
SENDS_PER_TURN = 50


def encode_event(event: Event, *, masked: bool = False) -> str:
    """The event as a socket message; ``masked``: for an agency audience, typed phone and ID-card numbers in
    its free text (an incident's title) masked as on their screens (organisation/privacy.py)."""
    return json.dumps(
        {
            "kind": "event",
            "id": event.pk,
            "type": event.type,
            "at": event.created_at,
            "ticket_id": event.ticket_id,
            "payload": mask_free_text(event.payload) if masked else event.payload,
        },
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def message_of(texts: list[str]) -> str:
    """One socket message for encoded events in id order: the event itself, or an "events" message of them."""
    if len(texts) == 1:
        return texts[0]
    return '{"kind":"events","events":[' + ",".join(texts) + "]}"


@dataclass(eq=False)
class Subscriber:
    """One live connection as the hub sees it."""

    audience: Audience
    session_key: str | None
    # The consumer's ASGI send of one text message, and its close.
    send: Callable[[str], Awaitable[None]]
    close: Callable[[int], Awaitable[None]]
    # The credential that opened it: a token (its digest), or the session (the user's password hash at the time).
    token_digest: str | None = None
    auth_hash: str | None = None
    # While the connection replays the log, live events wait here so that none is lost or doubled.
    buffering: bool = True
    buffer: list[tuple[int, str]] = field(default_factory=list)
    # After the replay: the position the connection started from and the ids its replay sent. The replay reads
    # the log directly and can run ahead of this process's hub (a hub that just started, or one slowed by a
    # database restart); what the hub then reads late must not reach this connection a second time.
    floor: int = 0
    replayed: set[int] = field(default_factory=set)

    async def go_live(self, replayed_up_to: int, *, start: int | None = None, sent: set[int] | None = None) -> None:
        """Deliver what arrived during the replay and the replay did not send, then stream.

        ``start``/``sent``: the position the replay started after and the ids it sent. Without them (a
        snapshot stamped ``replayed_up_to``) whatever is newer than the snapshot is delivered."""
        self.floor = replayed_up_to if sent is None else (start or 0)
        self.replayed = set(sent or ())
        while self.buffer:
            pending, self.buffer = self.buffer, []
            texts = [text for event_id, text in sorted(pending) if self.wants(event_id)]
            if texts:
                await self.send(message_of(texts))
        self.buffering = False

    def wants(self, event_id: int) -> bool:
        return event_id > self.floor and event_id not in self.replayed

    def settle(self, hub_position: int, holes: dict[int, float]) -> None:
        """Forget replayed ids the hub has read past (and is not waiting for as holes)."""
        if self.replayed:
            self.replayed = {i for i in self.replayed if i > hub_position or i in holes}


class Hub:
    def __init__(self) -> None:
        # Connections by audience key: every connection under one key receives exactly the same events.
        self.audiences: dict[str, set[Subscriber]] = {}
        self.last_id: int | None = None
        self.holes: dict[int, float] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.started = False
        self.listen_starts = 0
        self.wake = asyncio.Event()
        # Set when someone's access was revoked (the revocation bell): live connections are re-checked at once.
        self.recheck = asyncio.Event()
        # Set once the doorbell is heard (tests wait for it; a missed ring is covered by the poll anyway).
        self.listening = asyncio.Event()

    @property
    def subscribers(self) -> set[Subscriber]:
        return {subscriber for members in self.audiences.values() for subscriber in members}

    async def start(self) -> None:
        # Marked as started before the first await: sockets connecting meanwhile must not start more tasks.
        if self.started:
            return
        self.started = True
        try:
            self.last_id = await database_sync_to_async(_latest_id)()
        except BaseException:
            # The database is away (restarting): the next connection starts the hub again.
            self.started = False
            raise
        self.tasks = [
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._poll()),
            asyncio.create_task(self._revalidate()),
            asyncio.create_task(self._listen_revoked()),
        ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        self.started = False

    def sockets_of(self, user_id: int) -> int:
        return sum(1 for subscriber in self.subscribers if subscriber.audience.user_id == user_id)

    def add(self, subscriber: Subscriber) -> None:
        self.audiences.setdefault(subscriber.audience.group_key, set()).add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        key = subscriber.audience.group_key
        members = self.audiences.get(key)
        if members is not None:
            members.discard(subscriber)
            if not members:
                del self.audiences[key]

    async def _listen(self) -> None:
        """The doorbell loop; whatever goes wrong in it, it starts again (the log poll covers the gap)."""
        while True:
            self.listen_starts += 1
            try:
                await doorbell.listen(self.wake.set, self.listening)
            except asyncio.CancelledError:
                raise
            except BaseException:
                logger.exception("the doorbell listener failed; starting it again")
            await asyncio.sleep(POLL_SECONDS)

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=POLL_SECONDS)
            self.wake.clear()
            busy = time.thread_time()
            try:
                delivered = await self.deliver_new()
            except Exception:
                logger.exception("event delivery failed; retrying at the next poll")
                continue
            if delivered:
                # Events committed during the rest go out together in the next delivery. The rest is the
                # event loop's CPU time over the delivery (its sends and Daphne writing them out), not the
                # wall-clock time: on a busy machine that stretches, and resting as long only adds to the wait.
                await asyncio.sleep(min(time.thread_time() - busy, MAX_REST_SECONDS))

    async def deliver_new(self) -> int:
        """Read what was committed since the last delivery and fan it out; returns how many events."""
        events = await database_sync_to_async(self._read_new)()
        if len(events) >= BATCH:
            self.wake.set()  # more are waiting: read on without waiting for a ring or the poll
        if events:
            await self.fan_out(events)
        return len(events)

    async def fan_out(self, events: list[Event]) -> None:
        """Hand each audience's connections one message with the events it may receive, in id order."""
        texts = {event.pk: encode_event(event) for event in events}
        masked: dict[int, str] = {}  # agencies' encoding, made on first need
        # Who is still replaying is settled for the whole delivery before the first send: the sends let
        # other sockets run, and one that went live meanwhile must not also get what its replay just sent.
        outgoing: list[tuple[Subscriber, str]] = []
        for members in self.audiences.values():
            audience = next(iter(members)).audience
            items = [
                (event.pk, texts[event.pk] if audience.centre else _masked(masked, event))
                for event in events
                if may_receive(audience, event)
            ]
            if not items:
                continue
            message = message_of([text for _event_id, text in items])
            for subscriber in members:
                if subscriber.buffering:
                    subscriber.buffer.extend(items)
                elif subscriber.replayed or items[0][0] <= subscriber.floor:
                    # Just went live ahead of this hub: only what its replay did not send.
                    own = [text for event_id, text in items if subscriber.wants(event_id)]
                    subscriber.settle(self.last_id or 0, self.holes)
                    if own:
                        outgoing.append((subscriber, message_of(own)))
                else:
                    outgoing.append((subscriber, message))
        for sent, (subscriber, message) in enumerate(outgoing, start=1):
            try:
                await subscriber.send(message)
            except Exception:
                self.remove(subscriber)
            if sent % SENDS_PER_TURN == 0:
                await asyncio.sleep(0)

    def _read_new(self) -> list[Event]:
        last = self.last_id or 0
        now = time.monotonic()
        self.holes = {hole: seen for hole, seen in self.holes.items() if now - seen < HOLE_PATIENCE_SECONDS}
        found = list(Event.objects.filter(id__gt=last).order_by("id")[:BATCH])
        if self.holes:
            late = list(Event.objects.filter(id__in=list(self.holes)).order_by("id"))
            for event in late:
                self.holes.pop(event.pk, None)
            found = late + found
        if found:
            newest = max(event.pk for event in found)
            if newest > last:
                seen_ids = {event.pk for event in found}
                for missing in range(last + 1, newest):
                    if missing not in seen_ids and missing not in self.holes:
                        self.holes[missing] = now
                self.last_id = newest
        return found

    async def _listen_revoked(self) -> None:
        """The revocation bell's loop; the periodic re-check covers it while it is down."""
        while True:
            try:
                await doorbell.listen_revoked(self.recheck.set)
            except asyncio.CancelledError:
                raise
            except BaseException:
                logger.exception("the revocation listener failed; starting it again")
            await asyncio.sleep(REVALIDATE_SECONDS)

    async def _revalidate(self) -> None:
        pruned = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.recheck.wait(), timeout=REVALIDATE_SECONDS)
            self.recheck.clear()
            if time.monotonic() - pruned > PRUNE_SECONDS:
                # Every process prunes now and then; the prune mark's row lock makes concurrent runs harmless.
                pruned = time.monotonic()
                try:
                    await database_sync_to_async(do_prune_events)()
                except Exception:
                    logger.exception("could not prune the event log")
            if not self.subscribers:
                continue
            try:
                revoked = await database_sync_to_async(_revoked)(list(self.subscribers))
            except Exception:
                logger.exception("could not re-check live connections")
                continue
            for subscriber in revoked:
                self.remove(subscriber)
                try:
                    await subscriber.close(4003)
                except Exception:
                    logger.debug("connection already gone", exc_info=True)


def _masked(cache: dict[int, str], event: Event) -> str:
    text = cache.get(event.pk)
    if text is None:
        text = cache[event.pk] = encode_event(event, masked=True)
    return text


def _latest_id() -> int:
    from realtime.queries import latest_event_id

    return latest_event_id()


def _revoked(subscribers: list[Subscriber]) -> list[Subscriber]:
    """Connections whose user may no longer have them: logged out, deactivated, lost the role, changed the
    password (a session's), or whose token was revoked or expired."""
    from organisation.identity.tokens import live_token_digests

    users = User.objects.select_related("agency").in_bulk({s.audience.user_id for s in subscribers})
    keys = {s.session_key for s in subscribers if s.session_key}
    live_sessions = (
        set(
            Session.objects.filter(session_key__in=keys, expire_date__gt=clock.now()).values_list(
                "session_key", flat=True
            )
        )
        if keys
        else set()
    )
    live_tokens = live_token_digests({s.token_digest for s in subscribers if s.token_digest})
    revoked = []
    for subscriber in subscribers:
        user = users.get(subscriber.audience.user_id)
        current = audience_of(user) if user is not None else None
        if (
            current != subscriber.audience
            or (subscriber.session_key and subscriber.session_key not in live_sessions)
            or (subscriber.token_digest and subscriber.token_digest not in live_tokens)
            or (user is not None and subscriber.auth_hash and subscriber.auth_hash != user.get_session_auth_hash())
            or (user is not None and _owes_second_factor(user, subscriber))
        ):
            revoked.append(subscriber)
    return revoked


def _owes_second_factor(user: User, subscriber: Subscriber) -> bool:
    """A session's connection whose user needs the second factor now (a new role, say) but whose session was
    never verified with it: it could not open today, so it does not stay open either."""
    if subscriber.token_digest or not subscriber.session_key or not needs_second_factor(user):
        return False
    engine = importlib.import_module(settings.SESSION_ENGINE)
    return not session_is_verified(user, engine.SessionStore(session_key=subscriber.session_key))


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


async def get_hub() -> Hub:
    """The hub of the running event loop (one per process in Daphne; one per test loop in tests)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    await hub.start()
    return hub


def hub_state() -> dict[str, Any]:
    return {str(id(loop)): {"subscribers": len(hub.subscribers), "last_id": hub.last_id} for loop, hub in _hubs.items()}
