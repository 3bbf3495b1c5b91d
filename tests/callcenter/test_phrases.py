"""Canned phrases (常用语): validation with every bad field at once, audited and announced changes, who may
read which kind (agency staff: replies only) and edit (the centre's editors), the subject filter (a
subject's own phrases, its branches' and the general ones), the editing page and the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.models import Phrase, PhraseKind
from callcenter.phrases import actions
from core.errors import InvalidInput, NotAllowed
from organisation.models import AuditEntry
from realtime.models import Event
from tests.conftest import World
from tests.second_factor import verified_login

pytestmark = pytest.mark.django_db


def _phrase(world: World, **overrides: Any) -> Phrase:
    data: dict[str, Any] = {"kind": "reply", "subject": None, "title": "已现场处理", "body": "已到{address}现场处理。"}
    data.update(overrides)
    return actions.do_save_phrase(data, actor=world.users["dispatcher"])


@pytest.fixture
def phrases(world: World) -> dict[str, Phrase]:
    return {
        "general_reply": _phrase(world, title="通用答复"),
        "garbage_reply": _phrase(world, subject="t-garbage", title="已安排清运", body="已于{date}清运{address}垃圾。"),
        "branch_reply": _phrase(world, subject="t-appearance", title="市容环卫答复"),
        "vendors_reply": _phrase(world, subject="t-vendors", title="已劝离摊贩"),
        "garbage_intake": _phrase(
            world, kind="intake", subject="t-garbage", title="垃圾未清运", body="{address}垃圾未清运。"
        ),
        "revisit": _phrase(world, kind="revisit", title="满意", body="来电人表示满意。"),
        "inactive_reply": _phrase(world, subject="t-garbage", title="旧答复", active=False),
    }


def _titles(response: Any) -> set[str]:
    assert response.status_code == 200, response.content.decode()[:300]
    return {row["title"] for row in response.json()["results"]}


# --- actions ---------------------------------------------------------------------------------------------


def test_every_bad_field_is_reported_at_once_and_nothing_is_written(world: World) -> None:
    before = (Phrase.objects.count(), AuditEntry.objects.count(), Event.objects.count())
    with pytest.raises(InvalidInput) as problem:
        actions.do_save_phrase(
            {"kind": "memo", "subject": "no-such", "title": " ", "body": "见{addr}", "sort_order": -1, "active": "yes"},
            actor=world.users["dispatcher"],
        )
    assert set(problem.value.fields) == {"kind", "subject", "title", "body", "sort_order", "active"}
    assert "{addr}" in problem.value.fields["body"][0] and "{address}" in problem.value.fields["body"][0]
    assert (Phrase.objects.count(), AuditEntry.objects.count(), Event.objects.count()) == before


def test_a_saved_phrase_is_audited_and_announced(world: World) -> None:
    phrase = _phrase(world, subject="t-garbage", sort_order=3)
    assert (phrase.kind, phrase.subject and phrase.subject.code, phrase.sort_order) == ("reply", "t-garbage", 3)
    assert phrase.updated_by == world.users["dispatcher"] and phrase.active
    entry = AuditEntry.objects.get(target_type="phrase", target_id=phrase.pk)
    assert entry.action == "phrase_created" and entry.actor == world.users["dispatcher"]
    event = Event.objects.filter(type="reference.changed").last()
    assert event is not None and event.payload["kind"] == "phrase" and event.payload["id"] == phrase.pk

    changed = actions.do_save_phrase({"active": False}, actor=world.users["supervisor"], phrase_id=phrase.pk)
    assert not changed.active and changed.title == "已现场处理" and changed.updated_by == world.users["supervisor"]
    last = AuditEntry.objects.filter(target_type="phrase").latest("id")
    assert last.action == "phrase_changed" and last.fields == [{"fields": ["active"]}]

    count = AuditEntry.objects.count()
    actions.do_save_phrase({"active": False}, actor=world.users["supervisor"], phrase_id=phrase.pk)
    assert AuditEntry.objects.count() == count  # nothing changed, nothing audited


@pytest.mark.parametrize("who", ["operator", "commander", "auditor", "handler_a", "agencyadmin_a", "nobody"])
def test_only_the_centres_editors_may_save(world: World, who: str) -> None:
    with pytest.raises(NotAllowed):
        actions.do_save_phrase({"kind": "reply", "title": "答复", "body": "已处理。"}, actor=world.users[who])
    assert not Phrase.objects.exists()


def test_the_loader_upserts_by_kind_subject_and_title(world: World) -> None:
    rows: list[dict[str, Any]] = [
        {"kind": "reply", "subject": None, "title": "通用答复", "body": "已处理。"},
        {"kind": "intake", "subject": "t-garbage", "title": "垃圾未清运", "body": "{address}垃圾未清运。"},
        {"kind": "intake", "subject": "not-in-this-city", "title": "别处", "body": "别处的分类。"},
    ]
    assert actions.do_load_phrases(rows) == 2
    rows[0]["body"] = "已处理完毕。"
    assert actions.do_load_phrases(rows) == 2
    assert Phrase.objects.count() == 2
    assert Phrase.objects.get(title="通用答复").body == "已处理完毕。"


# --- API: reading ------------------------------------------------------------------------------------------


def test_the_subject_filter_offers_the_subjects_own_its_branches_and_the_general_phrases(
    world: World, phrases: dict[str, Phrase]
) -> None:
    client = world.client("operator")
    assert _titles(client.get("/api/phrases/?kind=reply&subject=t-garbage")) == {
        "通用答复",
        "已安排清运",
        "市容环卫答复",
    }
    assert _titles(client.get("/api/phrases/?kind=reply&subject=t-vendors")) == {
        "通用答复",
        "市容环卫答复",
        "已劝离摊贩",
    }
    assert _titles(client.get("/api/phrases/?kind=intake&subject=t-garbage")) == {"垃圾未清运"}
    assert _titles(client.get("/api/phrases/?kind=reply")) == {"通用答复", "已安排清运", "市容环卫答复", "已劝离摊贩"}
    row = client.get("/api/phrases/?kind=intake").json()["results"][0]
    assert row["subject"]["code"] == "t-garbage" and row["kind_label"]
    assert "updated_by" not in row  # who edited is for the editors


def test_agency_staff_read_reply_phrases_only(world: World, phrases: dict[str, Phrase]) -> None:
    client = world.client("handler_a")
    assert _titles(client.get("/api/phrases/")) == {"通用答复", "已安排清运", "市容环卫答复", "已劝离摊贩"}
    assert _titles(client.get("/api/phrases/?kind=intake&subject=t-garbage")) == set()
    assert _titles(client.get("/api/phrases/?kind=revisit")) == set()
    assert client.get(f"/api/phrases/{phrases['garbage_intake'].pk}/").status_code == 404
    assert client.get(f"/api/phrases/{phrases['inactive_reply'].pk}/").status_code == 404
    assert client.get(f"/api/phrases/{phrases['garbage_reply'].pk}/").json()["title"] == "已安排清运"
    assert client.get("/api/phrases/?include_inactive=true").status_code == 400


def test_bad_filters_are_field_errors(world: World) -> None:
    response = world.client("operator").get("/api/phrases/?kind=memo&subject=no-such")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"kind", "subject"}


def test_inactive_phrases_are_listed_for_editors_only_on_request(world: World, phrases: dict[str, Phrase]) -> None:
    client = world.client("dispatcher")
    assert "旧答复" not in _titles(client.get("/api/phrases/?kind=reply"))
    listed = client.get("/api/phrases/?kind=reply&include_inactive=true")
    assert "旧答复" in _titles(listed)
    assert listed.json()["may_edit"] is True and listed.json()["results"][0]["updated_by"] == "dispatcher"


@pytest.mark.parametrize("who", ["nobody"])
def test_users_without_a_role_read_nothing(world: World, who: str) -> None:
    assert world.client(who).get("/api/phrases/").status_code == 403


# --- API: writing ------------------------------------------------------------------------------------------


def test_an_editor_creates_and_deactivates_a_phrase(world: World) -> None:
    client = world.client("supervisor")
    created = client.post(
        "/api/phrases/",
        {"kind": "revisit", "subject": "t-garbage", "title": "已回访", "body": "{date}回访，来电人满意。"},
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert Phrase.objects.get(pk=pk).kind == PhraseKind.REVISIT
    changed = client.patch(f"/api/phrases/{pk}/", {"active": False, "title": "已回访（旧）"}, format="json")
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert _titles(world.client("operator").get("/api/phrases/?kind=revisit")) == set()


def test_bad_input_is_a_400_with_field_errors_and_changes_nothing(world: World, phrases: dict[str, Phrase]) -> None:
    client = world.client("dispatcher")
    before = list(Phrase.objects.values_list("id", "title", "body", "active").order_by("id"))
    response = client.post("/api/phrases/", {"kind": "reply", "title": "", "body": "x" * 2001}, format="json")
    assert response.status_code == 400 and {"title", "body"} <= set(response.json()["fields"])
    pk = phrases["general_reply"].pk
    response = client.patch(f"/api/phrases/{pk}/", {"body": "见{地址}", "subject": "no-such"}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"body", "subject"}
    assert client.patch(f"/api/phrases/{pk}/", ["not", "an", "object"], format="json").status_code == 400
    assert list(Phrase.objects.values_list("id", "title", "body", "active").order_by("id")) == before


@pytest.mark.parametrize("who", ["operator", "commander", "auditor", "handler_a", "agencyadmin_a"])
def test_users_who_are_not_editors_cannot_create_or_change(world: World, phrases: dict[str, Phrase], who: str) -> None:
    client = world.client(who)
    body = {"kind": "reply", "title": "答复", "body": "已处理。"}
    assert client.post("/api/phrases/", body, format="json").status_code == 403
    reply = phrases["garbage_reply"]
    assert client.patch(f"/api/phrases/{reply.pk}/", {"title": "改了"}, format="json").status_code == 403
    intake = phrases["garbage_intake"]
    expected = 404 if who.startswith(("handler", "agencyadmin")) else 403  # agencies cannot see intake phrases
    assert client.patch(f"/api/phrases/{intake.pk}/", {"title": "改了"}, format="json").status_code == expected
    assert Phrase.objects.get(pk=reply.pk).title == "已安排清运"
    assert Phrase.objects.get(pk=intake.pk).title == "垃圾未清运"


# --- the page and the admin --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("dispatcher", 200), ("supervisor", 200), ("admin", 200), ("operator", 403), ("handler_a", 403)],
)
def test_the_editing_page_is_for_editors(world: World, who: str, status: int) -> None:
    client = verified_login(Client(), world.users[who])
    response = client.get("/phrases/")
    assert response.status_code == status
    if status == 200:
        page = response.content.decode()
        assert "常用语" in page and "{address}" in page


def test_the_admin_saves_through_the_action_and_refuses_unknown_placeholders(world: World) -> None:
    client = verified_login(Client(), world.users["admin"])
    form = {"kind": "intake", "subject": "", "title": "来电人要求回复", "body": "请回复{caller}。", "sort_order": "0"}
    response = client.post("/admin/callcenter/phrase/add/", {**form, "active": "on"})
    assert response.status_code == 200 and "{caller}" in response.content.decode()
    assert not Phrase.objects.exists()
    response = client.post("/admin/callcenter/phrase/add/", {**form, "body": "请回复来电人。", "active": "on"})
    assert response.status_code == 302
    phrase = Phrase.objects.get()
    assert phrase.updated_by == world.users["admin"]
    assert AuditEntry.objects.filter(action="phrase_created", target_id=phrase.pk).exists()
    assert client.get(f"/admin/callcenter/phrase/{phrase.pk}/delete/").status_code == 403


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
PHRASE_BODIES = (
    st.dictionaries(st.sampled_from(["kind", "subject", "title", "body", "sort_order", "active"]), JSON_VALUES)
    | JSON_VALUES
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=PHRASE_BODIES)
def test_random_json_never_causes_a_server_error(world: World, body: Any) -> None:
    phrase = Phrase.objects.first() or _phrase(world)
    client = world.client("dispatcher")
    for response in (
        client.post("/api/phrases/", body, format="json"),
        client.patch(f"/api/phrases/{phrase.pk}/", body, format="json"),
    ):
        assert response.status_code < 500, (body, response.content)
        assert response.status_code in (200, 201) or response.json()["code"]
