"""How the database was set up (core.models.Installation): production or the demo, never both.

``init_production`` marks a database for production; the demo loader marks it as a demo. Each refuses a
database marked for the other, so the demo's published logins never reach a production database."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import Conflict
from core.models import Installation

PRODUCTION = Installation.Purpose.PRODUCTION
DEMO = Installation.Purpose.DEMO


class WrongInstallation(Conflict):
    code = "wrong_installation"


def purpose() -> str | None:
    """The purpose the database was set up for ("production" or "demo"), or None if it was not marked yet."""
    return Installation.objects.filter(pk=1).values_list("purpose", flat=True).first()


def check_may_mark(wanted: str) -> None:
    current = purpose()
    if current is None or current == wanted:
        return
    if wanted == DEMO:
        raise WrongInstallation(
            _(
                "This database was set up for production: the demo city is never loaded into it "
                "(it would add users with a published password). Use a separate database for the demo."
            )
        )
    raise WrongInstallation(
        _(
            "This database holds the demo city (users with a published password): it cannot be set up for "
            "production. Start production with a new, empty database."
        )
    )


def do_mark(wanted: str) -> bool:
    """Marks the database for ``wanted`` (idempotent); returns whether it was newly marked."""
    with transaction.atomic():
        check_may_mark(wanted)
        row, created = Installation.objects.get_or_create(pk=1, defaults={"purpose": wanted})
    if row.purpose != wanted:  # marked for the other purpose in the meantime
        check_may_mark(wanted)
    return created
