"""Who may call which endpoint on whose object: one test case per (endpoint, role, ownership) cell.

The allowed roles below are written out by hand from the workflow table in dispatch/workflow.py and
the access rules in dispatch/access.py, so that a change in either shows up here as a failing cell.

Ownership only matters for agency users: ``own`` is an object dispatched to the user's agency,
``other`` one dispatched to the other agency (agency_a <-> agency_b). Centre roles, ``nobody`` and
anonymous clients always get the object of agency_a. Accepted tickets have no work order yet, so
no agency owns them (``unassigned``).

Every cell asserts the exact status, the error body's shape and code, that a refused request
changed nothing and an accepted one changed something, and, for agency users, that no other
agency's ticket or work-order number, no full phone number and no confidential name is in the body.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter import actions as intake
from callcenter.models import KnowledgeArticle, Ticket
from dispatch import actions as dispatching
from dispatch.actions import tickets as ticket_actions
from dispatch.models import ExtensionRequest, SupervisionCase, TimelineEntry, WorkOrder
from organisation.models import AuditEntry
from realtime.models import Event
from tests.conftest import World, ticket_payload

PHONE_E164 = "+8613812341234"
PHONE_NATIONAL = "13812341234"
PHONE_MASKED = "138****1234"
SECRET_NAME = "王保密"  # agency_a's caller asked for confidentiality
OPEN_NAME = "李公开"  # agency_b's caller did not

CENTRE = ("operator", "dispatcher", "commander", "supervisor", "auditor", "admin")
AGENCY_USERS = {"handler_a": "a", "agencyadmin_a": "a", "handler_b": "b"}
ROLES = (*CENTRE, *AGENCY_USERS, "nobody", "anonymous")
EVERYONE = frozenset(ROLES) - {"anonymous"}
OTHER_LANE = {"a": "b", "b": "a"}

INTAKE = frozenset({"operator", "dispatcher", "admin"})
CENTRE_CONTROL = frozenset({"dispatcher", "admin"})
EXTENSION_DECIDERS = frozenset({"dispatcher", "supervisor", "admin"})
SUPERVISORS = frozenset({"supervisor", "admin"})
INCIDENT_REPORTERS = frozenset({"operator", "dispatcher", "commander", "admin"})
HISTORY_READERS = frozenset({"operator", "dispatcher", "commander", "supervisor", "admin"})
NONE: frozenset[str] = frozenset()


# --- building the objects ---------------------------------------------------------------------------


@dataclasses.dataclass
class Scene:
    world: World
    tickets: dict[str, Ticket]  # lane ("a" / "b") -> ticket
    work_orders: dict[str, WorkOrder]  # lane -> its work order (absent while a ticket is only accepted)
    master: Ticket | None = None
    article: KnowledgeArticle | None = None


def _handler(world: World, lane: str) -> Any:
    return world.users["handler_a" if lane == "a" else "handler_b"]


def _new_ticket(world: World, lane: str) -> Ticket:
    name, confidential = (SECRET_NAME, True) if lane == "a" else (OPEN_NAME, False)
    ticket, created = intake.do_create_ticket(
        ticket_payload(caller_name=name, caller_confidential=confidential, title=f"工单{lane}"),
        actor=world.users["operator"],
    )
    assert created
    return ticket


def _advance(world: World, lane: str, ticket: Ticket, state: str) -> WorkOrder | None:
    """Drive one ticket through the real actions to the wanted scenario state."""
    users = world.users
    if state == "accepted":
        return None
    agency = world.agency_a if lane == "a" else world.agency_b
    dispatching.do_dispatch_ticket(
        ticket.pk, actor=users["dispatcher"], lead_agency_id=agency.pk, instructions="请核实处理"
    )
    wo = WorkOrder.objects.get(ticket=ticket)
    handler = _handler(world, lane)
    if state == "pending_sign":
        pass
    elif state == "supervised":
        dispatching.do_supervise_work_order(wo.pk, actor=users["supervisor"], instruction="请说明进展")
    elif state == "returned":
        dispatching.do_return_work_order(wo.pk, actor=handler, reason="不属于本单位职责", legal_basis="三定方案")
    else:
        dispatching.do_sign_work_order(wo.pk, actor=handler)
        if state == "extension_pending":
            dispatching.do_request_extension(
                wo.pk, actor=handler, reason="需协调", requested_due_at=timezone.now() + dt.timedelta(days=120)
            )
        elif state != "handling":
            dispatching.do_reply_work_order(wo.pk, actor=handler, reply="已处理", outcome="resolved")
            if state != "replied":
                dispatching.do_approve_work_order(wo.pk, actor=users["dispatcher"])
                if state == "revisited_unsatisfied":
                    ticket_actions.do_revisit_ticket(
                        ticket.pk, actor=users["operator"], satisfaction="unsatisfied", resolved=False
                    )
                elif state == "revisited_satisfied":
                    ticket_actions.do_revisit_ticket(
                        ticket.pk, actor=users["operator"], satisfaction="satisfied", resolved=True
                    )
                else:
                    assert state == "pending_revisit", state
    wo.refresh_from_db()
    return wo


def build_scene(
    world: World, state: str | None, *, master: bool = False, article: bool = False, lanes: tuple[str, ...] = ("a", "b")
) -> Scene:
    tickets: dict[str, Ticket] = {}
    work_orders: dict[str, WorkOrder] = {}
    if state is not None:
        for lane in lanes:
            tickets[lane] = _new_ticket(world, lane)
            wo = _advance(world, lane, tickets[lane], state)
            if wo is not None:
                work_orders[lane] = wo
            tickets[lane].refresh_from_db()
    scene = Scene(world, tickets, work_orders)
    if master:
        scene.master = _new_ticket(world, "b")
    if article:
        scene.article = intake.do_save_article(
            {
                "code": "kb-garbage-times",
                "title": "城区生活垃圾清运时间安排",
                "body": "城区生活垃圾每日清运两次，清运时间为早上6点至8点和晚上7点至9点。",
                "subjects": ["t-garbage"],
                "keywords": "垃圾 清运 时间",
            }
        )
    return scene


def snapshot() -> dict[str, Any]:
    """Everything a refused request must leave alone."""
    return {
        "tickets": sorted(Ticket.objects.values_list("id", "state")),
        "work_orders": sorted(WorkOrder.objects.values_list("id", "state", "urge_count")),
        "timeline": TimelineEntry.objects.count(),
        "audit": AuditEntry.objects.count(),
        "extensions": sorted(ExtensionRequest.objects.values_list("id", "state")),
        "supervision": sorted(SupervisionCase.objects.values_list("id", "state")),
        "articles": sorted(KnowledgeArticle.objects.values_list("id", "code", "title")),
        "events": Event.objects.count(),
    }


# --- the endpoints ----------------------------------------------------------------------------------


def _future(days: int) -> str:
    return (timezone.now() + dt.timedelta(days=days)).isoformat()


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
    # --- tickets: escalation into an incident and transfer to an emergency line (dispatch/emergency)
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
        body=lambda s: {"reason": "需协调清运车辆", "requested_due_at": _future(200)},
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


# --- checks -----------------------------------------------------------------------------------------


# One client for the whole matrix: a new client loads the middleware again on its first request, and
# WhiteNoise's finder scan makes that cost more than most cells' own work.
_CLIENT = APIClient()


def _client(world: World, role: str) -> APIClient:
    _CLIENT.force_authenticate(None if role == "anonymous" else world.users[role])
    return _CLIENT


def _url(cell: Cell, scene: Scene) -> str:
    lane = cell.lane
    values = {
        "ticket": scene.tickets[lane].pk if scene.tickets else "",
        "wo": scene.work_orders[lane].pk if lane in scene.work_orders else "",
        "article": scene.article.pk if scene.article else "",
    }
    return cell.endpoint.path.format(**values)


def _foreign_strings(scene: Scene, role: str) -> list[str]:
    """What an agency user must never read: other agencies' numbers, full numbers, confidential names."""
    agency = scene.world.users[role].agency
    own_ticket_ids = set(WorkOrder.objects.filter(agency=agency).values_list("ticket_id", flat=True))
    foreign = [PHONE_E164, PHONE_NATIONAL, SECRET_NAME]
    foreign += [t.number for t in Ticket.objects.exclude(pk__in=own_ticket_ids)]
    foreign += list(WorkOrder.objects.exclude(agency=agency).values_list("number", flat=True))
    return foreign


