"""Chinese by default, English on request, for API errors and pages alike."""

from __future__ import annotations

from tests.conftest import World, ticket_payload


def test_api_errors_speak_chinese_by_default_and_english_on_request(world: World) -> None:
    client = world.client("operator")
    ticket = client.post("/api/tickets/", ticket_payload(), format="json").json()
    chinese = client.post(
        f"/api/tickets/{ticket['id']}/revisit/", {"satisfaction": "satisfied", "resolved": True}, format="json"
    )
    assert chinese.status_code == 409
    assert chinese.json()["message"] == "工单当前状态为“已受理”，不能执行“revisit”操作。"
    english = client.post(
        f"/api/tickets/{ticket['id']}/revisit/",
        {"satisfaction": "satisfied", "resolved": True},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert english.json()["message"] == "Action 'revisit' is not allowed on a ticket in state 'Accepted'."
    assert english.json()["code"] == chinese.json()["code"] == "transition_not_allowed"


def test_login_page_is_chinese_by_default(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert 'lang="zh-hans"' in page.content.decode() and "登录" in page.content.decode()
    english = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Log in" in english.content.decode()
