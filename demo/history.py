"""The demo's ticket history: a month of tickets in one city, each walked through the real actions at plausible
past times by that city's own centre staff and agencies. Liuzhou and Guilin each get one (CityHistory says where
and who); load_demo_city runs it once per city whose ticket table is empty, from a fixed seed."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Max

from callcenter import actions as intake
from callcenter.models import KnowledgeArticle, Ticket
from callcenter.phones import InvalidPhone, normalise_phone
from core import clock
from dispatch import actions as dispatching
from dispatch.deadlines.escalations import fire_due_until
from gis.routing import decide, proposal_for
from organisation import actions as organisation_actions
from organisation.models import Agency, AppealType, City, Role, Subject, User, default_city_id, in_city

SURNAMES = ["张", "李", "王", "刘", "陈", "杨", "黄", "赵", "周", "吴", "韦", "覃", "蓝", "莫", "廖"]
DETAILS = {
    "complaint": "该问题已持续一周左右，多次反映未见改善，请相关部门尽快处理并回复。",
    "help": "市民请求协助处理，情况比较急，希望尽快安排人员到场。",
    "consultation": "市民咨询相关政策规定和办理流程。",
    "report": "市民举报存在违规行为，请依法核查处理。",
    "suggestion": "市民建议相关部门加强日常管理和巡查。",
    "praise": "市民对相关部门工作人员的及时处理表示感谢。",
}

#: The subject of the demo's long-deadline policy (立案查处 of unauthorised construction: 30 working days).
LONG_DEADLINE_SUBJECT = "illegal-construction"


@dataclass(frozen=True)
class CityHistory:
    """Where one city's history happens and who makes it."""

    city: str  # City.code
    name: str  # the city's name, the start of every address
    operator: str  # usernames of the city's centre staff who accept, dispatch and approve
    dispatcher: str
    area_code: str  # of its landline numbers
    #: Approximate centres of the urban districts (adcode: latitude, longitude, WGS84): where tickets are.
    districts: dict[str, tuple[float, float]]
    roads: list[str]
    fallback_agency: str  # the lead when routing proposes none
    #: A share of the urban-management work placed where a demo agency's users see it (Liuzhou's handler).
    demo_agency_function: str = ""
    demo_agency_place: tuple[float, float] = (0.0, 0.0)
    demo_agency_share: float = 0.0


# Final states of the history and how many tickets end in each.
TARGETS = [
    ("closed", 52),
    ("closed_direct", 34),
    ("in_progress", 24),
    ("pending_revisit", 15),
    ("dispatched", 14),
    ("replied", 12),
    ("accepted", 10),
    ("returned", 9),
    ("revisited", 8),
    ("merged", 8),
    ("redo_closed", 8),
    ("cancelled", 6),
]
PATHS: dict[str, list[str]] = {
    "accepted": [],
    "closed_direct": ["resolve"],
    "cancelled": ["cancel"],
    "merged": ["merge"],
    "dispatched": ["dispatch"],
    "returned": ["dispatch", "sign", "return", "approve_return"],
    "in_progress": ["dispatch", "sign", "note"],
    "replied": ["dispatch", "sign", "reply"],
    "pending_revisit": ["dispatch", "sign", "reply", "approve"],
    "revisited": ["dispatch", "sign", "reply", "approve", "revisit_unhappy"],
    "closed": ["dispatch", "sign", "note", "reply", "approve", "revisit_happy", "close"],
    "redo_closed": [
        "dispatch",
        "sign",
        "reply",
        "approve",
        "revisit_unhappy",
        "redo",
        "reply",
        "approve",
        "revisit_happy",
        "close",
    ],
}
# How long after the previous step each step happens, in minutes (low, high).
DELAYS = {
    "dispatch": (5, 90),
    "sign": (30, 20 * 60),
    "note": (60, 24 * 60),
    "return": (60, 8 * 60),
    "approve_return": (30, 4 * 60),
    "reply": (12 * 60, 6 * 24 * 60),
    "approve": (30, 8 * 60),
    "revisit_happy": (12 * 60, 48 * 60),
    "revisit_unhappy": (12 * 60, 48 * 60),
    "redo": (30, 4 * 60),
    "close": (5, 120),
    "resolve": (2, 8),
    "cancel": (10, 120),
    "merge": (5, 60),
    "redispatch": (30, 240),
}


