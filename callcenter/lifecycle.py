"""The seam between intake and the shared workflow (docs/ARCHITECTURE.md, "Seams").

callcenter accepts (受理) tickets, but the workflow table that says who may accept, and the timeline and the
event that record it, belong to dispatch, a layer above. dispatch registers its recorder here from its
AppConfig.ready(); intake asks it before it writes and tells it inside the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from callcenter.models import Ticket
from organisation.models import User


class IntakeRecorder(Protocol):
    def authorise_accept(self, actor: User) -> None:
        """Raise NotAllowed unless the actor may accept tickets (the workflow table's "accept" row)."""

    def record_accept(self, ticket: Ticket, *, actor: User, at: dt.datetime, data: dict[str, Any]) -> None:
        """Write the "accept" timeline row and the ticket.created event (inside the intake transaction)."""


_recorder: IntakeRecorder | None = None


def register(recorder: IntakeRecorder) -> None:
    global _recorder
    _recorder = recorder


def recorder() -> IntakeRecorder:
    if _recorder is None:
        raise RuntimeError("No intake recorder is registered: is the dispatch app installed?")
    return _recorder
