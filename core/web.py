"""Daphne, with its access log written through Python logging (logger ``daphne.access``) instead of straight to
stdout, so that it gets the JSON format and the filters of settings.LOGGING: no secret query parameter (the
OsmAnd AVL protocol can only send its device key as ``?key=``) and no phone number reaches the log.

Run it as Daphne itself, with the same arguments: ``python -m core.web -b 127.0.0.1 -p 8000
config.asgi:application``. It uses Daphne's public extension points only: the command line's ``server_class``
and the server's ``action_logger`` argument.
"""

from __future__ import annotations

import logging
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.server import Server

logger = logging.getLogger("daphne.access")

_WEBSOCKET_ACTIONS = {
    "connecting": "WSCONNECTING",
    "rejected": "WSREJECT",
    "connected": "WSCONNECT",
    "disconnected": "WSDISCONNECT",
}


def log_access(protocol: str, action: str, details: dict[str, Any]) -> None:
    """Daphne's action logger: one line per HTTP response and per socket step, as its own access log has them.
    The path goes through the log filters (core/logs.py), which blank the values of secret parameters."""
    if protocol == "http" and action == "complete":
        logger.info(
            "%s %s %s",
            details.get("method"),
            details.get("path"),
            details.get("status"),
            extra={
                "client": details.get("client"),
                "path": details.get("path"),
                "status": details.get("status"),
                "size": details.get("size"),
                "duration_ms": round(float(details.get("time_taken") or 0) * 1000),
            },
        )
    elif protocol == "websocket" and action in _WEBSOCKET_ACTIONS:
        logger.info(
            "%s %s",
            _WEBSOCKET_ACTIONS[action],
            details.get("path"),
            extra={"client": details.get("client"), "path": details.get("path")},
        )


class LoggingServer(Server):
    """Daphne's server; where Daphne would write its access log (verbosity 1 or --access-log), it logs."""

    def __init__(self, *args: Any, action_logger: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, action_logger=log_access if action_logger is not None else None, **kwargs)


class CommandLine(CommandLineInterface):
    server_class = LoggingServer


def main() -> None:
    CommandLine.entrypoint()


if __name__ == "__main__":
    main()