def _assert_visible_rows(cell: Cell, scene: Scene, body: Any) -> None:
    """The lists show exactly the rows the role may see."""
    role, name = cell.role, cell.endpoint.name
    if name == "tickets.list":
        expected = set(Ticket.objects.values_list("number", flat=True))
        if role == "nobody":
            expected = set()
        elif role in AGENCY_USERS:
            expected = {scene.tickets[AGENCY_USERS[role]].number}
        assert {row["number"] for row in body["results"]} == expected
        phones = {row["caller_phone"] for row in body["results"]}
        if role in CENTRE:
            assert phones == {PHONE_E164}
            assert {row["caller_name"] for row in body["results"]} == {SECRET_NAME, OPEN_NAME}
        elif role in AGENCY_USERS:
            assert phones == {PHONE_MASKED}
            own = body["results"][0]
            assert own["caller_name"] == ("***" if AGENCY_USERS[role] == "a" else OPEN_NAME)
    elif name == "work-orders.list":
        expected = set(WorkOrder.objects.values_list("number", flat=True))
        if role == "nobody":
            expected = set()
        elif role in AGENCY_USERS:
            expected = {scene.work_orders[AGENCY_USERS[role]].number}
        assert {row["number"] for row in body["results"]} == expected
    elif name == "tickets.detail":
        target = scene.tickets[cell.lane]
        assert body["id"] == target.pk
        assert [wo["number"] for wo in body["work_orders"]] == [scene.work_orders[cell.lane].number]
        name_shown = {"a": SECRET_NAME, "b": OPEN_NAME}[cell.lane]
        if role in AGENCY_USERS:
            assert body["caller_phone"] == PHONE_MASKED
            assert [c["phone"] for c in body["callers"]] == [PHONE_MASKED]
            if cell.lane == "a":  # confidential
                name_shown = "***"
        else:
            assert body["caller_phone"] == PHONE_E164
        assert body["caller_name"] == name_shown and body["callers"][0]["name"] == name_shown
    elif name == "callers.history":
        assert body["phone"] == PHONE_E164
        assert {row["number"] for row in body["tickets"]} == {t.number for t in scene.tickets.values()}
    elif name == "me":
        assert body["username"] == role
    elif name == "tickets.reveal":
        assert body["phone"] == PHONE_E164
        assert body["caller_name"] == {"a": SECRET_NAME, "b": OPEN_NAME}[cell.lane]
    elif name == "tickets.create":
        assert body["state"] == "accepted" and body["caller_phone"] == PHONE_E164
    elif name in ("knowledge.create", "knowledge.update"):
        make_body = cell.endpoint.body
        assert make_body is not None
        assert KnowledgeArticle.objects.get(pk=body["id"]).title == make_body(scene)["title"]
    elif name in ("knowledge.list", "knowledge.detail", "knowledge.search"):
        rows = body if name == "knowledge.detail" else body["results"]
        codes = [rows["code"]] if name == "knowledge.detail" else [row["code"] for row in rows]
        assert codes == ["kb-garbage-times"]
    elif name.startswith("work-orders.") and name != "work-orders.timeline":
        assert body["number"] == scene.work_orders[cell.lane].number
    elif name.startswith("tickets.") and name != "tickets.timeline":
        assert body["id"] == scene.tickets[cell.lane].pk
    elif name.endswith(".timeline"):
        assert body and body[0]["action"] in ("accept", "create")


