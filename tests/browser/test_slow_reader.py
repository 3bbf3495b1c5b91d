"""A socket that stops reading while bursts of events arrive gets every event, intact and in order, afterwards.

The hub sends live events through the consumer's ASGI send, several at once as one "events" message when
they pile up; Daphne hands Twisted whatever the kernel does not take at once. A reader with a tiny receive
buffer that pauses makes the server's socket refuse most of each burst, so later events must queue behind
the unsent rest of earlier ones.
The events are committed by another process (the doorbell across processes, or through Redis).
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

from websockets.sync.client import connect
from websockets.typing import Origin

from tests.browser.conftest import DemoServer, api_token
from tests.browser.test_recovery import _db

BURSTS = 3
EVENTS_PER_BURST = 4000
PADDING = "回" * 200  # about 600 bytes of UTF-8 per event

WRITE_BURSTS = f"""
import json
from django.db import transaction
from realtime.events import append_events
written = []
for burst in range({BURSTS}):
    with transaction.atomic():
        events = append_events("call.ringing", [
            ({{"call": {{"id": n, "state": "ringing", "extension": "{PADDING}", "operator_id": None,
                        "ticket_id": None}}}}, None, [], None)
            for n in range({EVENTS_PER_BURST})
        ])
    written += [event.pk for event in events]
print(json.dumps(written))
"""


def test_a_reader_that_pauses_gets_every_event_once_in_order(demo_server: DemoServer) -> None:
    token = api_token(demo_server, "operator")
    address = urlsplit(demo_server.url)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # before connecting, so the window stays small
    raw.connect((address.hostname, address.port))
    with connect(
        f"ws://{address.netloc}/ws/events/",
        sock=raw,
        origin=Origin(demo_server.url),
        additional_headers={"Authorization": f"Token {token}"},
        max_queue=1,  # the client stops reading its socket while one message waits unread
        max_size=None,
        open_timeout=30,
    ) as ws:
        start = None
        while start is None:
            message = json.loads(ws.recv(timeout=30))
            if message["kind"] == "live":
                start = int(message["last_event_id"])
        # Nothing is read while the other process commits: the bursts pile up in the server.
        written: list[int] = _db(demo_server, WRITE_BURSTS)
        last = max(written)
        received: list[int] = []
        while not received or received[-1] < last:
            message = json.loads(ws.recv(timeout=60))
            # One event, or several committed close together in one "events" message (docs/EVENTS.md).
            events = [message] if message["kind"] == "event" else message.get("events", [])
            for event in events:
                received.append(int(event["id"]))
                assert event["payload"]["call"]["extension"] == PADDING
    assert len(written) == BURSTS * EVENTS_PER_BURST
    assert received == sorted(set(received))  # in order, none twice
    assert set(written) <= set(received)  # none lost
