"""A real local HTTP receiver for webhook tests: answers each POST with the next status of a script."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    statuses: list[int]  # answered in order; the last one repeats
    received: list[Received] = field(default_factory=list)
    url: str = ""
    arrived: threading.Condition = field(default_factory=threading.Condition)
    # While set, requests wait here before answering (a worker can be killed mid-send).
    hold: threading.Event | None = None

    def wait_for(self, count: int, timeout: float = 30) -> None:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                raise TimeoutError(f"{len(self.received)} of {count} requests arrived")


@contextmanager
def running_receiver(statuses: list[int], hold: threading.Event | None = None) -> Iterator[Receiver]:
    receiver = Receiver(statuses=list(statuses), hold=hold)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.arrived:
                receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                index = len(receiver.received) - 1
                receiver.arrived.notify_all()
            if receiver.hold is not None:
                receiver.hold.wait(30)
            status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if hold is not None:
            hold.set()
        server.shutdown()
        server.server_close()
