"""Per-connection set-up of the embedded SQLite database.

WAL lets the web process, the timer worker and the simulator read while another writes. The journal mode is
stored in the database file, so a connection only asks for it when the file is not in WAL yet: asking again on
every connection needs a lock that SQLite does not wait for (no busy timeout), and a worker connecting while
another commits failed with "database is locked". Two processes starting together on a new file may both
try to switch it; the one SQLite refuses reads the mode again.
"""

from __future__ import annotations

from typing import Any

from django.db import OperationalError
from django.db.backends.signals import connection_created


def configure_sqlite(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for _attempt in range(3):
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0] in ("wal", "memory"):
                return
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                return
            except OperationalError:
                # Two processes switching the same new file at once: SQLite refuses one at once rather than
                # let both wait on each other; the next read waits (busy timeout) for the other's switch.
                continue


def connect() -> None:
    connection_created.connect(configure_sqlite, dispatch_uid="hotline-sqlite-setup")
