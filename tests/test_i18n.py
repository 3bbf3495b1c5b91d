"""Chinese by default, English on request, for API errors and pages alike."""

from __future__ import annotations

from django.test import Client

from tests.conftest import World, english_client, ticket_payload
from tests.second_factor import verified_login


def test_api_errors_speak_chinese_by_default_and_english_on_request(world: World) -> None:
    client = world.client("operator")
    ticket = client.post("/api/tickets/", ticket_payload(), format="json").json()
    chinese = client.post(
        f"/api/tickets/{ticket['id']}/revisit/", {"satisfaction": "satisfied", "resolved": True}, format="json"
    )
    assert chinese.status_code == 409
    # The action is named by its label, never by its code.
    assert chinese.json()["message"] == "工单当前状态为“已受理”，不能执行“回访”操作。"
    english = client.post(
        f"/api/tickets/{ticket['id']}/revisit/",
        {"satisfaction": "satisfied", "resolved": True},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert english.json()["message"] == (
        "Action 'Revisit the caller (回访)' is not allowed on a ticket in state 'Accepted'."
    )
    assert english.json()["code"] == chinese.json()["code"] == "transition_not_allowed"


def test_login_page_is_chinese_by_default_whatever_the_browser_asks(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page.status_code == 200
    assert 'lang="zh-hans"' in page.content.decode() and "登录" in page.content.decode()
    english = english_client().get("/accounts/login/")
    assert 'lang="en"' in english.content.decode() and "Log in" in english.content.decode()


def test_logout_lands_on_the_login_page(world: World) -> None:
    client = Client()
    verified_login(client, world.users["operator"])
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"


def test_error_pages_are_styled_and_lead_back(world: World) -> None:
    client = Client()
    verified_login(client, world.users["handler_a"])
    forbidden = client.get("/console/")
    assert forbidden.status_code == 403
    assert "返回首页" in forbidden.content.decode() and 'href="/"' in forbidden.content.decode()
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    assert "返回首页" in missing.content.decode()
