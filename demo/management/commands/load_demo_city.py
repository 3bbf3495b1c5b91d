"""Load the Liuzhou demo city: agencies, taxonomy, knowledge base, one user per role and a month of
plausible ticket history in every state, all written through the real actions. A second city, Guilin, runs
beside it ("一套程序，多套应用"): its own agencies, districts, routing rules, centre staff and a smaller history.

Idempotent: reference data is upserted (unchanged rows stay unchanged), the demo users are created only if
absent (a changed password stays changed) and each city's history (demo/history.py) is generated only into a
city that has no tickets yet, from a fixed seed. Refuses a database set up for production (``init_production``,
core/installation.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from callcenter import actions as intake
from callcenter.models import KnowledgeArticle, Ticket
from callcenter.phrases.actions import do_load_phrases
from core import clock, installation
from core.errors import DomainError
from demo.history import LONG_DEADLINE_SUBJECT, CityHistory, History
from dispatch.deadlines.actions import do_save_sla_policy
from dispatch.deadlines.escalations import fire_due_until
from organisation import actions as organisation_actions
from organisation.actions import do_load_taxonomy
from organisation.identity import second_factor
from organisation.identity.actions import do_enrol_known_device
from organisation.models import Agency, City, Role, Subject, User, in_city

ROOT = Path(settings.BASE_DIR)
DEMO_PASSWORD = "demo-12345"
# The demo's second factor (README "Demo logins"): the roles that need one get a TOTP device with this published
# key (RFC 6238's test key; base32 below, for an authenticator app), so a newcomer can log in at once.
DEMO_TOTP_KEY_HEX = "3132333435363738393031323334353637383930"
DEMO_TOTP_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
CENTRE = "lz-12345"
CITIES = {
    "liuzhou": {"name": "柳州市", "name_en": "Liuzhou", "adcode": "450200"},
    "guilin": {"name": "桂林市", "name_en": "Guilin", "adcode": "450300"},
}
GUILIN_AGENCIES = ROOT / "organisation" / "data" / "agencies_guilin.json"
DEMO_AGENCY = "lz-chengzhong-cgj"
# Urban-management tickets in 城中区 route to the demo agency; this share of the history is made so.
DEMO_AGENCY_FUNCTION = "urban_management"
DEMO_AGENCY_PLACE = (24.3661, 109.4600)  # inside 城中区 (450202), well away from its boundary
DEMO_AGENCY_SHARE = 0.15

DEMO_USERS: list[dict[str, Any]] = [
    {"username": "operator", "roles": [Role.OPERATOR], "agency": CENTRE, "name": "话务员 小林", "extension": "8001"},
    {"username": "dispatcher", "roles": [Role.DISPATCHER], "agency": CENTRE, "name": "派单员 老周"},
    {"username": "commander", "roles": [Role.COMMANDER], "agency": CENTRE, "name": "指挥长 韦队"},
    {"username": "supervisor", "roles": [Role.SUPERVISOR], "agency": CENTRE, "name": "督查员 覃科"},
    {"username": "auditor", "roles": [Role.AUDITOR], "agency": CENTRE, "name": "审计员 蓝工"},
    {"username": "admin", "roles": [Role.ADMIN], "agency": CENTRE, "name": "系统管理员"},
    # Urban tickets in 城中区 are routed to its urban management bureau: the demo agency users work there.
    {
        "username": "handler",
        "roles": [Role.AGENCY_HANDLER],
        "agency": "lz-chengzhong-cgj",
        "name": "城中区城管局 承办人",
    },
    {
        "username": "agencyadmin",
        "roles": [Role.AGENCY_ADMIN],
        "agency": "lz-chengzhong-cgj",
        "name": "城中区城管局 管理员",
    },
    # The second city's centre: sees Guilin's tickets only.
    {"username": "gl-operator", "roles": [Role.OPERATOR], "agency": "gl-12345", "name": "桂林话务员 小唐"},
    {"username": "gl-dispatcher", "roles": [Role.DISPATCHER], "agency": "gl-12345", "name": "桂林派单员 小蒋"},
]

LIUZHOU = CityHistory(
    city="liuzhou",
    name="柳州市",
    operator="operator",
    dispatcher="dispatcher",
    area_code="0772",
    districts={
        "450202": (24.3155, 109.4120),
        "450203": (24.2995, 109.4530),
        "450204": (24.2890, 109.3880),
        "450205": (24.3650, 109.4060),
        "450206": (24.2560, 109.3350),
    },
    roads=[
        "龙城路",
        "五一路",
        "文惠路",
        "八一路",
        "桂中大道",
        "潭中西路",
        "东环大道",
        "航生路",
        "屏山大道",
        "柳石路",
        "飞鹅路",
        "西环路",
        "北雀路",
        "跃进路",
        "广场路",
        "弯塘路",
        "红光路",
        "革新路",
        "谷埠街",
        "曙光东路",
    ],
    fallback_agency="lz-cgj",
    demo_agency_function=DEMO_AGENCY_FUNCTION,
    demo_agency_place=DEMO_AGENCY_PLACE,
    demo_agency_share=DEMO_AGENCY_SHARE,
)
# Guilin's urban districts (秀峰, 叠彩, 象山, 七星), the roads of its centre; a fifth of Liuzhou's tickets.
GUILIN = CityHistory(
    city="guilin",
    name="桂林市",
    operator="gl-operator",
    dispatcher="gl-dispatcher",
    area_code="0773",
    districts={
        "450302": (25.2820, 110.2900),
        "450303": (25.3080, 110.3000),
        "450304": (25.2550, 110.2850),
        "450305": (25.2700, 110.3250),
    },
    roads=["中山中路", "解放东路", "解放西路", "正阳路", "依仁路", "滨江路", "翊武路", "骖鸾路", "穿山路", "七星路"],
    fallback_agency="gl-cgj",
)
GUILIN_SHARE = 5


def _demo_sla_policies() -> None:
    """SLA policies of the demo city, beyond the subjects' own limits."""
    subject = Subject.objects.filter(code=LONG_DEADLINE_SUBJECT).first()
    if subject is not None:
        do_save_sla_policy(
            name="违章建筑立案查处 30 个工作日", subject_id=subject.pk, urgency="normal", handle_limit="30wd"
        )


