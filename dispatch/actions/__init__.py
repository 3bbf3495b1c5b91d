"""All writes of the dispatch side: dispatching tickets and the work-order lifecycle.

Every public ``do_*`` function is an outermost action: it owns a durable transaction, locks the rows
it changes (tickets before work orders), asks the workflow table, writes the change, its timeline row
and its event rows together. ``check_*`` functions validate input and raise InvalidInput naming fields.
The helpers ``transition_ticket``/``transition_work_order`` are the shared machinery that
callcenter/actions.py uses too.
"""

from __future__ import annotations

from dispatch.actions.corrections import Correction, check_correct_ticket, do_correct_ticket
from dispatch.actions.dispatching import (
    check_dispatch_ticket,
    do_dispatch_ticket,
    do_redispatch_ticket,
    do_redo_ticket,
)
from dispatch.actions.machinery import (
    agency_ids_of_ticket,
    create_work_order,
    emit_ticket_event,
    emit_work_order_event,
    start_stage_clock,
    stop_stage_clocks,
    sync_ticket_state,
    ticket_summary,
    transition_ticket,
    transition_work_order,
    work_order_summary,
    write_timeline,
)
from dispatch.actions.tickets import (
    check_revisit_ticket,
    do_cancel_ticket,
    do_close_ticket,
    do_merge_ticket,
    do_resolve_ticket_directly,
    do_revisit_ticket,
)
from dispatch.actions.work_orders import (
    check_reply_work_order,
    check_request_extension,
    check_return_work_order,
    do_answer_supervision,
    do_approve_return,
    do_approve_work_order,
    do_cancel_work_order,
    do_decide_extension,
    do_note_work_order,
    do_reject_return,
    do_reply_work_order,
    do_request_extension,
    do_return_work_order,
    do_send_back_work_order,
    do_sign_work_order,
    do_supervise_work_order,
    do_urge_work_order,
)

__all__ = [
    "Correction",
    "agency_ids_of_ticket",
    "check_correct_ticket",
    "check_dispatch_ticket",
    "check_reply_work_order",
    "check_request_extension",
    "check_return_work_order",
    "check_revisit_ticket",
    "create_work_order",
    "do_answer_supervision",
    "do_approve_return",
    "do_approve_work_order",
    "do_cancel_ticket",
    "do_cancel_work_order",
    "do_close_ticket",
    "do_correct_ticket",
    "do_decide_extension",
    "do_dispatch_ticket",
    "do_merge_ticket",
    "do_note_work_order",
    "do_redispatch_ticket",
    "do_redo_ticket",
    "do_reject_return",
    "do_reply_work_order",
    "do_request_extension",
    "do_resolve_ticket_directly",
    "do_return_work_order",
    "do_revisit_ticket",
    "do_send_back_work_order",
    "do_sign_work_order",
    "do_supervise_work_order",
    "do_urge_work_order",
    "emit_ticket_event",
    "emit_work_order_event",
    "start_stage_clock",
    "stop_stage_clocks",
    "sync_ticket_state",
    "ticket_summary",
    "transition_ticket",
    "transition_work_order",
    "work_order_summary",
    "write_timeline",
]
