"""A small process supervisor for the run command and the no-Docker cluster (standard library only).

Every child runs in a session (and so a process group) of its own, so stopping a child stops whatever it
started too. Stopping is bounded: SIGTERM to each group, then SIGKILL to whatever is still there after the
grace period. Daphne, for one, may keep serving in-flight requests long after SIGTERM; the supervisor does not
wait for it beyond the grace period.

    supervisor = Supervisor(grace=10)
    supervisor.start("web-1", [daphne, ...], env=env, restart=True)
    supervisor.serve()     # until SIGTERM/SIGINT, or until a child started with critical=True ends

``restart=True`` children are started again when they end on their own (after a short, growing pause),
the way a container runtime's restart policy would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

DEFAULT_GRACE_SECONDS = 10.0
RESTART_PAUSE_MAX = 5.0


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] | None
    cwd: Path | None
    restart: bool
    critical: bool
    log: IO[bytes] | None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    pause: float = 0.2
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    def __init__(self, grace: float = DEFAULT_GRACE_SECONDS) -> None:
        self.grace = grace
        self.children: dict[str, Child] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.exit_code = 0

    # --- starting -----------------------------------------------------------------------------

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        restart: bool = False,
        critical: bool = False,
        log: IO[bytes] | None = None,
    ) -> Child:
        child = Child(name, list(argv), env, cwd, restart, critical, log)
        self.children[name] = child
        self._spawn(child)
        return child

    def _spawn(self, child: Child) -> None:
        output = child.log if child.log is not None else None
        child.process = subprocess.Popen(
            child.argv,
            env=child.env,
            cwd=child.cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            start_new_session=True,
        )
        child.starts += 1
        child.stopped = False

    # --- faults and restarts ------------------------------------------------------------------

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int | None:
        """Send ``sig`` to a child's whole group (fault drills); a restart=True child comes back by itself."""
        child = self.children[name]
        pid = child.pid
        if pid is not None and child.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
        return pid

    def poll(self) -> None:
        """Restart children that ended on their own; end the run when a critical child ends."""
        with self._lock:
            for child in self.children.values():
                if child.process is None or child.stopped or child.alive() or self._stopping.is_set():
                    continue
                code = child.process.returncode
                if child.critical:
                    print(f"supervisor: {child.name} ended (exit {code}); stopping everything", flush=True)
                    self.exit_code = code or 1
                    self._stopping.set()
                elif child.restart:
                    print(f"supervisor: {child.name} ended (exit {code}); starting it again", flush=True)
                    time.sleep(child.pause)
                    child.pause = min(child.pause * 2, RESTART_PAUSE_MAX)
                    self._spawn(child)
                else:
                    child.stopped = True

    # --- running and stopping -----------------------------------------------------------------

    def serve(self) -> int:
        """Supervise until SIGTERM/SIGINT or a critical child's end; then stop everything, bounded."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not self._stopping.wait(0.5):
                self.poll()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.exit_code

    def request_stop(self) -> None:
        self._stopping.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping.set()

    def stop(self) -> None:
        """SIGTERM every child's group, wait up to the grace period, then SIGKILL what is left."""
        self._stopping.set()
        with self._lock:
            running = [child for child in self.children.values() if child.alive()]
            for child in running:
                child.stopped = True
                _signal_group(child, signal.SIGTERM)
            deadline = time.monotonic() + self.grace
            for child in running:
                assert child.process is not None
                try:
                    child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    print(f"supervisor: {child.name} still running after {self.grace:g}s; killing it", flush=True)
            for child in self.children.values():
                # Also the groups of children that exited: whatever they started goes with them.
                _signal_group(child, signal.SIGKILL)
                if child.process is not None:
                    child.process.wait()


def _signal_group(child: Child, sig: int) -> None:
    if child.pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


def grace_from_environment() -> float:
    raw = os.environ.get("HOTLINE_STOP_GRACE_SECONDS", "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_GRACE_SECONDS
    except ValueError:
        sys.exit(f"HOTLINE_STOP_GRACE_SECONDS must be a number of seconds, not {raw!r}")
