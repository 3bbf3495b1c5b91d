"""The archive's row of the one workflow table: a closed ticket is archived (归档) when the records office's
archive confirmed the package; the state stays closed. A system row: the outbox worker records it, nobody
calls it (who may queue archives is organisation.policy.may_run_archive)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from callcenter.models import TicketState
from dispatch import workflow
from dispatch.workflow import SYSTEM, Machine, Transition

ARCHIVE = "archive"

ROWS = (
    Transition(
        Machine.TICKET, frozenset({TicketState.CLOSED}), ARCHIVE, None, SYSTEM, _("Transfer to the archive (归档)")
    ),
)


def register() -> None:
    workflow.register(ROWS, states={})
