"""Writing prepared WebSocket frames straight onto Daphne's connections, for the hub's fan-out.

Through ASGI, every message to every socket travels consumer -> session wrapper -> Daphne's reply
coroutine -> autobahn, which frames it again for each socket: at 20 events/s to 1,000 sockets that path
alone kept one Daphne process from keeping up. The hub instead frames each event once
(``frame_text``), joins the frames an audience receives into one buffer, and writes that buffer to each
of the audience's sockets with one call, straight to the socket when Twisted has nothing queued for it.
Only live-event fan-out takes this path; handshakes, replies,
replays and closes still go through ASGI, in order with it, because both end in the same synchronous
autobahn write on the event loop's thread.

The connection is found by ``DaphneWireMiddleware``, outermost on the WebSocket stack, which recognises
Daphne's send callable. Under any other server (the test communicator, another ASGI server) there is no
wire and the hub falls back to the ASGI send.
"""

from __future__ import annotations

import functools
from typing import Any

from autobahn.websocket.protocol import PreparedMessage
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import tcp

SCOPE_KEY = "hotline.wire"


def frame_text(text: str) -> bytes:
    """One unmasked, uncompressed server text frame (valid whether or not compression was negotiated)."""
    return bytes(PreparedMessage(text.encode("utf-8"), False, False, True).payloadHybi)


class DaphneWire:
    """The frame-level sending side of one Daphne WebSocket connection."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: WebSocketProtocol) -> None:
        self.protocol = protocol

    @property
    def open(self) -> bool:
        return bool(self.protocol.state == WebSocketProtocol.STATE_OPEN)

    def write(self, frames: bytes) -> None:
        """Send now when nothing is queued before us; otherwise (or for the rest) queue behind it in Twisted.

        Twisted's own write always defers to the next reactor turn, registering the socket for writing and
        unregistering it again: two epoll calls per socket per message, a third of the fan-out's time.
        """
        transport = self.protocol.transport
        if not self.protocol.send_queue and _nothing_queued(transport):
            try:
                sent = transport.socket.send(frames)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # a broken connection: Twisted's own write attempt finds out and closes it
            if sent == len(frames):
                return
            frames = frames[sent:]
        self.protocol.sendData(frames)


def _nothing_queued(transport: Any) -> bool:
    """A plain TCP connection, still open for writing, with no bytes waiting in Twisted's buffers."""
    return bool(
        isinstance(transport, tcp.Connection)
        and not transport.TLS
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and transport._tempDataLen == 0
        and len(transport.dataBuffer) == transport.offset
    )


def daphne_protocol_of(send: Any) -> WebSocketProtocol | None:
    """Daphne hands each application ``partial(server.handle_reply, protocol)`` as its send callable."""
    if isinstance(send, functools.partial) and send.args and isinstance(send.args[0], WebSocketProtocol):
        return send.args[0]
    return None


class DaphneWireMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        protocol = daphne_protocol_of(send)
        if protocol is not None:
            scope = {**scope, SCOPE_KEY: DaphneWire(protocol)}
        return await self.inner(scope, receive, send)
