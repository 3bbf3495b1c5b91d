"""Browser tests: a real Daphne serving the demo city, driven through Debian's Chromium with Playwright.

The server is a black box in its own process and database: on the embedded pass an SQLite file and
the in-memory channel layer; on the PostgreSQL + Redis pass the harness's PostgreSQL and a Redis
server of its own, so that a test can restart Redis under the running screens.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.pinned_time import DEMO_NOW

ROOT = Path(settings.BASE_DIR)
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "demo-12345"
STARTUP_SECONDS = 120

sys.path.insert(0, str(ROOT / "scripts"))
import services  # noqa: E402  (scripts/ is not a package)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class DemoServer:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    redis_port: int | None
    redis_stop: Any

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return done.stdout

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # Daphne sometimes lingers over a closing socket: this one is ours
            self.process.kill()
            self.process.wait(timeout=30)

    def start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        daphne = str(Path(sys.executable).with_name("daphne"))
        self.process = subprocess.Popen(
            [daphne, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(port, self.process)

    def restart_redis(self) -> None:
        assert self.redis_port is not None, "Redis restarts only on the PostgreSQL + Redis pass"
        self.redis_stop()
        _url, self.redis_stop = services.start_redis(port=self.redis_port)


@contextlib.contextmanager
def server_beside(demo_server: DemoServer, settings: dict[str, str]) -> Iterator[DemoServer]:
    """A second server of the same demo city (same database and Redis) with other settings (environment
    variables), stopped afterwards."""
    port = free_port()
    env = {**demo_server.env, "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}", **settings}
    server = DemoServer(f"http://127.0.0.1:{port}", env, None, demo_server.redis_port, None)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the demo server exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)  # the port is not open yet: a readiness poll with a deadline
    raise TimeoutError("the demo server did not start")


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    port = free_port()
    var = tmp_path_factory.mktemp("demo-var")
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "HOTLINE_VAR_DIR": str(var),
            "ALLOWED_HOSTS": "127.0.0.1",
            "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}",
            "DJANGO_SECRET_KEY": "browser-tests",
        }
    )
    redis_port, redis_stop = None, None
    if os.environ.get("HOTLINE_TEST_BACKEND") == "postgres":
        # The harness's PostgreSQL database "hotline" is unused by pytest (it works in test_hotline).
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        redis_url, redis_stop = services.start_redis()
        env["REDIS_URL"] = redis_url
        redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        # History up to a fixed moment: its deadlines lie in a published calendar year whatever the real date.
        [sys.executable, "manage.py", "load_demo_city", "--tickets", "12", "--now", DEMO_NOW.isoformat()],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    # The fixture stops whichever process is current: a test may have restarted the server.
    server = DemoServer(f"http://127.0.0.1:{port}", env, None, redis_port, redis_stop)  # type: ignore[arg-type]
    try:
        server.start()
        yield server
    finally:
        if server.process is not None:
            server.stop()
        if server.redis_stop is not None:
            server.redis_stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Package scope: Playwright's sync API keeps an event loop running in this thread until it stops, and
    # asyncio tests collected after the browser tests need the thread without one.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


# The demo's published second-factor key (README "Demo logins") for admin, supervisor, auditor and commander.
DEMO_TOTP_KEY = bytes.fromhex("3132333435363738393031323334353637383930")
_last_step: dict[tuple[str, str], int] = {}
_sessions: dict[tuple[str, str], Any] = {}
_tokens: dict[tuple[str, str], str] = {}


def one_time_code(server: DemoServer, username: str) -> str:
    """A code the demo user's device accepts now. Each is accepted once, and the device takes the next step's
    code too: a second login within one 30 s step uses that; a third waits for the step to pass."""
    from django_otp.oath import TOTP

    key = (server.url, username)
    totp = TOTP(DEMO_TOTP_KEY)
    while totp.t() + 1 <= _last_step.get(key, -1):
        time.sleep(0.5)  # a poll of the clock until the device takes a code it has not seen
    step = max(totp.t(), _last_step.get(key, -1) + 1)
    totp.drift = step - totp.t()
    _last_step[key] = step
    return f"{totp.token():06d}"


def logged_in(browser: Browser, server: DemoServer, username: str) -> tuple[BrowserContext, Page]:
    """A new browser context logged in as the demo user: through the login page (and the one-time code where the
    role needs it) the first time, with that session's cookies after."""
    key = (server.url, username)
    options: dict[str, Any] = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-CN"}
    if key in _sessions:
        context = browser.new_context(storage_state=_sessions[key], **options)
        page = context.new_page()
        page.goto(f"{server.url}/")
        return context, page
    context = browser.new_context(**options)
    page = context.new_page()
    page.goto(f"{server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: url == f"{server.url}/" or "/accounts/second-factor/" in url)
    for _attempt in range(3):
        if "/accounts/second-factor/" not in page.url:
            break
        # A code the device has already seen in this step (another login of the same user) is refused: the
        # page comes back, and the next code is tried.
        page.fill("#id_token", one_time_code(server, username))
        page.click("button[type=submit] >> nth=0")
        page.wait_for_url(lambda url: url == f"{server.url}/" or "/accounts/second-factor/" in url)
        page.wait_for_load_state("domcontentloaded")
    page.wait_for_url(f"{server.url}/")
    _sessions[key] = context.storage_state()
    return context, page


def api_request(
    server: DemoServer,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    *,
    language: str | None = None,
) -> Any:
    """One JSON request to the demo server's REST API, as an integration sends it (``language``: Accept-Language)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    if language:
        headers["Accept-Language"] = language
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{server.url}{path}", data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def api_token(server: DemoServer, username: str) -> str:
    """The REST API token of a demo user (every demo user has the demo password; the roles with a second factor
    send the one-time code too). One per user and server: it lasts for the whole run."""
    key = (server.url, username)
    if key not in _tokens:
        otp = one_time_code(server, username) if username in ("admin", "supervisor", "auditor", "commander") else ""
        request = urllib.request.Request(
            f"{server.url}/api/auth/token/",
            method="POST",
            data=f"username={username}&password={PASSWORD}&otp={otp}".encode(),
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            _tokens[key] = str(json.loads(response.read())["token"])
    return _tokens[key]


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