# Lookups that take personal data in the body (kept out of URLs and access logs) but change nothing.
READS_BY_POST = {"callers.history"}


@pytest.mark.parametrize("cell", CELLS, ids=[cell.id for cell in CELLS])
def test_access(world: World, cell: Cell) -> None:
    ep = cell.endpoint
    # Agency users and lists need both agencies' objects; the centre's object cells only agency_a's.
    both = cell.role in AGENCY_USERS or ep.scope == "list" or ep.name == "callers.history"
    scene = build_scene(world, ep.state, master=ep.master, article=ep.article, lanes=("a", "b") if both else ("a",))
    url = _url(cell, scene)
    before = snapshot()
    client = _client(world, cell.role)
    if ep.method == "get":
        response = client.get(url)
    else:
        response = getattr(client, ep.method)(url, ep.body(scene) if ep.body else {}, format="json")
    after = snapshot()

    assert response.status_code == cell.expected, response.content.decode()[:500]
    if ep.name == "schema":
        assert response["Content-Type"].startswith("application/vnd.oai.openapi")
        return
    body = response.json()
    if response.status_code >= 400:
        assert set(body) == {"code", "message", "fields"}
        codes = {403: "permission_denied", 404: "not_found"}
        assert body["code"] == ("not_authenticated" if cell.role == "anonymous" else codes[response.status_code])
        assert after == before, "a refused request changed data"
    elif ep.method == "get" or ep.name in READS_BY_POST:
        assert after == before, "a read changed data"
        _assert_visible_rows(cell, scene, body)
    else:
        assert after != before, "an accepted action changed nothing"
        if ep.name == "tickets.reveal":
            assert after["audit"] == before["audit"] + 1
            assert after["timeline"] == before["timeline"]
        elif ep.name.startswith(("tickets.", "work-orders.")):
            assert after["timeline"] > before["timeline"]
            assert after["audit"] == before["audit"]
        _assert_visible_rows(cell, scene, body)

    if cell.role in AGENCY_USERS and not (ep.name == "tickets.reveal" and response.status_code == 200):
        text = json.dumps(body, ensure_ascii=False)
        leaked = [s for s in _foreign_strings(scene, cell.role) if s in text]
        assert not leaked, f"{cell.role} can read {leaked}"


