"""Helpers of the lifecycle walks (test_lifecycle_walk.py, test_lifecycle_side.py): one browser context per role
with its working screen and its workbench open side by side, the screens' own forms, and the demo server's
database read through the ORM in the test process (never through the API: the walk makes no API call).

After each step a walk asserts the rows it changed and that every workbench tab of every role in play shows the
number the database holds for that role's queue (``QueueOracle``: each queue counted here from its definition,
not through dispatch/workbench/queues.py, so a wrong count on the screen or in the queue code fails).
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dj_database_url
from django.db import connections
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from callcenter.models import Ticket
from core import clock
from dispatch.models import (
    Escalation,
    ExtensionRequest,
    StageClock,
    SupervisionCase,
    TimelineEntry,
    WorkOrder,
)
from organisation.models import Agency, City, User
from tests.browser.conftest import PASSWORD, DemoServer, logged_in, screenshot

LIVE = 30_000  # milliseconds a screen may take to show what must appear (a failure bound, not a sleep)
ALIAS = "demo_server"  # the demo server's database, opened beside the (unused) test database
M = TypeVar("M", bound=Model)

LEAD = "城中区城市管理局"  # the demo handler's agency, where urban tickets in 城中区 are routed
CO = "柳州市生态环境局城中分局"
CO_CODE = "lz-chengzhong-sthj"
CO_USER = "cohandler"


# --- the demo server's database --------------------------------------------------------------------


class DemoDb:
    """The demo server's rows through the ORM (``.using(ALIAS)``), read-only, in the test process.

    Queries run on one thread of their own: Playwright's sync API keeps an event loop running in the test's
    thread, where Django refuses synchronous database work."""

    def __init__(self, server: DemoServer, blocker: Any) -> None:
        url = server.env.get("DATABASE_URL")
        if url:
            config: dict[str, Any] = dict(dj_database_url.parse(url))
        else:
            config = {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(Path(server.env["HOTLINE_VAR_DIR"]) / "hotline.sqlite3"),
                "OPTIONS": {"timeout": 30},
            }
        connections.settings[ALIAS] = connections.configure_settings({"default": {}, ALIAS: config})[ALIAS]
        self.blocker = blocker
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-db")

    def close(self) -> None:
        self.read(lambda: connections[ALIAS].close())
        self.thread.shutdown()
        del connections.settings[ALIAS]

    def rows(self, model: type[M]) -> QuerySet[M]:
        return model.objects.using(ALIAS).all()  # type: ignore[attr-defined,no-any-return]

    def read(self, question: Callable[[], Any]) -> Any:
        if threading.current_thread().name.startswith("demo-db"):
            return question()  # a question asked inside another one
        with self.blocker.unblock():
            return self.thread.submit(question).result(timeout=120)

    def ticket(self, number: str) -> Ticket:
        return self.read(lambda: self.rows(Ticket).get(number=number))  # type: ignore[no-any-return]

    def states(self, number: str) -> tuple[str, dict[str, str]]:
        """The ticket's state and its work orders' states by agency name."""

        def ask() -> tuple[str, dict[str, str]]:
            ticket = self.rows(Ticket).get(number=number)
            orders = self.rows(WorkOrder).filter(ticket=ticket).select_related("agency").order_by("id")
            return ticket.state, {wo.agency.name: wo.state for wo in orders}

        return self.read(ask)  # type: ignore[no-any-return]

    def eventually(self, question: Callable[[], Any], expected: Any, seconds: float = LIVE / 1000) -> None:
        """Wait for a row the screen writes after its own answer (a photo uploaded after the ticket is saved):
        a condition polled to a deadline, not a sleep standing in for it."""
        deadline = time.monotonic() + seconds
        while True:
            answer = self.read(question)
            if answer == expected or time.monotonic() > deadline:
                assert answer == expected
                return
            time.sleep(0.2)


class QueueOracle:
    """Each workbench queue counted from its definition (issue #17, item 2) for one user."""

    AGENCY_STAGES = ("sign", "handle")

    def __init__(self, db: DemoDb, user: User) -> None:
        self.db, self.user = db, user
        self.centre = user.is_centre_staff
        self.agency_id = user.agency_id or 0
        # Centre staff of one city see its tickets (a row naming no city is the first city's) and those they
        # accepted themselves; staff named to no city see every city's.
        self.city: Q | None = db.read(lambda: self._city_rows(user))

    def _city_rows(self, user: User) -> Q | None:
        agency = self.db.rows(Agency).filter(pk=user.agency_id).first() if user.agency_id else None
        city_id = user.city_id or (agency.city_id if agency is not None else None)
        if not self.centre or city_id is None:
            return None
        first = self.db.rows(City).order_by("pk").values_list("pk", flat=True).first()
        own = Q(city_id=city_id) | Q(city__isnull=True) if city_id == first else Q(city_id=city_id)
        return own | Q(created_by_id=user.pk)

    def _work_orders(self) -> QuerySet[WorkOrder]:
        rows = self.db.rows(WorkOrder)
        if self.centre:
            return rows if self.city is None else rows.filter(ticket__in=self._tickets())
        return rows.filter(agency_id=self.agency_id)

    def _tickets(self) -> QuerySet[Ticket]:
        rows = self.db.rows(Ticket)
        if self.centre:
            return rows if self.city is None else rows.filter(self.city)
        return rows.filter(pk__in=self.db.rows(WorkOrder).filter(agency_id=self.agency_id).values("ticket_id"))

    def _clocks(self) -> QuerySet[StageClock]:
        rows = self.db.rows(StageClock).filter(stopped_at__isnull=True)
        if self.centre:
            return rows if self.city is None else rows.filter(ticket__in=self._tickets())
        return rows.filter(work_order__agency_id=self.agency_id, stage__in=self.AGENCY_STAGES)

    def _sent_back(self) -> int:
        count = 0
        for wo_id in self._work_orders().filter(state="handling").values_list("id", flat=True):
            last = (
                self.db.rows(TimelineEntry)
                .filter(work_order_id=wo_id, to_state="handling", action__in=("sign", "send_back", "redo"))
                .order_by("-id")
                .values_list("action", flat=True)
                .first()
            )
            count += last in ("send_back", "redo")
        return count

    def count(self, name: str) -> int:
        card = self.db.rows(Escalation).filter(clock_id=OuterRef("pk"))
        counts: dict[str, Callable[[], int]] = {
            "to_dispatch": lambda: self._tickets().filter(state="accepted").count(),
            "returned": lambda: self._tickets().filter(state="returned").count(),
            "to_revisit": lambda: self._tickets().filter(state="pending_revisit").count(),
            "to_sign": lambda: self._work_orders().filter(state="pending_sign").count(),
            "handling": lambda: self._work_orders().filter(state="handling").count(),
            "sent_back": self._sent_back,
            "return_requests": lambda: self._work_orders().filter(state="return_requested").count(),
            "to_review": lambda: self._work_orders().filter(state="replied").count(),
            "extensions": lambda: (
                self._work_orders()
                .filter(pk__in=self.db.rows(ExtensionRequest).filter(state="pending").values("work_order_id"))
                .count()
            ),
            "supervision": lambda: (
                self._work_orders()
                .filter(pk__in=self.db.rows(SupervisionCase).filter(state="open").values("work_order_id"))
                .count()
            ),
            "overdue": lambda: self._clocks().filter(due_at__lt=clock.now()).count(),
            "yellow": lambda: (
                self._clocks()
                .filter(Exists(card.filter(level="overdue")))
                .exclude(Exists(card.filter(level="serious")))
                .count()
            ),
            "red": lambda: self._clocks().filter(Exists(card.filter(level="serious"))).count(),
        }
        assert name in counts, f"a queue the walk does not know: {name}"
        return self.db.read(counts[name])  # type: ignore[no-any-return]


# --- roles in their own browser contexts -----------------------------------------------------------


def live_screen(page: Page, path: str) -> None:
    """Wait until a screen follows the event stream (the "open a ticket by number" form has none)."""
    if path != "/tickets/":
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)


