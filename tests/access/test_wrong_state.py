"""Wrong state: an allowed role on an object whose state does not allow the action gets 409 and changes nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from tests.access.scene import Scene, build_scene, future, snapshot
from tests.conftest import World


@dataclasses.dataclass(frozen=True)
class WrongState:
    name: str
    path: str
    state: str
    role: str
    code: str = "transition_not_allowed"
    body: Callable[[Scene], dict[str, Any]] | None = None


WRONG_STATE = (
    WrongState(
        "tickets.resolve_directly@dispatched",
        "/api/tickets/{ticket}/resolve_directly/",
        "pending_sign",
        "operator",
        body=lambda s: {"answer": "已答复"},
    ),
    WrongState(
        "tickets.dispatch@dispatched",
        "/api/tickets/{ticket}/dispatch/",
        "pending_sign",
        "dispatcher",
        body=lambda s: {"lead_agency_id": s.world.agency_c.pk},
    ),
    WrongState(
        "tickets.redispatch@dispatched",
        "/api/tickets/{ticket}/redispatch/",
        "pending_sign",
        "dispatcher",
        body=lambda s: {"lead_agency_id": s.world.agency_c.pk},
    ),
    WrongState(
        "tickets.merge@dispatched",
        "/api/tickets/{ticket}/merge/",
        "pending_sign",
        "operator",
        body=lambda s: {"master_id": s.tickets["b"].pk},
    ),
    WrongState(
        "tickets.cancel@pending_revisit",
        "/api/tickets/{ticket}/cancel/",
        "pending_revisit",
        "dispatcher",
        body=lambda s: {"reason": "撤回"},
    ),
    WrongState(
        "tickets.revisit@handling",
        "/api/tickets/{ticket}/revisit/",
        "handling",
        "operator",
        body=lambda s: {"satisfaction": "satisfied", "resolved": True},
    ),
    WrongState(
        "tickets.redo@pending_revisit",
        "/api/tickets/{ticket}/redo/",
        "pending_revisit",
        "dispatcher",
        body=lambda s: {"note": "重办"},
    ),
    WrongState(
        "tickets.redo@revisited_satisfied",
        "/api/tickets/{ticket}/redo/",
        "revisited_satisfied",
        "dispatcher",
        code="revisit_not_unsatisfied",
        body=lambda s: {"note": "重办"},
    ),
    WrongState(
        "tickets.close@handling",
        "/api/tickets/{ticket}/close/",
        "handling",
        "dispatcher",
        body=lambda s: {"note": "办结"},
    ),
    WrongState("work-orders.sign@handling", "/api/work-orders/{wo}/sign/", "handling", "handler_a"),
    WrongState(
        "work-orders.return@replied",
        "/api/work-orders/{wo}/return/",
        "replied",
        "handler_a",
        body=lambda s: {"reason": "不属于本单位", "legal_basis": "三定方案"},
    ),
    WrongState(
        "work-orders.return@extension_pending",
        "/api/work-orders/{wo}/return/",
        "extension_pending",
        "handler_a",
        code="extension_pending",
        body=lambda s: {"reason": "不属于本单位", "legal_basis": "三定方案"},
    ),
    WrongState(
        "work-orders.note@pending_sign",
        "/api/work-orders/{wo}/note/",
        "pending_sign",
        "handler_a",
        body=lambda s: {"note": "进展"},
    ),
    WrongState(
        "work-orders.reply@pending_sign",
        "/api/work-orders/{wo}/reply/",
        "pending_sign",
        "handler_a",
        body=lambda s: {"reply": "已处理", "outcome": "resolved"},
    ),
    WrongState("work-orders.approve@handling", "/api/work-orders/{wo}/approve/", "handling", "dispatcher"),
    WrongState(
        "work-orders.send_back@handling",
        "/api/work-orders/{wo}/send_back/",
        "handling",
        "dispatcher",
        body=lambda s: {"note": "退回"},
    ),
    WrongState(
        "work-orders.request_extension@pending_sign",
        "/api/work-orders/{wo}/request_extension/",
        "pending_sign",
        "handler_a",
        body=lambda s: {"reason": "延期", "requested_due_at": future(200)},
    ),
    WrongState(
        "work-orders.request_extension@extension_pending",
        "/api/work-orders/{wo}/request_extension/",
        "extension_pending",
        "handler_a",
        code="extension_pending",
        body=lambda s: {"reason": "再延期", "requested_due_at": future(300)},
    ),
    WrongState(
        "work-orders.approve_extension@handling",
        "/api/work-orders/{wo}/approve_extension/",
        "handling",
        "dispatcher",
        code="no_pending_extension",
    ),
    WrongState(
        "work-orders.reject_extension@handling",
        "/api/work-orders/{wo}/reject_extension/",
        "handling",
        "supervisor",
        code="no_pending_extension",
        body=lambda s: {"note": "不同意"},
    ),
    WrongState(
        "work-orders.urge@replied",
        "/api/work-orders/{wo}/urge/",
        "replied",
        "supervisor",
        body=lambda s: {"note": "催办"},
    ),
    WrongState(
        "work-orders.supervise@supervised",
        "/api/work-orders/{wo}/supervise/",
        "supervised",
        "supervisor",
        code="supervision_open",
        body=lambda s: {"instruction": "再次督办"},
    ),
    WrongState(
        "work-orders.supervise@returned",
        "/api/work-orders/{wo}/supervise/",
        "returned",
        "admin",
        body=lambda s: {"instruction": "督办"},
    ),
    WrongState(
        "work-orders.answer_supervision@handling",
        "/api/work-orders/{wo}/answer_supervision/",
        "handling",
        "agencyadmin_a",
        code="no_open_supervision",
        body=lambda s: {"answer": "答复"},
    ),
    WrongState(
        "work-orders.reply@return_requested",
        "/api/work-orders/{wo}/reply/",
        "return_requested",
        "handler_a",
        code="return_pending",
        body=lambda s: {"reply": "已处理", "outcome": "resolved"},
    ),
    WrongState(
        "work-orders.return@return_requested",
        "/api/work-orders/{wo}/return/",
        "return_requested",
        "handler_a",
        body=lambda s: {"reason": "不属于本单位", "legal_basis": "三定方案"},
    ),
    WrongState(
        "work-orders.approve_return@handling",
        "/api/work-orders/{wo}/approve_return/",
        "handling",
        "dispatcher",
    ),
    WrongState(
        "work-orders.reject_return@returned",
        "/api/work-orders/{wo}/reject_return/",
        "returned",
        "admin",
        body=lambda s: {"reason": "驳回"},
    ),
    WrongState(
        "work-orders.cancel@returned",
        "/api/work-orders/{wo}/cancel/",
        "returned",
        "dispatcher",
        body=lambda s: {"reason": "撤回"},
    ),
)


@pytest.mark.parametrize("case", WRONG_STATE, ids=[case.name for case in WRONG_STATE])
def test_allowed_role_in_wrong_state_gets_409(world: World, case: WrongState) -> None:
    scene = build_scene(world, case.state)
    url = case.path.format(
        ticket=scene.tickets["a"].pk, wo=scene.work_orders["a"].pk if "a" in scene.work_orders else ""
    )
    before = snapshot()
    response = world.client(case.role).post(url, case.body(scene) if case.body else {}, format="json")
    assert response.status_code == 409, response.content.decode()
    assert response.json()["code"] == case.code
    assert set(response.json()) == {"code", "message", "fields"}
    assert snapshot() == before
