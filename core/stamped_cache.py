"""A per-process cache of database rows that notices other processes' changes.

The rows are loaded once and kept. At most every ``check_seconds`` one cheap stamp query (row counts,
newest change) says whether another process changed them since; only then are they loaded again. A
process that commits a change itself calls ``invalidate()`` after the commit, so that it sees it at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class StampedCache(Generic[T]):
    def __init__(self, load: Callable[[], T], stamp: Callable[[], object], *, check_seconds: float) -> None:
        self._load = load
        self._stamp = stamp
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._value: T | None = None
        self._value_stamp: object = None
        self._checked_at = 0.0

    def get(self) -> T:
        with self._lock:
            now = time.monotonic()
            if self._value is not None and now - self._checked_at < self.check_seconds:
                return self._value
            stamp = self._stamp()
            if self._value is None or stamp != self._value_stamp:
                self._value, self._value_stamp = self._load(), stamp
            self._checked_at = now
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value, self._checked_at = None, 0.0
