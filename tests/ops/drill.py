"""The fault drill's clients: live screens that reconnect by themselves, and a stream of intake and agency work.

A screen records every event id it receives, connection by connection (segments), and resumes after the highest
id it has seen, as the pages do; ``check`` holds what it received against the ids its user may see in the log.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

RETRYABLE = {500, 502, 503, 504}
HTTP_TIMEOUT = 30


class HttpFailure(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


def http_json(
    base: str,
    method: str,
    path: str,
    token: str | None,
    body: dict[str, Any] | None,
    *,
    headers: dict[str, str] | None = None,
    ok: tuple[int, ...] = (200, 201),
) -> Any:
    request = urllib.request.Request(base + path, method=method)
    request.add_header("Accept", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, data=data, timeout=HTTP_TIMEOUT) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode(errors="replace")
    if status not in ok:
        raise HttpFailure(status, text)
    return json.loads(text) if text else {}


async def wait_for(condition: Callable[[], bool], guard: float, what: str) -> None:
    """Wait until ``condition`` (run in a thread: it may do I/O) holds; ``guard`` only stops a hang."""
    deadline = time.monotonic() + guard
    while True:
        try:
            if await asyncio.to_thread(condition):
                return
        except (OSError, HttpFailure, ValueError):
            pass  # the service is still coming back
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {guard:.0f}s")
        await asyncio.sleep(0.5)


@dataclass
class Segment:
    start: int | None
    snapshot: bool = False
    ids: list[int] = field(default_factory=list)

    @property
    def end(self) -> int | None:
        return self.ids[-1] if self.ids else self.start


class Screen:
    def __init__(self, base: str, username: str, token: str) -> None:
        self.url = base.replace("http://", "ws://") + "/ws/events/"
        self.headers = {"Authorization": f"Token {token}", "Origin": base}
        self.username = username
        self.segments: list[Segment] = []
        self.received: list[int] = []
        self.live = False
        self.connected = False
        self.reconnections = 0
        self.closes: Counter[str] = Counter()
        self._last: int | None = None
        self._stopping = False
        self._socket: ClientConnection | None = None
        self._closing: asyncio.Future[None] | None = None

    async def run(self) -> None:
        while not self._stopping:
            url = self.url if self._last is None else f"{self.url}?last_event_id={self._last}"
            try:
                async with connect(url, additional_headers=self.headers, open_timeout=30, max_size=None) as socket:
                    self._socket = socket
                    async for raw in socket:
                        self._take(json.loads(raw))
                    self.closes[f"closed {socket.close_code}"] += 1
            except ConnectionClosed as closed:
                self.closes[f"close {closed.rcvd.code if closed.rcvd else 'none'}"] += 1
            except InvalidStatus as refused:
                self.closes[f"refused {refused.response.status_code}"] += 1
            except (OSError, WebSocketException, TimeoutError) as error:
                self.closes[type(error).__name__] += 1
            self.connected = False
            if self._stopping:
                return
            self.reconnections += 1
            await asyncio.sleep(random.uniform(0.2, 1.0))  # a real screen's back-off before it reconnects

    def _take(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "hello":
            self.connected = True
            self.segments.append(Segment(start=self._last))
        elif kind == "snapshot":
            self.segments[-1].start = int(message["as_of"])
            self.segments[-1].snapshot = True
            self._last = int(message["as_of"])
        elif kind == "event":
            self._record(int(message["id"]))
        elif kind == "events":
            for event in message["events"]:
                self._record(int(event["id"]))
        elif kind == "live":
            self.live = True

    def _record(self, event_id: int) -> None:
        self.segments[-1].ids.append(event_id)
        self.received.append(event_id)
        self._last = max(self._last or 0, event_id)

    def caught_up(self, visible: list[int]) -> bool:
        return self.connected and (not visible or (self._last or 0) >= visible[-1])

    def stop(self) -> None:
        self._stopping = True
        if self._socket is not None:
            self._closing = asyncio.ensure_future(self._socket.close())

    def check(self, visible: list[int]) -> list[str]:
        """Each event the user may see after the screen's first position arrived exactly once, and nothing else.

        Ids are assigned before commit, so an event can commit (and arrive) after a higher id: the screen, like
        realtime/static/realtime/live.js, resumes after the highest id it has seen. A snapshot taken on a
        reconnection stands for the events up to its position that the screen had not received."""
        problems = []
        doubled = sorted(event_id for event_id, n in Counter(self.received).items() if n > 1)
        if doubled:
            problems.append(f"{self.username}: events received twice: {doubled[:10]}")
        if not self.segments or self.segments[0].start is None:
            return [*problems, f"{self.username}: never got a position"]
        first = self.segments[0].start
        covered = max((s.start or 0 for s in self.segments[1:] if s.snapshot), default=first)
        received = set(self.received)
        allowed = set(visible)
        foreign = sorted(received - allowed)
        if foreign:
            problems.append(f"{self.username}: events it may not see: {foreign[:10]}")
        missing = [v for v in visible if v > first and v not in received and v > covered]
        if missing:
            problems.append(f"{self.username}: events never received: {missing[:10]} (of {len(missing)})")
        return problems

    @property
    def out_of_order(self) -> int:
        return sum(1 for a, b in zip(self.received, self.received[1:], strict=False) if b < a)


class Traffic:
    """Tickets taken by the operator, dispatched to the handler's agency and signed, each step retried until it
    took effect: intake with its idempotency key, the others until the work order is in the next state."""

    def __init__(self, base: str, operator: str, dispatcher: str, handler: str, agency_id: int) -> None:
        self.base, self.operator, self.dispatcher, self.handler = base, operator, dispatcher, handler
        self.agency_id = agency_id
        self.tickets = 0
        self.retries: Counter[str] = Counter()

    async def run(self, count: int) -> None:
        for _ in range(count):
            await asyncio.to_thread(self._one)

    def _one(self) -> None:
        self.tickets += 1
        number = self.tickets
        key = str(uuid.uuid4())
        payload = {
            "channel": "phone", "phone": f"1380000{number:04d}", "caller_name": "演练市民", "appeal_type": "complaint",
            "subject": "garbage-collection", "urgency": "normal", "title": f"演练受理-{number}",
            "description": "故障演练：小区门口垃圾未清运。", "address": "柳州市城中区文惠路12号",
            "latitude": 24.3126, "longitude": 109.4112,
        }  # fmt: skip
        ticket = self._retry(
            lambda: http_json(self.base, "POST", "/api/tickets/", self.operator, payload,
                              headers={"Idempotency-Key": key})
        )  # fmt: skip
        ticket_id = ticket["id"]
        self._retry_until(
            lambda: http_json(self.base, "POST", f"/api/tickets/{ticket_id}/dispatch/", self.dispatcher,
                              {"lead_agency_id": self.agency_id}),
            lambda: bool(self._ticket(ticket_id)["work_orders"]),
        )  # fmt: skip
        work_order_id = self._ticket(ticket_id)["work_orders"][0]["id"]
        self._retry_until(
            lambda: http_json(self.base, "POST", f"/api/work-orders/{work_order_id}/sign/", self.handler, {}),
            lambda: "sign" not in self._work_order(work_order_id).get("available_actions", ["sign"]),
        )

    def _ticket(self, ticket_id: int) -> Any:
        return self._retry(lambda: http_json(self.base, "GET", f"/api/tickets/{ticket_id}/", self.dispatcher, None))

    def _work_order(self, work_order_id: int) -> Any:
        return self._retry(
            lambda: http_json(self.base, "GET", f"/api/work-orders/{work_order_id}/", self.handler, None)
        )

    def _retry(self, call: Callable[[], Any]) -> Any:
        """Until it answers: a lost connection or a 5xx while a process or a service restarts is retried."""
        for _ in range(600):
            try:
                return call()
            except HttpFailure as failure:
                if failure.status not in RETRYABLE:
                    raise
                self.retries[f"http {failure.status}"] += 1
            except OSError as error:
                self.retries[type(error).__name__] += 1
            time.sleep(0.2)  # a client's back-off before it retries
        raise AssertionError("a request kept failing")

    def _retry_until(self, call: Callable[[], Any], done: Callable[[], bool]) -> None:
        """A step that is not idempotent by key: after a failed attempt, look whether it took effect."""
        for _ in range(600):
            try:
                call()
                return
            except HttpFailure as failure:
                if failure.status not in RETRYABLE and failure.status != 409:
                    raise
                self.retries[f"http {failure.status}"] += 1
            except OSError as error:
                self.retries[type(error).__name__] += 1
            if done():
                return
            time.sleep(0.2)  # a client's back-off before it retries
        raise AssertionError("a step kept failing")