@dataclass
class Walk:
    ticket: Ticket
    lead: Agency
    handler: User
    article: KnowledgeArticle | None
    work_order_id: int = 0


class History:
    """A month of one city's tickets, each walked through the real actions at plausible past times."""

    def __init__(self, rng: random.Random, count: int, where: CityHistory, *, demo_users: list[str]):
        self.rng = rng
        self.count = count
        self.where = where
        self.city = City.objects.get(code=where.city)
        self.default_city_id = default_city_id()
        self.now = clock.now()
        self.users = {u.username: u for u in User.objects.filter(username__in=demo_users)}
        self.operator, self.dispatcher = self.users[where.operator], self.users[where.dispatcher]
        self.leaves = list(Subject.objects.filter(is_leaf=True, active=True).order_by("code"))
        # The demo agency's own share of the work, so that its inbox and cards are never empty.
        self.demo_agency_subjects = [
            s
            for s in self.leaves
            if where.demo_agency_function and s.default_agency_function == where.demo_agency_function
        ]
        self.appeal_types = {a.code: a for a in AppealType.objects.all()}
        self.articles = list(
            KnowledgeArticle.objects.filter(active=True, valid_to__isnull=True)
            .prefetch_related("subjects")
            .order_by("code")
        )
        self.phones = self._phone_pool(90)
        self.handlers: dict[int, User] = {}

    def _phone_pool(self, size: int) -> list[str]:
        pool: list[str] = []
        prefixes = ["138", "139", "137", "135", "150", "151", "158", "159", "186", "188", "177", "199"]
        while len(pool) < size:
            raw = self.rng.choice(prefixes) + "".join(self.rng.choice("0123456789") for _ in range(8))
            if self.rng.random() < 0.1:
                raw = (
                    f"{self.where.area_code}-"
                    + self.rng.choice("23")
                    + "".join(self.rng.choice("0123456789") for _ in range(6))
                )
            try:
                pool.append(normalise_phone(raw))
            except InvalidPhone:
                continue
        return pool

    def handler_for(self, agency: Agency) -> User:
        if agency.pk not in self.handlers:
            demo = next((u for u in self.users.values() if u.agency_id == agency.pk and u.is_agency_staff), None)
            self.handlers[agency.pk] = demo or organisation_actions.do_upsert_user(
                username=f"{agency.code}.handler",
                password=None,
                roles=[Role.AGENCY_HANDLER],
                agency_code=agency.code,
                first_name=f"{agency.name} 承办人",
            )
        return self.handlers[agency.pk]

    def generate(self) -> None:
        total = sum(n for _state, n in TARGETS)
        # Every final state appears at least once, whatever the count; the rest keep the proportions.
        plan = [state for state, n in TARGETS for _ in range(max(1, round(n * self.count / total)))]
        # The longest paths go to the oldest tickets, so that they can finish before today.
        plan.sort(key=lambda state: -len(PATHS[state]))
        span = dt.timedelta(days=30)
        start = self.now - span
        for index, target in enumerate(plan):
            created = start + span * (index / max(len(plan), 1)) * 0.97
            created = created.replace(hour=self.rng.randint(8, 20), minute=self.rng.randint(0, 59))
            if created >= self.now - dt.timedelta(hours=1):
                created = self.now - dt.timedelta(hours=self.rng.randint(2, 12))
            self._walk(target, created)

    def showcase_long_deadline(self) -> None:
        """A 违章建筑 case (normal urgency) the demo agency signed in the last two days, under the demo's
        30-working-day policy: from
        mid-November its deadline reaches into the next year, whose holiday schedule is not published yet, so
        the inbox, the console and the board show a provisional deadline (docs/OPERATIONS.md)."""
        subject = Subject.objects.filter(code=LONG_DEADLINE_SUBJECT).first()
        if subject is not None:
            self._walk("in_progress", self.now - dt.timedelta(days=2), subject=subject)

    def _walk(self, target: str, created: dt.datetime, *, subject: Subject | None = None) -> None:
        rng = self.rng
        chosen = subject is not None
        direct = target == "closed_direct"
        article = rng.choice(self.articles) if direct and self.articles else None
        for_demo_agency = subject is not None or (
            not direct and bool(self.demo_agency_subjects) and rng.random() < self.where.demo_agency_share
        )
        if subject is None and for_demo_agency:
            subject = rng.choice(self.demo_agency_subjects)
        elif subject is None:
            subject = article.subjects.first() if article and article.subjects.exists() else rng.choice(self.leaves)
        assert subject is not None
        appeal = (
            "consultation"
            if direct
            else rng.choice(["complaint", "complaint", "help", "report", "suggestion", "consultation", "praise"])
        )
        adcode = rng.choice(list(self.where.districts))
        lat, lon = self.where.demo_agency_place if for_demo_agency else self.where.districts[adcode]
        road = rng.choice(self.where.roads)
        payload = {
            "channel": rng.choice(["phone"] * 6 + ["wechat", "web", "app", "sms"]),
            "phone": rng.choice(self.phones),
            "caller_name": rng.choice(SURNAMES) + rng.choice(["先生", "女士"]),
            "caller_confidential": rng.random() < 0.1,
            "appeal_type": appeal,
            "subject": subject.code,
            "urgency": "normal" if chosen else rng.choices(["normal", "urgent", "emergency"], weights=[88, 10, 2])[0],
            "title": f"{road}{subject.name}",
            "description": f"{road}{rng.randint(1, 300)}号附近{subject.name}问题。{DETAILS[appeal]}",
            "address": f"{self.where.name}{road}{rng.randint(1, 300)}号",
            "latitude": round(lat + rng.uniform(-0.02, 0.02), 6),
            "longitude": round(lon + rng.uniform(-0.02, 0.02), 6),
        }
        operator, dispatcher = self.operator, self.dispatcher
        with clock.pinned_at(created):
            ticket, _created = intake.do_create_ticket(payload, actor=operator)
        # The lead the routing proposes from the ticket's place, as an operator would accept it.
        decision = proposal_for(ticket)
        # Without a place on the map, the routing's fallbacks by the subject alone (gis/routing.py).
        lead = (decision or decide(subject, None)).lead
        if lead is None or (lead.city_id or self.default_city_id) != self.city.pk:  # never another city's agency
            lead = Agency.objects.get(code=self.where.fallback_agency)
        at = created

        def step(name: str, run: Callable[[], Any]) -> bool:
            nonlocal at
            low, high = DELAYS[name]
            at = at + dt.timedelta(minutes=rng.randint(low, high))
            if at >= self.now:
                return False
            # Escalations due before this step fire first, at their own times, as the worker would have.
            fire_due_until(at)
            with clock.pinned_at(at):
                run()
            return True

        walk = Walk(ticket=ticket, lead=lead, handler=self.handler_for(lead), article=article)
        for name in PATHS[target]:
            if not step(name, lambda name=name: self._run(name, walk)):  # type: ignore[misc]
                return
            if name in ("sign", "reply", "approve"):
                with clock.pinned_at(at):  # the co-handlers act at the lead's time, not today
                    self._co_handlers_follow(ticket, name, dispatcher)
            if name == "sign" and rng.random() < 0.15:
                step(
                    "note",
                    lambda: dispatching.do_urge_work_order(
                        walk.work_order_id, actor=dispatcher, note="请加快办理进度。"
                    ),
                )

    def _run(self, name: str, walk: Walk) -> None:
        operator, dispatcher, rng = self.operator, self.dispatcher, self.rng
        ticket_id, wo_id, handler = walk.ticket.pk, walk.work_order_id, walk.handler
        if name == "resolve":
            dispatching.do_resolve_ticket_directly(
                ticket_id,
                actor=operator,
                answer="已根据知识库内容答复市民。",
                article_id=walk.article.pk if walk.article else None,
            )
        elif name == "cancel":
            dispatching.do_cancel_ticket(ticket_id, actor=operator, reason="市民来电撤回诉求。")
        elif name == "merge":
            self._merge_into_earlier(walk.ticket, operator)
        elif name == "dispatch":
            walk.work_order_id = self._dispatch(walk.ticket, walk.lead, dispatcher, rng)
        elif name == "sign":
            dispatching.do_sign_work_order(wo_id, actor=handler)
        elif name == "note":
            dispatching.do_note_work_order(wo_id, actor=handler, note="已安排人员现场核查。")
        elif name == "return":
            dispatching.do_return_work_order(
                wo_id,
                actor=handler,
                reason="经核查，该事项不属于本单位职责范围。",
                legal_basis="依据本单位“三定”方案规定的职责。",
            )
        elif name == "approve_return":
            dispatching.do_approve_return(wo_id, actor=dispatcher, reason="经核实，同意退回，另行派单。")
        elif name == "reply":
            dispatching.do_reply_work_order(
                wo_id,
                actor=handler,
                reply="已到现场处理完毕，并与市民沟通说明。",
                outcome=rng.choice(["resolved", "resolved", "explained", "partial"]),
            )
        elif name == "approve":
            dispatching.do_approve_work_order(wo_id, actor=dispatcher)
        elif name == "revisit_happy":
            dispatching.do_revisit_ticket(
                ticket_id,
                actor=operator,
                resolved=True,
                satisfaction=rng.choice(["satisfied"] * 4 + ["basically_satisfied"]),
            )
        elif name == "revisit_unhappy":
            dispatching.do_revisit_ticket(
                ticket_id, actor=operator, satisfaction="unsatisfied", resolved=False, note="市民表示问题仍未解决。"
            )
        elif name == "redo":
            dispatching.do_redo_ticket(ticket_id, actor=dispatcher, note="回访不满意，请重新办理。")
        elif name == "close":
            dispatching.do_close_ticket(ticket_id, actor=operator)
        else:
            raise ValueError(name)

    def _dispatch(self, ticket: Ticket, lead: Agency, dispatcher: User, rng: random.Random) -> int:
        co: list[int] = []
        if rng.random() < 0.12:
            districts = list(
                Agency.objects.filter(kind="district", adcode__in=list(self.where.districts))
                .exclude(pk=lead.pk)
                .order_by("code")
            )
            if districts:
                co = [rng.choice(districts).pk]
        done = dispatching.do_dispatch_ticket(
            ticket.pk, actor=dispatcher, lead_agency_id=lead.pk, co_agency_ids=co, instructions="请按时限办理并回复。"
        )
        work_order = done.work_orders.filter(responsibility="lead").order_by("-id").first()
        assert work_order is not None
        return work_order.pk

    def _co_handlers_follow(self, ticket: Ticket, name: str, dispatcher: User) -> None:
        """Co-handling agencies sign, reply and are approved alongside the lead."""
        wanted = {"sign": "pending_sign", "reply": "handling", "approve": "replied"}[name]
        for wo in ticket.work_orders.filter(responsibility="co", state=wanted).select_related("agency"):
            handler = self.handler_for(wo.agency)
            if name == "sign":
                dispatching.do_sign_work_order(wo.pk, actor=handler)
            elif name == "reply":
                dispatching.do_reply_work_order(
                    wo.pk, actor=handler, reply="已配合主办单位完成处理。", outcome="resolved"
                )
            else:
                dispatching.do_approve_work_order(wo.pk, actor=dispatcher)

    def _merge_into_earlier(self, ticket: Ticket, operator: User) -> None:
        """Merge into an open ticket on the same subject whose history ends before now (else a fresh one)."""
        now = clock.now()
        candidate = (
            Ticket.objects.filter(in_city(self.city.pk), subject=ticket.subject)
            .filter(state__in=["accepted", "dispatched", "in_progress"])
            .exclude(pk=ticket.pk)
            .annotate(last_step=Max("timeline__created_at"))
            .filter(last_step__lt=now)
            .order_by("-id")
            .first()
        )
        master: Ticket | None = candidate
        if master is None:
            payload = {
                "channel": "phone",
                "phone": self.rng.choice(self.phones),
                "caller_name": "市民",
                "appeal_type": ticket.appeal_type.code,
                "subject": ticket.subject.code,
                "description": ticket.description,
                "address": ticket.address,
                "title": ticket.title,
                "latitude": ticket.latitude,
                "longitude": ticket.longitude,
            }
            with clock.pinned_at(ticket.created_at - dt.timedelta(minutes=10)):
                master, _created = intake.do_create_ticket(payload, actor=operator)
        dispatching.do_merge_ticket(ticket.pk, actor=operator, master_id=master.pk, note="同一问题重复来电，合并处理。")
