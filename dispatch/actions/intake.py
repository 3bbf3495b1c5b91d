"""What the workflow records about a ticket's intake: registered with callcenter/lifecycle.py at ready(), so
that intake (a layer below) asks the table's "accept" row and writes its timeline row and event without
importing dispatch."""

from __future__ import annotations

import datetime as dt
from typing import Any

from callcenter.models import Ticket
from dispatch import workflow
from dispatch.actions.machinery import emit_ticket_event, write_timeline
from dispatch.workflow import Machine
from organisation.models import User


class WorkflowIntakeRecorder:
    def authorise_accept(self, actor: User) -> None:
        workflow.authorise(Machine.TICKET, workflow.START, "accept", actor=actor, obj=None)

    def record_accept(self, ticket: Ticket, *, actor: User, at: dt.datetime, data: dict[str, Any]) -> None:
        write_timeline(
            ticket=ticket,
            machine=Machine.TICKET,
            action="accept",
            from_state="",
            to_state=ticket.state,
            actor=actor,
            at=at,
            data=data,
        )
        emit_ticket_event(ticket, "ticket.created", placement=data.get("placement"))
