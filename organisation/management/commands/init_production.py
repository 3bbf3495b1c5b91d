"""Set up a database for production: mark it (the demo loader then refuses it) and create the first administrator.

The administrator comes from HOTLINE_ADMIN_USERNAME, HOTLINE_ADMIN_PASSWORD and HOTLINE_ADMIN_EMAIL (optional),
or, without them and on a terminal, from questions asked here. Idempotent: run it after every ``migrate``;
an existing user is never changed, so a password changed later stays changed.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core import installation
from core.errors import DomainError
from organisation.actions import do_create_first_admin
from organisation.models import Role, User


class Command(BaseCommand):
    help = (
        "Mark the database for production (load_demo_city then refuses it) and create the first administrator "
        "from HOTLINE_ADMIN_USERNAME / HOTLINE_ADMIN_PASSWORD / HOTLINE_ADMIN_EMAIL, or interactively."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="never ask; without the HOTLINE_ADMIN_* variables and an administrator, only say how to add one",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if installation.do_mark(installation.PRODUCTION):
                self.stdout.write("Database marked for production: load_demo_city will refuse it.")
            else:
                self.stdout.write("Database already marked for production.")
            self._first_admin(interactive=options["interactive"] and sys.stdin.isatty())
        except DomainError as error:
            details = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in error.fields.items())
            raise CommandError(f"{error.message} {details}".strip()) from None
        if settings.DEBUG:
            self.stderr.write("Warning: DEBUG is on. Production runs with HOTLINE_PRODUCTION=1 (README, settings).")

    def _first_admin(self, *, interactive: bool) -> None:
        username = os.environ.get("HOTLINE_ADMIN_USERNAME", "").strip()
        password = os.environ.get("HOTLINE_ADMIN_PASSWORD", "")
        email = os.environ.get("HOTLINE_ADMIN_EMAIL", "")
        if username:
            if User.objects.filter(username=username).exists():
                self.stdout.write(f"Administrator {username!r} exists; left unchanged.")
                return
            if not password:
                raise CommandError("HOTLINE_ADMIN_USERNAME is set but HOTLINE_ADMIN_PASSWORD is not.")
            do_create_first_admin(username=username, password=password, email=email)
            self.stdout.write(f"Administrator {username!r} created.")
            return
        if _has_administrator():
            self.stdout.write("An administrator exists.")
            return
        if not interactive:
            self.stderr.write(
                "No administrator yet. Set HOTLINE_ADMIN_USERNAME and HOTLINE_ADMIN_PASSWORD (and optionally "
                "HOTLINE_ADMIN_EMAIL) and run init_production again, or run it on a terminal to be asked."
            )
            return
        self._ask_for_admin()

    def _ask_for_admin(self) -> None:
        self.stdout.write("No administrator yet: create the first one.")
        while True:
            username = input("User name: ").strip()
            email = input("E-mail (optional): ").strip()
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                self.stderr.write("The passwords differ; try again.")
                continue
            try:
                user = do_create_first_admin(username=username, password=password, email=email)
            except DomainError as error:
                self.stderr.write(" ".join([error.message, *(m for msgs in error.fields.values() for m in msgs)]))
                continue
            if user is None:
                self.stderr.write(f"A user {username!r} exists already; choose another name.")
                continue
            self.stdout.write(f"Administrator {username!r} created.")
            return


def _has_administrator() -> bool:
    # Roles are a JSON list, which SQLite cannot search inside: the few active users' roles are read.
    active = User.objects.filter(is_active=True)
    return active.filter(is_superuser=True).exists() or any(
        Role.ADMIN in (roles or ()) for roles in active.values_list("roles", flat=True).iterator()
    )
