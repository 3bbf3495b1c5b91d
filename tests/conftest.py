"""Shared fixtures: a small city with one user per role and two agencies to tell apart."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from callcenter.actions import do_save_article
from organisation.actions import do_load_taxonomy, do_upsert_agency, do_upsert_user
from organisation.models import Agency, Role, User

#: Shared fixtures kept in their own modules (the live-socket ones: stop_hubs).
pytest_plugins = ["tests.sockets"]

TAXONOMY = {
    "appeal_types": [
        {"code": "consultation", "name": "咨询", "name_en": "Consultation"},
        {"code": "help", "name": "求助", "name_en": "Help"},
        {"code": "complaint", "name": "投诉", "name_en": "Complaint"},
        {"code": "report", "name": "举报", "name_en": "Report"},
        {"code": "suggestion", "name": "建议", "name_en": "Suggestion"},
        {"code": "praise", "name": "表扬", "name_en": "Praise"},
    ],
    "subjects": [
        {
            "code": "t-urban",
            "name": "城乡建设",
            "children": [
                {
                    "code": "t-appearance",
                    "name": "市容环卫",
                    "children": [
                        {
                            "code": "t-garbage",
                            "name": "垃圾清运",
                            "default_agency_function": "urban_management",
                            "time_limits": {"normal": {"sign": "1wd", "handle": "5wd"}},
                        },
                        {"code": "t-vendors", "name": "占道经营", "default_agency_function": "urban_management"},
                    ],
                },
                {
                    "code": "t-housing",
                    "name": "住房保障",
                    "children": [
                        {"code": "t-property", "name": "物业管理", "default_agency_function": "housing"},
                    ],
                },
            ],
        },
    ],
}


@dataclasses.dataclass
class World:
    centre: Agency
    agency_a: Agency
    agency_b: Agency
    agency_c: Agency
    users: dict[str, User]

    def client(self, who: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(self.users[who])
        return client


CENTRE_USERS = {
    "operator": [Role.OPERATOR],
    "dispatcher": [Role.DISPATCHER],
    "commander": [Role.COMMANDER],
    "supervisor": [Role.SUPERVISOR],
    "auditor": [Role.AUDITOR],
    "admin": [Role.ADMIN],
}


@pytest.fixture
def world(db: Any) -> World:
    centre = do_upsert_agency(code="centre", name="12345热线", kind="centre", function="hotline")
    agency_a = do_upsert_agency(code="cgj", name="市城管局", kind="department", function="urban_management")
    agency_b = do_upsert_agency(code="zjj", name="市住建局", kind="department", function="housing")
    agency_c = do_upsert_agency(code="sjj", name="市市场监管局", kind="department", function="market_regulation")
    do_load_taxonomy(TAXONOMY)
    users = {
        name: do_upsert_user(username=name, password=None, roles=roles, agency_code="centre")
        for name, roles in CENTRE_USERS.items()
    }
    users["handler_a"] = do_upsert_user(
        username="handler_a", password=None, roles=[Role.AGENCY_HANDLER], agency_code="cgj"
    )
    users["agencyadmin_a"] = do_upsert_user(
        username="agencyadmin_a", password=None, roles=[Role.AGENCY_ADMIN], agency_code="cgj"
    )
    users["handler_b"] = do_upsert_user(
        username="handler_b", password=None, roles=[Role.AGENCY_HANDLER], agency_code="zjj"
    )
    users["handler_c"] = do_upsert_user(
        username="handler_c", password=None, roles=[Role.AGENCY_HANDLER], agency_code="sjj"
    )
    users["nobody"] = do_upsert_user(username="nobody", password=None, roles=[], agency_code=None)
    return World(centre, agency_a, agency_b, agency_c, users)


@pytest.fixture
def articles(world: World) -> None:
    do_save_article(
        {
            "code": "kb-garbage-times",
            "title": "城区生活垃圾清运时间安排",
            "body": "城区生活垃圾每日清运两次，清运时间为早上6点至8点和晚上7点至9点。",
            "subjects": ["t-garbage"],
            "keywords": "垃圾 清运 时间",
        }
    )


def ticket_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "channel": "phone",
        "phone": "13812341234",
        "caller_name": "张先生",
        "appeal_type": "complaint",
        "subject": "t-garbage",
        "urgency": "normal",
        "title": "垃圾未清运",
        "description": "小区门口垃圾堆放三天无人清运，气味很大。",
        "address": "柳州市城中区文惠路12号",
        "latitude": 24.3126,
        "longitude": 109.4112,
    }
    payload.update(overrides)
    return payload


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Uploaded files go to a throwaway folder, never into var/media."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


@pytest.fixture(autouse=True)
def fresh_spatial_index() -> None:
    """Each test starts with no cached spatial index, as a new process would."""
    import gis.index

    gis.index._current = None


@pytest.fixture(autouse=True)
def fresh_calendar_and_policies() -> None:
    """Each test starts with no cached working calendar or SLA policies (a rolled-back test leaves none)."""
    from dispatch.deadlines import calendar, policies

    calendar.invalidate()
    policies.invalidate_policies()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Connections close after each request in tests, also in Channels' worker threads, so that the
    test database can be dropped at the end of the run (production keeps them for a minute)."""
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


def english_client() -> Client:
    """A browser that chose English with the header's language switch (the language cookie)."""
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client