def test_matrix_covers_every_route() -> None:
    """A new endpoint or workflow action must get a row in the matrix."""
    from django.urls import get_resolver

    from dispatch import workflow

    names = {ep.name.split("@")[0] for ep in ENDPOINTS}
    for machine, prefix in ((workflow.Machine.TICKET, "tickets"), (workflow.Machine.WORK_ORDER, "work-orders")):
        for action in workflow.actions(machine):
            if action != "accept":
                assert f"{prefix}.{action}" in names, action
    routes = {str(p.pattern) for p in get_resolver().url_patterns}
    assert {"api/me/", "api/workflow/", "api/schema/"} <= routes
    assert len(CELLS) >= 300


# --- wrong state: an allowed role on an object whose state does not allow the action --------------


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
        body=lambda s: {"reason": "延期", "requested_due_at": _future(200)},
    ),
    WrongState(
        "work-orders.request_extension@extension_pending",
        "/api/work-orders/{wo}/request_extension/",
        "extension_pending",
        "handler_a",
        code="extension_pending",
        body=lambda s: {"reason": "再延期", "requested_due_at": _future(300)},
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


# --- confidential callers and revealing them ------------------------------------------------------


def test_confidential_caller_name_is_hidden_from_agencies_only(world: World) -> None:
    scene = build_scene(world, "pending_sign")
    ticket_a, ticket_b = scene.tickets["a"], scene.tickets["b"]
    for who in ("handler_a", "agencyadmin_a"):
        row = world.client(who).get(f"/api/tickets/{ticket_a.pk}/").json()
        assert (row["caller_name"], row["callers"][0]["name"], row["caller_confidential"]) == ("***", "***", True)
        assert row["caller_phone"] == PHONE_MASKED
    # A caller who did not ask for confidentiality keeps the name; the number is masked all the same.
    row = world.client("handler_b").get(f"/api/tickets/{ticket_b.pk}/").json()
    assert (row["caller_name"], row["caller_phone"]) == (OPEN_NAME, PHONE_MASKED)
    for who in CENTRE:
        row = world.client(who).get(f"/api/tickets/{ticket_a.pk}/").json()
        assert (row["caller_name"], row["caller_phone"]) == (SECRET_NAME, PHONE_E164)


def test_reveal_returns_the_full_number_and_writes_an_audit_entry(world: World) -> None:
    scene = build_scene(world, "pending_sign")
    ticket = scene.tickets["a"]
    response = world.client("handler_a").post(
        f"/api/tickets/{ticket.pk}/reveal/", {"reason": "需电话联系市民确认位置"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["phone"] == PHONE_E164 and body["caller_name"] == SECRET_NAME
    assert [(c["phone"], c["name"]) for c in body["callers"]] == [(PHONE_E164, SECRET_NAME)]
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.actor_agency, entry.target_type, entry.target_id, entry.action, entry.reason) == (
        world.users["handler_a"],
        world.agency_a,
        "ticket",
        ticket.pk,
        "reveal_caller",
        "需电话联系市民确认位置",
    )
    assert set(entry.fields) == {"phone", "caller_name"}
    # Revealing does not unmask the ordinary reads.
    assert world.client("handler_a").get(f"/api/tickets/{ticket.pk}/").json()["caller_phone"] == PHONE_MASKED


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}], ids=["missing", "empty", "blank", "null"]
)
def test_reveal_needs_a_reason(world: World, body: dict[str, Any]) -> None:
    scene = build_scene(world, "pending_sign")
    response = world.client("handler_a").post(f"/api/tickets/{scene.tickets['a'].pk}/reveal/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_input" and "reason" in response.json()["fields"]
    assert AuditEntry.objects.count() == 0


def test_reveal_of_another_agencys_ticket_is_not_found_and_not_audited(world: World) -> None:
    scene = build_scene(world, "pending_sign")
    response = world.client("handler_b").post(
        f"/api/tickets/{scene.tickets['a'].pk}/reveal/", {"reason": "想看看"}, format="json"
    )
    assert response.status_code == 404
    assert PHONE_NATIONAL not in response.content.decode() and SECRET_NAME not in response.content.decode()
    assert AuditEntry.objects.count() == 0


def test_agency_cannot_find_a_foreign_ticket_by_number(world: World) -> None:
    scene = build_scene(world, "pending_sign")
    foreign = scene.tickets["b"].number
    rows = world.client("handler_a").get(f"/api/tickets/?number={foreign}").json()
    assert rows["count"] == 0 and foreign not in json.dumps(rows)
    rows = world.client("handler_a").get(f"/api/work-orders/?ticket={foreign}").json()
    assert rows["count"] == 0
    assert world.client("dispatcher").get(f"/api/tickets/?number={foreign}").json()["count"] == 1


def test_co_handling_agency_sees_the_shared_ticket_but_only_its_own_work_order(world: World) -> None:
    ticket = _new_ticket(world, "a")
    dispatching.do_dispatch_ticket(
        ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk, co_agency_ids=[world.agency_b.pk]
    )
    lead = WorkOrder.objects.get(ticket=ticket, agency=world.agency_a)
    co = WorkOrder.objects.get(ticket=ticket, agency=world.agency_b)
    client = world.client("handler_b")
    detail = client.get(f"/api/tickets/{ticket.pk}/").json()
    assert [wo["number"] for wo in detail["work_orders"]] == [co.number]
    for url in (
        f"/api/tickets/{ticket.pk}/",
        f"/api/tickets/{ticket.pk}/timeline/",
        "/api/work-orders/",
        f"/api/work-orders/{co.pk}/",
        f"/api/work-orders/{co.pk}/timeline/",
        "/api/tickets/",
    ):
        text = client.get(url).content.decode()
        assert lead.number not in text and PHONE_NATIONAL not in text, url
    assert client.get(f"/api/work-orders/{lead.pk}/").status_code == 404
    assert client.post(f"/api/work-orders/{lead.pk}/sign/", {}, format="json").status_code == 404
    assert WorkOrder.objects.get(pk=lead.pk).state == "pending_sign"


def test_redo_of_a_co_handled_ticket_does_not_show_the_other_agencys_work_order(world: World) -> None:
    """The ticket-level 'redo' row is shown to every agency on the ticket: it must not list work-order
    numbers (it once did, so the lead agency read the co-handler's number and vice versa)."""
    users = world.users
    ticket = _new_ticket(world, "a")
    dispatching.do_dispatch_ticket(
        ticket.pk, actor=users["dispatcher"], lead_agency_id=world.agency_a.pk, co_agency_ids=[world.agency_b.pk]
    )
    lead = WorkOrder.objects.get(ticket=ticket, agency=world.agency_a)
    co = WorkOrder.objects.get(ticket=ticket, agency=world.agency_b)
    for wo, handler in ((lead, "handler_a"), (co, "handler_b")):
        dispatching.do_sign_work_order(wo.pk, actor=users[handler])
        dispatching.do_reply_work_order(wo.pk, actor=users[handler], reply="已处理", outcome="resolved")
        dispatching.do_approve_work_order(wo.pk, actor=users["dispatcher"])
    ticket_actions.do_revisit_ticket(ticket.pk, actor=users["operator"], satisfaction="unsatisfied", resolved=False)
    redo = world.client("dispatcher").post(
        f"/api/tickets/{ticket.pk}/redo/", {"note": "市民不满意", "work_order_ids": [lead.pk, co.pk]}, format="json"
    )
    assert redo.status_code == 200, redo.content
    for who, own, foreign in (("handler_a", lead, co), ("handler_b", co, lead)):
        text = world.client(who).get(f"/api/tickets/{ticket.pk}/timeline/").content.decode()
        assert own.number in text
        assert foreign.number not in text, f"{who} reads {foreign.number}"
