"""The run command stops cleanly on SIGTERM while requests are in flight, and takes its children with it.

Before the supervisor, scripts/run.py exec'd Daphne: with a half-sent request and a live socket open Daphne
did not exit on SIGTERM, and its timer worker and unit simulator kept running beside the next start.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import bagit
import pytest
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
# Only a guard so a broken stop fails the test instead of hanging it; the grace period below is 3 s.
STOP_GUARD_SECONDS = 120
STARTUP_GUARD_SECONDS = 600


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid``, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and brackets; the fields after its closing bracket do not.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.fixture
def running_demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = _free_port()
    log = tmp_path / "run.log"
    env = {**os.environ, "HOTLINE_VAR_DIR": str(tmp_path / "var"), "HOTLINE_STOP_GRACE_SECONDS": "3"}
    for name in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "SQLITE_TEST_PATH", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "scripts/run.py", "--port", str(port)], cwd=ROOT, env=env, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield process, port, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for pid in _children(process.pid):
            os.kill(pid, signal.SIGKILL)


def _wait_until_serving(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    opener = urllib.request.build_opener()
    for _ in range(STARTUP_GUARD_SECONDS * 5):
        if process.poll() is not None:
            pytest.fail(f"the run command ended while starting:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with opener.open(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)  # waiting on the process doubles as the pause between polls
    pytest.fail("the run command did not start serving")


def _wait_for_a_demo_archive_package(process: subprocess.Popen[bytes], log: Path) -> None:
    """The run command's records office is var/archive/: its outbox worker leaves there a valid BagIt package
    of a closed demo ticket (the demo history closes some)."""
    folder = log.parent / "var" / "archive"
    for _ in range(STARTUP_GUARD_SECONDS * 5):
        packages = [p for p in folder.glob("*") if p.is_dir() and not p.name.startswith(".")]
        if packages:
            bag = bagit.Bag(str(packages[0]))
            assert bag.is_valid(), packages[0]
            assert bag.info["External-Identifier"] == packages[0].name
            return
        if process.poll() is not None:
            pytest.fail(f"the run command ended:\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)  # waiting on the process doubles as the pause between polls
    pytest.fail(f"no archive package reached {folder}")


def _session_cookie(port: int) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = f"http://127.0.0.1:{port}/accounts/login/"
    page = opener.open(login, timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    form = {"username": "operator", "password": "demo-12345", "csrfmiddlewaretoken": token.group(1)}
    request = urllib.request.Request(login, data=urllib.parse.urlencode(form).encode(), headers={"Referer": login})
    opener.open(request, timeout=30).read()
    cookies = {cookie.name: cookie.value for cookie in jar}
    assert "sessionid" in cookies, "the demo operator could not log in"
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def test_sigterm_stops_daphne_and_every_child_while_requests_are_in_flight(
    running_demo: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    process, port, log = running_demo
    _wait_until_serving(process, port, log)
    _wait_for_a_demo_archive_package(process, log)
    children = _children(process.pid)
    assert len(children) >= 2, "the timer worker and the unit simulator (and Daphne) run under the run command"

    # In flight: a live screen's socket and a request whose headers never finish.
    headers = {"Cookie": _session_cookie(port), "Origin": f"http://127.0.0.1:{port}"}
    with connect(f"ws://127.0.0.1:{port}/ws/events/", additional_headers=headers, open_timeout=30) as live:
        assert '"kind":"hello"' in live.recv(timeout=30)
        with socket.create_connection(("127.0.0.1", port)) as half_sent:
            half_sent.sendall(b"POST /api/tickets/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{")
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=STOP_GUARD_SECONDS)
    assert code == 0
    left = sorted(pid for pid in children if _alive(pid))
    assert left == [], f"processes of the run command still running after it ended: {left}"