@dataclass
class Desk:
    """One role's browser context: its working page (``page``) and its workbench (``work``), both live."""

    username: str
    context: BrowserContext
    page: Page
    work: Page
    user: User
    errors: list[str] = field(default_factory=list)

    def goto(self, server: DemoServer, path: str) -> Page:
        self.page.goto(f"{server.url}{path}")
        live_screen(self.page, path)
        return self.page


class Walk:
    """The roles of one walk, the demo database and the step counter for screenshots."""

    def __init__(self, server: DemoServer, browser: Browser, db: DemoDb, name: str) -> None:
        self.server, self.browser, self.db, self.name = server, browser, db, name
        self.desks: dict[str, Desk] = {}
        self.step = 0

    def desk(self, username: str, start: str) -> Desk:
        """The role's own browser context, logged in through the login page (conftest.logged_in: the one-time
        code too where the role needs one), with its workbench and its working screen open."""
        context, work = logged_in(self.browser, self.server, username)
        errors: list[str] = []
        page = context.new_page()
        for tab, path in ((work, "/work/"), (page, start)):
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.goto(f"{self.server.url}{path}")
            live_screen(tab, path)
        user = self.db.read(lambda: self.db.rows(User).get(username=username))
        desk = Desk(username, context, page, work, user, errors)
        self.desks[username] = desk
        return desk

    def close(self, failed: bool = False) -> None:
        for desk in self.desks.values():
            if failed:  # what each role saw when the walk stopped
                screenshot(desk.page, f"{self.name}-failed-{desk.username}")
            desk.context.close()

    def check(self, number: str, ticket_state: str, work_orders: dict[str, str], shot: Page | None = None) -> None:
        """After a step: the ticket's and its work orders' states in the database, and every role's workbench
        counts equal to the database's."""
        self.step += 1
        assert self.db.states(number) == (ticket_state, work_orders), f"step {self.step}"
        for desk in self.desks.values():
            assert_queue_counts(self.db, desk)
            assert desk.errors == [], (desk.username, desk.errors)
        if shot is not None:
            screenshot(shot, f"{self.name}-{self.step:02d}-{ticket_state}")


