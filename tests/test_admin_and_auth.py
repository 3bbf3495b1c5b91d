"""Reference data is editable in the admin; programs authenticate with tokens, pages with sessions."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from callcenter.knowledge import search_articles
from callcenter.models import KnowledgeArticle
from core import clock
from organisation.actions import do_upsert_user
from organisation.models import Role, Subject
from tests.conftest import World, ticket_payload
from tests.second_factor import verified_login

MODELS = [
    model for model in admin.site._registry if model._meta.app_label in {"organisation", "dispatch", "callcenter"}
]


@pytest.mark.parametrize("model", MODELS, ids=[m._meta.label for m in MODELS])
def test_admin_pages_of_reference_data_load(world: World, model: type[Model]) -> None:
    client = Client()
    verified_login(client, world.users["admin"])
    opts = model._meta
    assert client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).status_code == 200
    first = model._default_manager.first()
    if first is not None:
        assert (
            client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])).status_code == 200
        )


def test_editing_an_article_in_the_admin_reindexes_it(world: World, articles: None) -> None:
    client = Client()
    verified_login(client, world.users["admin"])
    article = KnowledgeArticle.objects.get(code="kb-garbage-times")
    url = reverse("admin:callcenter_knowledgearticle_change", args=[article.pk])
    response = client.post(
        url,
        {
            "code": article.code,
            "title": "大件家具预约回收办法",
            "body": "拨打热线预约上门回收。",
            "keywords": "",
            "subjects": [],
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content[:500]
    today = clock.now().date()
    assert [hit.article.pk for hit in search_articles("家具回收", today=today)] == [article.pk]
    assert search_articles("垃圾清运时间", today=today) == []


def test_editing_a_subject_in_the_admin_keeps_its_full_name(world: World) -> None:
    client = Client()
    verified_login(client, world.users["admin"])
    subject = Subject.objects.get(code="t-garbage")
    response = client.post(
        reverse("admin:organisation_subject_change", args=[subject.pk]),
        {
            "code": "t-garbage",
            "name": "生活垃圾清运",
            "name_en": "",
            "parent": subject.parent_id,
            "default_agency_function": "urban_management",
            "time_limits": "{}",
            "active": "on",
            "sort_order": 1,
        },
    )
    assert response.status_code == 302, response.content[:800]
    assert Subject.objects.get(pk=subject.pk).path == "城乡建设 > 市容环卫 > 生活垃圾清运"


def test_programs_use_a_token(world: World) -> None:
    do_upsert_user(username="cti", password="s3cret-pass-phrase", roles=[Role.OPERATOR], agency_code="centre")
    client = APIClient()
    token = client.post("/api/auth/token/", {"username": "cti", "password": "s3cret-pass-phrase"}).json()["token"]
    refused = client.post("/api/auth/token/", {"username": "cti", "password": "wrong"})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_input"
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    created = client.post("/api/tickets/", ticket_payload(), format="json")
    assert created.status_code == 201
    assert client.get("/api/me/").json()["username"] == "cti"


def test_pages_use_the_session_and_need_csrf(world: World) -> None:
    do_upsert_user(username="desk", password="s3cret-pass-phrase", roles=[Role.OPERATOR], agency_code="centre")
    client = Client(enforce_csrf_checks=True)
    assert client.get("/").status_code == 302  # to the login page
    login_page = client.get("/accounts/login/")
    token = login_page.cookies["csrftoken"].value
    logged_in = client.post(
        "/accounts/login/", {"username": "desk", "password": "s3cret-pass-phrase", "csrfmiddlewaretoken": token}
    )
    assert logged_in.status_code == 302
    assert client.get("/").status_code == 200
    without_csrf = client.post("/api/tickets/", ticket_payload(), content_type="application/json")
    assert without_csrf.status_code == 403
    with_csrf = client.post(
        "/api/tickets/",
        ticket_payload(),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert with_csrf.status_code == 201
