"""Every screen, for every role that may open it, rendered in zh-hans in real Chromium on the demo city: no
interface text left in English and no internal code on the screen (issue #17).

The screens a role opens come from the one policy (``organisation.policy.SCREENS`` and ``may_open``, the audit
log's ``may_read_audit``), so a new screen is covered as soon as the policy knows it; every link of the home
page must be one of them. Besides the screens: the home page, the login and one-time-code pages, and the
403 and 404 pages.

What counts as a leak, in the visible text (``innerText``, the title, and the placeholder, title and
aria-label of visible elements):

- a msgid of the zh_Hans catalogues (locale/zh_Hans/LC_MESSAGES/*.po) that has a different Chinese text,
  verbatim (its literal parts around placeholders), as a whole word;
- an internal code: a snake_case identifier (``escalate_warning``, ``urban_management``), an event type
  (``ticket.created``), a role code (``operator``), an agency code (``lz-chengzhong``), an ISO timestamp.

Data may be Latin (e-mail addresses, URLs, numbers, call signs); those are taken out before the checks.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, WebSocket, expect
from playwright.sync_api import Error as PlaywrightError

from organisation import policy
from organisation.models import AGENCY_ROLES, Role, User
from tests.browser.conftest import DemoServer, screenshot
from tests.browser.two_factor import ensure_devices, log_in

pytestmark = pytest.mark.browser
LIVE = 30_000  # milliseconds a screen may take to settle (a failure bound, not a sleep)
LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"

#: One demo user per role (load_demo_city's DEMO_USERS).
DEMO_USERS: dict[str, str] = {
    Role.OPERATOR: "operator",
    Role.DISPATCHER: "dispatcher",
    Role.AGENCY_HANDLER: "handler",
    Role.AGENCY_ADMIN: "agencyadmin",
    Role.COMMANDER: "commander",
    Role.SUPERVISOR: "supervisor",
    Role.AUDITOR: "auditor",
    Role.ADMIN: "admin",
}
#: Where each screen of the policy lives ("{ticket}": a ticket number the role may open).
SCREEN_PATHS = {
    "console": "/console/",
    "command": "/command/",
    "inbox": "/inbox/",
    "supervision": "/supervision/",
    "workbench": "/work/",
    "ticket": "/tickets/{ticket}/",
    "phrases": "/phrases/",
}
NOT_A_PAGE = "/no-such-page/"

# --- what a leak is -----------------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: The placeholders of canned phrases ({address}, {date}): what their editors type, shown as typed.
PHRASE_TOKEN = re.compile(r"\{[a-z_]+\}")
URL = re.compile(r"\b(?:https?://|/)[\w./?=&%#:-]+")
#: Names of standards, kept as their owners write them in Chinese text too (like OTP): Open311 GeoReport v2.
STANDARD_NAMES = re.compile(r"\bOpen311(?: GeoReport v2)?\b")
CODE_PATTERNS = {
    "identifier": re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"),
    "event type": re.compile(r"\b(?:ticket|work_order|incident|unit|caller|reference|escalation)\.[a-z_]+\b"),
    "role code": re.compile(r"\b(?:" + "|".join(sorted(Role.values)) + r")\b"),
    "ISO timestamp": re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"),
}


def _po_entries(path: Path) -> Iterator[tuple[str, str, bool]]:
    """(msgid, msgstr (first form), fuzzy) of a .po file; a small reader for the files makemessages writes."""
    entry: dict[str, str] = {}
    fuzzy = False
    key = ""
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line:
            if "msgid" in entry:
                yield entry["msgid"], entry.get("msgstr", entry.get("msgstr[0]", "")), fuzzy
            entry, fuzzy, key = {}, False, ""
        elif line.startswith("#,"):
            fuzzy = "fuzzy" in line
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] = entry.get(key, "") + json.loads(line)
        else:
            key, _space, value = line.partition(" ")
            entry[key] = json.loads(value)


def interface_phrases() -> set[str]:
    """The literal English parts of every msgid the catalogues translate into something else."""
    phrases: set[str] = set()
    for path in sorted(LOCALE.glob("*.po")):
        for msgid, msgstr, fuzzy in _po_entries(path):
            if not msgid or not msgstr or fuzzy or msgstr == msgid:
                continue
            for part in PLACEHOLDER.split(msgid):
                part = part.strip(" \n\t.,:;!?()[]…-–—·/|\"'“”")
                if re.search(r"[A-Za-z]{3,}", part) and re.fullmatch(r"[\x20-\x7e\n’…–—]+", part):
                    phrases.add(part)
    return phrases


PHRASES = interface_phrases()
PHRASE_PATTERNS = [(p, re.compile(r"(?<![A-Za-z])" + re.escape(p) + r"(?![A-Za-z])")) for p in sorted(PHRASES)]


def leaks(text: str, agency_codes: set[str]) -> list[str]:
    """Each leak with a few characters around it, so that a failure says where it is."""
    cleaned = STANDARD_NAMES.sub(" ", PHRASE_TOKEN.sub(" ", URL.sub(" ", EMAIL.sub(" ", text))))
    words = set(re.findall(r"[A-Za-z]{3,}", cleaned))

    def where(match: re.Match[str]) -> str:
        return " ".join(cleaned[max(0, match.start() - 15) : match.end() + 15].split())

    found = []
    for phrase, pattern in PHRASE_PATTERNS:
        first = re.search(r"[A-Za-z]{3,}", phrase)
        match = pattern.search(cleaned) if first and first.group(0) in words else None
        if match:
            found.append(f"English {phrase!r} in {where(match)!r}")
    for name, pattern in CODE_PATTERNS.items():
        found.extend(f"{name} {m.group(0)!r} in {where(m)!r}" for m in pattern.finditer(cleaned))
    for code in agency_codes:
        match = re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", cleaned)
        if match:
            found.append(f"agency code {code!r} in {where(match)!r}")
    return found


VISIBLE_TEXT_JS = """() => {
  const parts = [document.title, document.body ? document.body.innerText : ""];
  for (const node of document.querySelectorAll("[placeholder], [title], [aria-label]")) {
    if (node.checkVisibility && !node.checkVisibility()) continue;
    for (const name of ["placeholder", "title", "aria-label"]) {
      const value = node.getAttribute(name);
      if (value) parts.push(value);
    }
  }
  return parts.join("\\n");
}"""

# --- the demo city's facts -----------------------------------------------------------------------------

FACTS_SCRIPT = textwrap.dedent(
    """
    import json
    from callcenter.models import Ticket
    from dispatch.models import WorkOrder
    from organisation.models import Agency, User
    centre = {}
    for number, state in Ticket.objects.order_by("id").values_list("number", "state"):
        centre.setdefault(state, number)
    handler = User.objects.get(username="handler")
    agency = {}
    for wo in WorkOrder.objects.filter(agency_id=handler.agency_id).select_related("ticket").order_by("id"):
        agency.setdefault(wo.state, wo.ticket.number)
    codes = sorted(Agency.objects.values_list("code", flat=True))
    print(json.dumps({"centre": centre, "agency": agency, "agency_codes": codes}))
    """
)


@pytest.fixture(scope="module")
def facts(demo_server: DemoServer) -> dict[str, Any]:
    ensure_devices(demo_server, sorted(DEMO_USERS.values()))  # one call for every user, before the walks
    output = demo_server.manage("shell", "-c", FACTS_SCRIPT)
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


# --- the role -> screens list --------------------------------------------------------------------------


def role_user(role: str) -> User:
    """An unsaved user with one role (of an agency for agency roles), for asking the policy."""
    return User(username=DEMO_USERS[role], roles=[role], agency_id=1 if role in AGENCY_ROLES else None)


def screens_of(role: str) -> list[str]:
    user = role_user(role)
    screens = [screen for screen in policy.SCREENS if policy.may_open(user, screen)]
    if policy.may_read_audit(user):
        screens.append("audit")
    if policy.may_read_archive(user):
        screens.append("archive")  # the records office's page
    return screens


def test_every_screen_of_the_policy_has_a_place_here() -> None:
    assert set(SCREEN_PATHS) == set(policy.SCREENS)
    assert set(DEMO_USERS) == set(Role.values)


# --- the walk ------------------------------------------------------------------------------------------


def _settle(page: Page, sockets: list[WebSocket]) -> None:
    """Wait until the screen has drawn what it loads: a screen that opened the event socket says it is live,
    then no request is outstanding."""
    if sockets and page.locator("#live-state").count():
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    page.wait_for_load_state("networkidle", timeout=LIVE)


def _paths(role: str, facts: dict[str, Any]) -> list[str]:
    tickets = facts["agency"] if role in AGENCY_ROLES else facts["centre"]
    paths = ["/"]
    for screen in screens_of(role):
        if screen == "audit":
            paths.append("/audit/")
        elif screen == "archive":
            paths.append("/archive/")
        elif screen == "ticket":
            # Every state the role meets, for the ones who act on tickets most; one ticket for the others.
            numbers = sorted(set(tickets.values()))
            if role not in (Role.DISPATCHER, Role.AGENCY_HANDLER):
                numbers = numbers[:1]
            paths.extend(SCREEN_PATHS["ticket"].format(ticket=n) for n in numbers)
            paths.append("/tickets/")
        else:
            paths.append(SCREEN_PATHS[screen])
    forbidden = [s for s in policy.SCREENS if s != "ticket" and s not in screens_of(role)]
    if forbidden:
        paths.append(SCREEN_PATHS[forbidden[0]])  # the 403 page
    paths.append(NOT_A_PAGE)  # the 404 page
    if role == Role.ADMIN:
        paths.append("/admin/")
    return paths


@pytest.mark.parametrize("role", sorted(DEMO_USERS))
def test_no_english_and_no_codes_on_any_screen_in_chinese(
    demo_server: DemoServer, browser: Browser, facts: dict[str, Any], role: str
) -> None:
    checked: list[tuple[str, str, str]] = []
    username = DEMO_USERS[role]
    context, page = log_in(
        browser,
        demo_server,
        username,
        lambda path, shown: checked.append((username, path, shown.evaluate(VISIBLE_TEXT_JS))),
    )
    errors: list[str] = []
    sockets: list[WebSocket] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("websocket", lambda socket: sockets.append(socket))
    pending: set[str] = set()  # requests in flight, named when a screen does not settle
    page.on("request", lambda request: pending.add(request.url))
    page.on("requestfinished", lambda request: pending.discard(request.url))
    page.on("requestfailed", lambda request: pending.discard(request.url))
    try:
        home_links = {
            urlparse(href).path
            for href in page.locator("main a[href]").evaluate_all("nodes => nodes.map(n => n.href)")
            if urlparse(href).netloc == urlparse(demo_server.url).netloc
        }
        paths = _paths(role, facts)
        # Every screen the home page offers is one of the policy's (the API and its documentation are not screens).
        assert {p for p in home_links if not p.startswith("/api/")} <= set(paths), home_links
        for path in paths:
            sockets.clear()
            try:
                page.goto(f"{demo_server.url}{path}", wait_until="domcontentloaded")
                _settle(page, sockets)
            except PlaywrightError as error:
                raise AssertionError(f"{path} did not settle; requests in flight: {sorted(pending)}") from error
            checked.append((username, path, page.evaluate(VISIBLE_TEXT_JS)))
        screenshot(page, f"i18n-{username}")
    finally:
        context.close()
    found = [f"{who} {path}: {leak}" for who, path, text in checked for leak in leaks(text, set(facts["agency_codes"]))]
    assert found == [], "\n".join(sorted(set(found)))
    assert errors == []
