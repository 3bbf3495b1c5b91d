"""Logging the demo city's users in from a test, with the one-time code where the role needs one
(``organisation.policy.SECOND_FACTOR_ROLES``): a TOTP device of the tests' own, with a known key, is added to
the users once per server, and the code is computed as an authenticator app would.

A code is accepted once per device and time step; the device accepts the next step's code too (django-otp's
tolerance), so a second login of the same user within one step uses that one.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable

from django_otp.oath import totp
from playwright.sync_api import Browser, BrowserContext, Page, expect

from organisation.policy import SECOND_FACTOR_ROLES
from tests.browser.conftest import PASSWORD, DemoServer

TOTP_KEY = "3132333435363738393031323334353637383930"  # hex, 20 bytes
# The demo's users of the roles in organisation.policy.SECOND_FACTOR_ROLES are named after their role.
SECOND_FACTOR_USERS = frozenset(str(role) for role in SECOND_FACTOR_ROLES)
DEVICE_NAME = "browser-tests"
LIVE = 30_000
_ready: set[tuple[str, str]] = set()

_DEVICE_SCRIPT = textwrap.dedent(
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from organisation.models import User
    for user in User.objects.filter(username__in=USERNAMES):
        TOTPDevice.objects.update_or_create(user=user, name=NAME, defaults={"confirmed": True, "key": KEY})
    """
)


def ensure_devices(server: DemoServer, usernames: list[str]) -> None:
    # Only users of the roles that must give a code get the tests' device: with a device django-otp asks anyone
    # for a code, and the other tests (sharing this server) log the operator or a handler in with a password.
    usernames = [name for name in usernames if name in SECOND_FACTOR_USERS]
    missing = sorted(name for name in usernames if (server.url, name) not in _ready)
    if not missing:
        return
    script = f"USERNAMES = {missing!r}\nNAME = {DEVICE_NAME!r}\nKEY = {TOTP_KEY!r}\n{_DEVICE_SCRIPT}"
    for attempt in range(3):  # the server may hold the SQLite write lock for a moment: try again
        try:
            server.manage("shell", "-c", script)
            break
        except subprocess.CalledProcessError as error:
            if attempt == 2 or "locked" not in (error.stderr or ""):
                raise AssertionError(f"adding the test devices failed: {error.stderr}") from error
    _ready.update((server.url, name) for name in missing)


def one_time_code(drift: int = 0) -> str:
    return f"{totp(bytes.fromhex(TOTP_KEY), step=30, t0=0, digits=6, drift=drift):06d}"


def api_token(server: DemoServer, username: str) -> str:
    """A REST API token, with the one-time code (ignored for roles without a second factor)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    ensure_devices(server, [username])
    for drift in (0, 1):
        body = urllib.parse.urlencode({"username": username, "password": PASSWORD, "otp": one_time_code(drift)})
        request = urllib.request.Request(f"{server.url}/api/auth/token/", method="POST", data=body.encode())
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return str(json.loads(response.read())["token"])
        except urllib.error.HTTPError as error:
            if error.code != 400 or drift:
                raise
    raise AssertionError("unreachable")


def log_in(
    browser: Browser, server: DemoServer, username: str, seen: Callable[[str, Page], None] | None = None
) -> tuple[BrowserContext, Page]:
    """The login page, the password, then the one-time code where the role needs it; ``seen`` is shown each
    page on the way (the login page, the code page)."""
    ensure_devices(server, [username])
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    page.goto(f"{server.url}/accounts/login/")
    if seen:
        seen("/accounts/login/", page)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    for drift in (0, 1):
        if "/accounts/second-factor/" not in page.url:
            break
        if seen:
            seen("/accounts/second-factor/", page)
        page.fill("#id_token", one_time_code(drift))
        page.locator("form button[type=submit]").first.click()
        page.wait_for_load_state("domcontentloaded")
    expect(page).to_have_url(f"{server.url}/", timeout=LIVE)
    return context, page
