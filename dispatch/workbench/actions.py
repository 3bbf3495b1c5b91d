"""The workbench's one write: urging many work orders at once (批量催办).

Each work order is urged by the existing outermost action ``dispatch.actions.do_urge_work_order`` in its own
durable transaction, so one refusal (the workflow table: wrong state, a role that may not urge) leaves the
others done, and each result is reported by id. Work orders the actor may not see are reported as not found
without being touched. Do not call this inside a transaction.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from core.errors import DomainError, InvalidInput
from core.parsing import MAX_TEXT
from dispatch.access import visible_work_orders
from dispatch.actions import do_urge_work_order
from organisation.models import User

MAX_BULK = 200


def check_bulk_urge(*, work_order_ids: Any, note: Any) -> list[int]:
    """The distinct work-order ids in the order given; InvalidInput naming every bad field at once."""
    errors: dict[str, list[str]] = {}
    ids: list[int] = []
    if not isinstance(work_order_ids, list) or not work_order_ids:
        errors["work_order_ids"] = [_("Give a list of work order ids.")]
    elif len(work_order_ids) > MAX_BULK:
        errors["work_order_ids"] = [_("At most %(n)d work orders at once.") % {"n": MAX_BULK}]
    elif not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in work_order_ids):
        errors["work_order_ids"] = [_("Every id must be a positive whole number.")]
    else:
        ids = list(dict.fromkeys(work_order_ids))
    if not isinstance(note, str):
        errors["note"] = [_("This field must be text.")]
    elif not note.strip():
        errors["note"] = [_("This field is required.")]
    elif "\x00" in note:
        errors["note"] = [_("Null characters are not allowed.")]
    elif len(note) > MAX_TEXT:
        errors["note"] = [_("At most %(n)d characters.") % {"n": MAX_TEXT}]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    return ids


def do_bulk_urge_work_orders(work_order_ids: Any, *, actor: User, note: Any) -> list[dict[str, Any]]:
    """Urge each work order; one result per distinct id: ``ok`` with the new urge count, or the refusal's
    ``code`` and ``message`` (``not_found`` for a work order outside the actor's scope)."""
    ids = check_bulk_urge(work_order_ids=work_order_ids, note=note)
    numbers = dict(visible_work_orders(actor).filter(pk__in=ids).values_list("pk", "number"))
    results: list[dict[str, Any]] = []
    for work_order_id in ids:
        if work_order_id not in numbers:
            results.append({"id": work_order_id, "ok": False, "code": "not_found", "message": _("Not found.")})
            continue
        result: dict[str, Any] = {"id": work_order_id, "number": numbers[work_order_id]}
        try:
            work_order = do_urge_work_order(work_order_id, actor=actor, note=note)
        except DomainError as exc:
            result.update(ok=False, code=exc.code, message=exc.message)
        else:
            result.update(ok=True, state=work_order.state, urge_count=work_order.urge_count)
        results.append(result)
    return results
