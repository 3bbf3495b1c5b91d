"""Work-order actions sent over the live socket (registered as the "act" command with realtime/commands.py):
the same input checks and the same actions as the API.

A command is {"type": "act", "request_id": "...", "work_order": 17, "action": "sign", "fields": {...}}
and is answered by {"kind": "ack", "request_id": "...", "ok": true, "state": "handling"} or
{"kind": "ack", "request_id": "...", "ok": false, "code": "...", "message": "...", "fields": {...}}.
The change itself reaches every screen, this one included, as an ordinary event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext as _
from rest_framework import serializers

from core.errors import DomainError
from core.parsing import NoteInput, RequiredNoteInput
from dispatch import actions
from dispatch.access import may_see_work_order
from dispatch.api.work_orders import AnswerInput, ExtensionInput, ReplyInput, ReturnInput
from dispatch.models import WorkOrder
from organisation.models import User

# action -> (input serializer, the action function taking the validated fields and visible_to)
COMMANDS: dict[str, tuple[type[serializers.Serializer], Callable[..., Any]]] = {
    "sign": (NoteInput, actions.do_sign_work_order),
    "note": (RequiredNoteInput, actions.do_note_work_order),
    "return": (ReturnInput, actions.do_return_work_order),
    "reply": (ReplyInput, actions.do_reply_work_order),
    "request_extension": (ExtensionInput, actions.do_request_extension),
    "answer_supervision": (AnswerInput, actions.do_answer_supervision),
}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def run_command(user: User, message: dict[str, Any]) -> dict[str, Any]:
    """Runs in a worker thread (database_sync_to_async): validates, authorises, acts, answers."""
    request_id = str(message.get("request_id", ""))[:64]
    answer: dict[str, Any] = {"kind": "ack", "request_id": request_id}
    action = message.get("action")
    if action not in COMMANDS:
        return {
            **answer,
            "ok": False,
            "code": "unknown_action",
            "message": _("Unknown action."),
            "fields": {"action": sorted(COMMANDS)},
        }
    work_order_id = message.get("work_order")
    if not isinstance(work_order_id, int) or isinstance(work_order_id, bool):
        return {
            **answer,
            "ok": False,
            "code": "invalid_input",
            "message": _("Some fields are not valid."),
            "fields": {"work_order": [_("A work order id.")]},
        }
    not_found = {**answer, "ok": False, "code": "not_found", "message": _("Not found."), "fields": {}}
    input_class, act = COMMANDS[action]
    fields = message.get("fields") if isinstance(message.get("fields"), dict) else {}
    data = input_class(data=fields)
    # A work order the user may not see is "not found", whatever else is wrong with the command. On the
    # way that succeeds, the action checks that in the statement that locks the ticket (visible_to); the
    # ways that fail ask separately before answering.
    if not data.is_valid():
        if not may_see_work_order(user, work_order_id):
            return not_found
        return {
            **answer,
            "ok": False,
            "code": "invalid_input",
            "message": _("Some fields are not valid."),
            "fields": _flatten(data.errors),
        }
    try:
        result = act(work_order_id, actor=user, visible_to=user, **data.validated_data)
    except DomainError as error:
        if not may_see_work_order(user, work_order_id):
            return not_found
        return {**answer, "ok": False, "code": error.code, "message": error.message, "fields": error.fields}
    except ObjectDoesNotExist:
        return not_found
    # Most actions return the work order they moved; the others are answered from a fresh read.
    state: str | None
    if isinstance(result, WorkOrder):
        state = result.state
    else:
        state = WorkOrder.objects.filter(pk=work_order_id).values_list("state", flat=True).first()
    return {**answer, "ok": True, "work_order": work_order_id, "state": state}
