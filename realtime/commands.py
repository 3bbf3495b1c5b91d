"""Socket commands: the apps above register what a screen may ask over its live socket.

A client message {"type": T, ...} other than a ping is handed to the handler registered for T, in a
worker thread, and its answer (a dict, usually {"kind": "ack", ...}) goes back to that socket alone.
The realtime layer knows no domain: dispatch registers "act" (work-order actions) at ready().
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from organisation.models import User

Handler = Callable[[User, dict[str, Any]], dict[str, Any]]

_handlers: dict[str, Handler] = {}


def register(message_type: str, handler: Handler) -> None:
    if message_type == "ping" or _handlers.get(message_type, handler) is not handler:
        raise RuntimeError(f"socket command {message_type!r} is registered twice")
    _handlers[message_type] = handler


def handler_for(message_type: Any) -> Handler | None:
    return _handlers.get(message_type) if isinstance(message_type, str) else None