def assert_queue_counts(db: DemoDb, desk: Desk) -> None:
    tabs = desk.work.locator("#wb-tabs button[data-queue]")
    expect(tabs.first).to_be_visible(timeout=LIVE)
    names = [name for name in tabs.evaluate_all("(tabs) => tabs.map((t) => t.dataset.queue)")]
    oracle = QueueOracle(db, desk.user)
    for name in names:
        expect(desk.work.locator(f"#wb-tab-{name} .count"), f"{desk.username}: {name}").to_have_text(
            str(oracle.count(name)), timeout=LIVE
        )


def open_demo_db(demo_server: DemoServer, django_db_blocker: Any) -> Iterator[DemoDb]:
    """The body of a walk's ``demo_db`` fixture (pytest-django's blocker lets its reads through)."""
    db = DemoDb(demo_server, django_db_blocker)
    try:
        yield db
    finally:
        db.close()


def co_handler_user(server: DemoServer) -> None:
    """A handler of the co-handling agency who can log in (the demo loader's agency users have no password but
    the demo agency's): set up through the organisation's own action, before the walk starts."""
    server.manage(
        "shell",
        "-c",
        "from organisation.actions import do_upsert_user; "
        f"do_upsert_user(username={CO_USER!r}, password={PASSWORD!r}, roles=['agency_handler'], "
        f"agency_code={CO_CODE!r}, first_name='生态环境分局 承办人')",
    )


def photo(tmp_path: Path, name: str, colour: tuple[int, int, int]) -> Path:
    """A small JPEG, as a phone camera would give one."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    path = tmp_path / name
    path.write_bytes(out.getvalue())
    return path


# --- the screens' forms ------------------------------------------------------------------------------


def intake(
    page: Page, *, title: str, phone: str, subject: str = "garbage-collection", files: Sequence[Path] = ()
) -> str:
    """The operator takes a call on the console: types the ticket, attaches photos, accepts it (no dispatch)."""
    number_box = page.locator("#ticket-number")
    previous = number_box.inner_text().strip() if number_box.count() else ""
    if previous:  # the console still shows the last ticket: a new intake first
        page.click("#intake-reset")
        expect(page.locator("#f-title")).to_have_value("")
    page.fill("#f-phone", phone)
    page.fill("#f-caller-name", "韦先生")
    page.select_option("#f-appeal-type", "complaint")
    page.fill("#f-subject", subject)
    page.fill("#f-title", title)
    page.fill("#f-description", f"{title}，已持续两天，请尽快处理。")
    page.fill("#f-address", "柳州市城中区文惠路20号")
    page.fill("#coords-q", "24.3126, 109.4112")
    page.press("#coords-q", "Enter")
    expect(page.locator("#proposal-lead")).not_to_be_empty(timeout=LIVE)
    if files:
        page.locator('[data-role="photo-input"]').first.set_input_files([str(f) for f in files])
    page.click("#intake-submit")
    expect(number_box).to_have_text(re.compile(r"12345-\d{8}-\d{6}"), timeout=LIVE)
    if previous:
        expect(number_box).not_to_have_text(previous, timeout=LIVE)
    return number_box.inner_text().strip()


def open_ticket(desk: Desk, server: DemoServer, number: str) -> Page:
    """Open the ticket page through its "open a ticket by number" form."""
    page = desk.goto(server, "/tickets/")
    page.fill("#open-number", number)
    page.press("#open-number", "Enter")
    expect(page.locator("#ticket-number")).to_have_text(number, timeout=LIVE)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE)
    return page


def card(page: Page, agency: str) -> Locator:
    return page.locator("article.wo-card", has_text=agency)


def open_form(page: Page, scope: Locator, action: str) -> Locator:
    scope.locator(f"button[data-action={action}]").click()
    form = page.locator(f"form.action-form[data-action={action}]")
    expect(form).to_be_visible()
    return form


def submit(page: Page, form: Locator) -> None:
    form.locator("button[type=submit]").click()
    expect(form).to_have_count(0, timeout=LIVE)


def act(page: Page, scope: Locator, action: str, fields: dict[str, str] | None = None) -> Locator:
    """Open an action's form under its button, fill it (``name: value``; selects by value) and send it."""
    form = open_form(page, scope, action)
    for name, value in (fields or {}).items():
        control = form.locator(f"[name={name}]")
        if control.evaluate("(c) => c.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    submit(page, form)
    return form


def state_of(page: Page, agency: str, state: str) -> None:
    expect(card(page, agency)).to_have_attribute("data-state", state, timeout=LIVE)