class Command(BaseCommand):
    help = "Load the Liuzhou demo city (agencies, taxonomy, knowledge base, users, ticket history)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tickets", type=int, default=200, help="historical tickets to generate")
        parser.add_argument("--seed", type=int, default=12345)
        parser.add_argument(
            "--now",
            type=dt.datetime.fromisoformat,
            default=None,
            help="replay history up to this time instead of the real now (for tests), e.g. 2026-06-15T10:00:00+08:00",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        moment = options["now"]
        if moment is not None and moment.tzinfo is None:
            raise CommandError("--now needs a time zone offset, e.g. 2026-06-15T10:00:00+08:00")
        try:
            # Never into a database set up for production (init_production); marks it as the demo's otherwise.
            installation.do_mark(installation.DEMO)
        except DomainError as error:
            raise CommandError(error.message) from None
        with clock.pinned_at(moment) if moment is not None else contextlib.nullcontext():
            self._load(options)

    def _load(self, options: dict[str, Any]) -> None:
        self._load_agencies()
        appeal_types, leaves = do_load_taxonomy(self._json("callcenter/data/taxonomy.json"))
        for article in self._json("callcenter/data/knowledge.json"):
            intake.do_save_article(article)
        # Canned phrases (常用语) for descriptions, replies and revisits (upserted by kind, subject and title).
        do_load_phrases(self._json("callcenter/data/phrases.json"))
        for spec in DEMO_USERS:
            if User.objects.filter(username=spec["username"]).exists():
                continue  # created once: a password (or anything else) changed since then stays as it is
            user = organisation_actions.do_upsert_user(
                username=spec["username"],
                password=DEMO_PASSWORD,
                roles=spec["roles"],
                agency_code=spec["agency"],
                first_name=spec["name"],
                extension=spec.get("extension", ""),
            )
            if second_factor.required_by_role(user):
                do_enrol_known_device(user, DEMO_TOTP_KEY_HEX)
        call_command("load_demo_boundaries", stdout=self.stdout)
        call_command("load_demo_units", stdout=self.stdout)  # idempotent by call sign
        self.stdout.write(
            f"Reference data: {Agency.objects.count()} agencies, {appeal_types} appeal types, "
            f"{leaves} subjects, {KnowledgeArticle.objects.count()} knowledge articles."
        )
        usernames = [spec["username"] for spec in DEMO_USERS]
        for where, count in ((LIUZHOU, options["tickets"]), (GUILIN, max(1, options["tickets"] // GUILIN_SHARE))):
            city = City.objects.get(code=where.city)
            present = Ticket.objects.filter(in_city(city.pk)).count()
            if present:
                self.stdout.write(f"{where.city}: history already present ({present} tickets); left as it is.")
                continue
            # Each city its own random stream, so that one city's history never shifts the other's.
            rng = random.Random(options["seed"] if where is LIUZHOU else f"{options['seed']}-{where.city}")
            history = History(rng, count, where, demo_users=usernames)
            if where is LIUZHOU:
                _demo_sla_policies()
            history.generate()
            if where is LIUZHOU:
                history.showcase_long_deadline()
            made = Ticket.objects.filter(in_city(city.pk)).count()
            self.stdout.write(f"{where.city}: generated {made} historical tickets.")
        # Yellow and red cards for everything due by now (the run_timers firing path; idempotent).
        fired = fire_due_until(clock.now())
        self.stdout.write(f"Escalations fired up to now: {fired.fired} ({dict(sorted(fired.by_level.items()))}).")
        # Emergency linkage: transfer lists and a few live incidents (emergency/demo.py; idempotent).
        from emergency.demo import load_demo_incidents

        incidents = load_demo_incidents(
            commander=User.objects.get(username="commander"), operator=User.objects.get(username="operator")
        )
        self.stdout.write(f"Demo incidents created: {incidents}.")
        self.stdout.write(f"\nDemo logins (password for all, unless changed since: {DEMO_PASSWORD}):")
        for spec in DEMO_USERS:
            roles = ", ".join(spec["roles"])
            self.stdout.write(f"  {spec['username']:<12} {roles:<16} {spec['name']}")
        self.stdout.write(
            f"Admin, supervisor, auditor and commander also give a one-time code: add the key {DEMO_TOTP_SECRET} "
            "to an authenticator app (TOTP, 6 digits, 30 s), or run `manage.py demo_otp_code <user>`."
        )

    def _json(self, relative: str) -> Any:
        return json.loads((ROOT / relative).read_text(encoding="utf-8"))

    def _load_agencies(self) -> None:
        # Liuzhou first: the first city is the default one (rows naming no city are its).
        cities = {code: organisation_actions.do_ensure_city(code=code, **spec) for code, spec in CITIES.items()}
        organisation_actions.do_load_agencies(city=cities["liuzhou"])
        organisation_actions.do_load_agencies(GUILIN_AGENCIES, city=cities["guilin"])
