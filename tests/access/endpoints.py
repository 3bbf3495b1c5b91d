"""The access matrix: every endpoint with the roles allowed on it, and the cells (endpoint, role, ownership).

The allowed roles below are written out by hand from the workflow table in dispatch/workflow.py and
the access rules in dispatch/access.py, so that a change in either shows up as a failing cell.

Ownership only matters for agency users: ``own`` is an object dispatched to the user's agency,
``other`` one dispatched to the other agency (agency_a <-> agency_b). Centre roles, ``nobody`` and
anonymous clients always get the object of agency_a. Accepted tickets have no work order yet, so
no agency owns them (``unassigned``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from tests.access.scene import AGENCY_USERS, CENTRE, PHONE_NATIONAL, ROLES, Scene, future
from tests.conftest import ticket_payload

EVERYONE = frozenset(ROLES) - {"anonymous"}
OTHER_LANE = {"a": "b", "b": "a"}

INTAKE = frozenset({"operator", "dispatcher", "admin"})
CENTRE_CONTROL = frozenset({"dispatcher", "admin"})
EXTENSION_DECIDERS = frozenset({"dispatcher", "supervisor", "admin"})
SUPERVISORS = frozenset({"supervisor", "admin"})
INCIDENT_REPORTERS = frozenset({"operator", "dispatcher", "commander", "admin"})
HISTORY_READERS = frozenset({"operator", "dispatcher", "commander", "supervisor", "admin"})
PHRASE_EDITORS = frozenset({"dispatcher", "supervisor", "admin"})
NONE: frozenset[str] = frozenset()


def _article_body(code: str, title: str) -> dict[str, Any]:
    return {
        "code": code,
        "title": title,
        "body": "城区生活垃圾每日清运两次。",
        "subjects": ["t-garbage"],
        "keywords": "垃圾 清运",
    }


@dataclasses.dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # placeholders: {ticket} {wo} {article}
    allowed: frozenset[str]  # roles (not agency users) that succeed
    state: str | None = None  # scenario state of both lanes' objects; None: no tickets needed
    scope: str = "global"  # "object": owned by one agency; "unassigned": no agency yet; "list"; "global"
    agency_own: bool = False  # agency users succeed on their own agency's object
    ok: int = 200
    body: Callable[[Scene], dict[str, Any]] | None = None
    public: bool = False  # anonymous clients succeed too
    master: bool = False
    article: bool = False


def _obj(
    name: str,
    method: str,
    path: str,
    state: str,
    allowed: frozenset[str],
    *,
    agency_own: bool = False,
    body: Callable[[Scene], dict[str, Any]] | None = None,
) -> Endpoint:
    return Endpoint(name, method, path, allowed, state, "object", agency_own, body=body)


READERS = frozenset(CENTRE)
ENDPOINTS: tuple[Endpoint, ...] = (
    # --- tickets: reads
    Endpoint("tickets.list", "get", "/api/tickets/", EVERYONE, "pending_sign", "list"),
    _obj("tickets.detail", "get", "/api/tickets/{ticket}/", "pending_sign", READERS, agency_own=True),
    _obj("tickets.timeline", "get", "/api/tickets/{ticket}/timeline/", "handling", READERS, agency_own=True),
    # --- tickets: create and the actions on accepted tickets, which no agency can see yet
    Endpoint(
        "tickets.create",
        "post",
        "/api/tickets/",
        INTAKE,
        "pending_sign",
        "global",
        ok=201,
        body=lambda s: ticket_payload(),
    ),
    Endpoint(
        "tickets.resolve_directly",
        "post",
        "/api/tickets/{ticket}/resolve_directly/",
        INTAKE,
        "accepted",
        "unassigned",
        body=lambda s: {"answer": "已告知市民清运时间"},
    ),
    Endpoint(
        "tickets.dispatch",
        "post",
        "/api/tickets/{ticket}/dispatch/",
        INTAKE,
        "accepted",
        "unassigned",
        body=lambda s: {"lead_agency_id": s.world.agency_c.pk, "instructions": "请处理"},
    ),
    Endpoint(
        "tickets.merge",
        "post",
        "/api/tickets/{ticket}/merge/",
        INTAKE,
        "accepted",
        "unassigned",
        body=lambda s: {"master_id": s.master.pk if s.master else 0, "note": "同一问题"},
        master=True,
    ),
    Endpoint(
        "tickets.cancel@accepted",
        "post",
        "/api/tickets/{ticket}/cancel/",
        INTAKE,
        "accepted",
        "unassigned",
        body=lambda s: {"reason": "市民撤回诉求"},
    ),
    Endpoint(
        "tickets.correct@accepted",
        "post",
        "/api/tickets/{ticket}/correct/",
        INTAKE,
        "accepted",
        "unassigned",
        body=lambda s: {"subject": "t-vendors", "reason": "诉求内容为占道经营"},
    ),
    # --- tickets: escalation into an incident and transfer to an emergency line (emergency/)
    Endpoint(
        "tickets.escalate",
        "post",
        "/api/tickets/{ticket}/escalate/",
        INCIDENT_REPORTERS,
        "accepted",
        "unassigned",
        body=lambda s: {"type": "fire", "level": "IV"},
    ),
    Endpoint(
        "tickets.transfer",
        "post",
        "/api/tickets/{ticket}/transfer/",
        INCIDENT_REPORTERS,
        "accepted",
        "unassigned",
        body=lambda s: {"line": "119", "override_reason": "现场已起火"},
    ),
    # --- tickets: actions on tickets in agencies' hands
    _obj(
        "tickets.cancel@dispatched",
        "post",
        "/api/tickets/{ticket}/cancel/",
        "pending_sign",
        CENTRE_CONTROL,
        body=lambda s: {"reason": "市民撤回诉求"},
    ),
    _obj(
        "tickets.correct",
        "post",
        "/api/tickets/{ticket}/correct/",
        "pending_sign",
        CENTRE_CONTROL,
        body=lambda s: {"urgency": "urgent", "reason": "核实后为紧急诉求"},
    ),
    _obj(
        "tickets.redispatch",
        "post",
        "/api/tickets/{ticket}/redispatch/",
        "returned",
        INTAKE,
        body=lambda s: {"lead_agency_id": s.world.agency_c.pk},
    ),
    _obj(
        "tickets.revisit",
        "post",
        "/api/tickets/{ticket}/revisit/",
        "pending_revisit",
        INTAKE,
        body=lambda s: {"satisfaction": "satisfied", "resolved": True},
    ),
    _obj(
        "tickets.redo",
        "post",
        "/api/tickets/{ticket}/redo/",
        "revisited_unsatisfied",
        INTAKE,
        body=lambda s: {"note": "市民不满意，请重新处理"},
    ),
    _obj(
        "tickets.close",
        "post",
        "/api/tickets/{ticket}/close/",
        "pending_revisit",
        INTAKE,
        body=lambda s: {"note": "三次回访均无人接听"},
    ),
    _obj(
        "tickets.reveal",
        "post",
        "/api/tickets/{ticket}/reveal/",
        "pending_sign",
        frozenset({"operator", "dispatcher", "admin", "supervisor"}),
        agency_own=True,
        body=lambda s: {"reason": "需与市民核实具体位置"},
    ),
    # --- work orders: reads
    Endpoint("work-orders.list", "get", "/api/work-orders/", EVERYONE, "pending_sign", "list"),
    _obj("work-orders.detail", "get", "/api/work-orders/{wo}/", "handling", READERS, agency_own=True),
    _obj("work-orders.timeline", "get", "/api/work-orders/{wo}/timeline/", "handling", READERS, agency_own=True),
    # --- work orders: actions
    _obj("work-orders.sign", "post", "/api/work-orders/{wo}/sign/", "pending_sign", NONE, agency_own=True),
    _obj(
        "work-orders.return",
        "post",
        "/api/work-orders/{wo}/return/",
        "pending_sign",
        NONE,
        agency_own=True,
        body=lambda s: {"reason": "不属于本单位职责", "legal_basis": "《柳州市城市市容和环境卫生管理条例》"},
    ),
    _obj(
        "work-orders.approve_return",
        "post",
        "/api/work-orders/{wo}/approve_return/",
        "return_requested",
        CENTRE_CONTROL,
        body=lambda s: {"reason": "同意退回"},
    ),
    _obj(
        "work-orders.reject_return",
        "post",
        "/api/work-orders/{wo}/reject_return/",
        "return_requested",
        CENTRE_CONTROL,
        body=lambda s: {"reason": "属于本单位职责，请继续办理"},
    ),
    _obj(
        "work-orders.note",
        "post",
        "/api/work-orders/{wo}/note/",
        "handling",
        NONE,
        agency_own=True,
        body=lambda s: {"note": "已安排人员现场查看"},
    ),
    _obj(
        "work-orders.reply",
        "post",
        "/api/work-orders/{wo}/reply/",
        "handling",
        NONE,
        agency_own=True,
        body=lambda s: {"reply": "已清运完毕", "outcome": "resolved"},
    ),
    _obj("work-orders.approve", "post", "/api/work-orders/{wo}/approve/", "replied", CENTRE_CONTROL),
    _obj(
        "work-orders.send_back",
        "post",
        "/api/work-orders/{wo}/send_back/",
        "replied",
        CENTRE_CONTROL,
        body=lambda s: {"note": "请补充现场照片"},
    ),
    _obj(
        "work-orders.request_extension",
        "post",
        "/api/work-orders/{wo}/request_extension/",
        "handling",
        NONE,
        agency_own=True,
        body=lambda s: {"reason": "需协调清运车辆", "requested_due_at": future(200)},
    ),
    _obj(
        "work-orders.approve_extension",
        "post",
        "/api/work-orders/{wo}/approve_extension/",
        "extension_pending",
        EXTENSION_DECIDERS,
        body=lambda s: {"note": "同意"},
    ),
    _obj(
        "work-orders.reject_extension",
        "post",
        "/api/work-orders/{wo}/reject_extension/",
        "extension_pending",
        EXTENSION_DECIDERS,
        body=lambda s: {"note": "理由不充分"},
    ),
    _obj(
        "work-orders.urge",
        "post",
        "/api/work-orders/{wo}/urge/",
        "pending_sign",
        EXTENSION_DECIDERS,
        body=lambda s: {"note": "请尽快签收"},
    ),
    _obj(
        "work-orders.supervise",
        "post",
        "/api/work-orders/{wo}/supervise/",
        "handling",
        SUPERVISORS,
        body=lambda s: {"instruction": "请说明未办结原因"},
    ),
    _obj(
        "work-orders.answer_supervision",
        "post",
        "/api/work-orders/{wo}/answer_supervision/",
        "supervised",
        NONE,
        agency_own=True,
        body=lambda s: {"answer": "已加派人手"},
    ),
    _obj(
        "work-orders.cancel",
        "post",
        "/api/work-orders/{wo}/cancel/",
        "handling",
        CENTRE_CONTROL,
        body=lambda s: {"reason": "派错单位"},
    ),
    # --- everything else
    Endpoint(
        "callers.history",
        "post",
        "/api/callers/history/",
        HISTORY_READERS,
        "pending_sign",
        body=lambda s: {"phone": PHONE_NATIONAL},
    ),
    Endpoint("knowledge.list", "get", "/api/knowledge/", EVERYONE, article=True),
    Endpoint("knowledge.search", "get", "/api/knowledge/?q=垃圾清运时间", EVERYONE, article=True),
    Endpoint("knowledge.detail", "get", "/api/knowledge/{article}/", EVERYONE, article=True),
    Endpoint(
        "knowledge.create",
        "post",
        "/api/knowledge/",
        CENTRE_CONTROL,
        ok=201,
        article=True,
        body=lambda s: _article_body("kb-new", "大件垃圾预约回收"),
    ),
    Endpoint(
        "knowledge.update",
        "put",
        "/api/knowledge/{article}/",
        CENTRE_CONTROL,
        article=True,
        body=lambda s: _article_body("kb-garbage-times", "垃圾清运时间调整通知"),
    ),
    # Canned phrases: read by every role of the screens (agencies: replies only), kept by the centre's editors.
    Endpoint("phrases.list", "get", "/api/phrases/?kind=reply", EVERYONE - {"nobody"}),
    Endpoint(
        "phrases.create",
        "post",
        "/api/phrases/",
        PHRASE_EDITORS,
        ok=201,
        body=lambda s: {
            "kind": "reply",
            "subject": "t-garbage",
            "title": "已安排清运",
            "body": "已清运{address}垃圾。",
        },
    ),
    Endpoint("agencies.list", "get", "/api/agencies/", EVERYONE),
    Endpoint("subjects.list", "get", "/api/subjects/", EVERYONE),
    Endpoint("appeal-types.list", "get", "/api/appeal-types/", EVERYONE),
    Endpoint("me", "get", "/api/me/", EVERYONE),
    Endpoint("workflow", "get", "/api/workflow/", EVERYONE),
    # drf-spectacular's default SERVE_PERMISSIONS (AllowAny): the schema is public.
    Endpoint("schema", "get", "/api/schema/", EVERYONE, public=True),
)


@dataclasses.dataclass(frozen=True)
class Cell:
    endpoint: Endpoint
    role: str
    whose: str | None  # "own" / "other" for agency users on objects; "unassigned"; None

    @property
    def id(self) -> str:
        return "-".join(part for part in (self.endpoint.name, self.role, self.whose) if part)

    @property
    def lane(self) -> str:
        agency_lane = AGENCY_USERS.get(self.role)
        if agency_lane is None or self.whose not in ("own", "other"):
            return "a"
        return agency_lane if self.whose == "own" else OTHER_LANE[agency_lane]

    @property
    def expected(self) -> int:
        ep = self.endpoint
        if self.role == "anonymous":
            return ep.ok if ep.public else 403
        if ep.scope in ("object", "unassigned"):
            if self.whose in ("other", "unassigned") or self.role == "nobody":
                return 404  # out of scope objects do not exist for the user
            if self.whose == "own":
                return ep.ok if ep.agency_own else 403
        return ep.ok if self.role in ep.allowed else 403


def _cells() -> list[Cell]:
    cells: list[Cell] = []
    for ep in ENDPOINTS:
        for role in ROLES:
            if role in AGENCY_USERS and ep.scope == "object":
                cells.extend(Cell(ep, role, whose) for whose in ("own", "other"))
            elif role in AGENCY_USERS and ep.scope == "unassigned":
                cells.append(Cell(ep, role, "unassigned"))
            else:
                cells.append(Cell(ep, role, None))
    return cells


CELLS = _cells()
