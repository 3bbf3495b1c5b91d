"""Knowledge-base search over the real taxonomy and knowledge base shipped in callcenter/data/."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from callcenter.actions import do_save_article
from callcenter.knowledge import terms_of
from callcenter.models import KnowledgeArticle, KnowledgeTerm
from core.clock import pinned_at
from organisation.actions import do_load_taxonomy
from tests.conftest import World

DATA = Path(__file__).resolve().parents[2] / "callcenter" / "data"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SUMMER_2026 = dt.datetime(2026, 6, 15, 10, 0, tzinfo=SHANGHAI)  # every 2026 article valid, 2025 ones expired
AUTUMN_2026 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=SHANGHAI)  # the 2026 enrolment guide expired too
AUTUMN_2025 = dt.datetime(2025, 10, 15, 10, 0, tzinfo=SHANGHAI)  # before the 2026 articles start


def _articles() -> list[dict[str, Any]]:
    return json.loads((DATA / "knowledge.json").read_text(encoding="utf-8"))


@pytest.fixture
def kb(world: World) -> dict[str, dict[str, Any]]:
    do_load_taxonomy(json.loads((DATA / "taxonomy.json").read_text(encoding="utf-8")))
    articles = _articles()
    for article in articles:
        do_save_article(article)
    return {article["code"]: article for article in articles}


def search(world: World, query: str, at: dt.datetime = SUMMER_2026, who: str = "operator", **params: str) -> list[str]:
    url = f"/api/knowledge/?q={quote(query)}" + "".join(f"&{k}={quote(v)}" for k, v in params.items())
    with pinned_at(at):
        response = world.client(who).get(url)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["query"] == query.strip()
    scores = [row["score"] for row in body["results"]]
    assert scores == sorted(scores, reverse=True) and all(score > 0 for score in scores)
    return [row["code"] for row in body["results"]]


def test_the_whole_knowledge_base_is_loaded(kb: dict[str, dict[str, Any]]) -> None:
    assert KnowledgeArticle.objects.count() == len(kb) > 30
    assert KnowledgeTerm.objects.values("article").distinct().count() == len(kb)


def test_garbage_collection_times(world: World, kb: dict[str, dict[str, Any]]) -> None:
    codes = search(world, "垃圾清运时间")
    assert codes[0] == "garbage-collection-schedule"
    # Other rubbish articles match some of the query too, but rank below.
    assert "renovation-waste-application" in codes[1:]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("社保卡丢了怎么补办", "social-security-card-application"),
        ("家里突然停电了，邻居家也没电", "power-outage-reporting"),
        ("明天小区计划停电查询", "planned-power-outage-notice"),
        ("楼下烧烤店油烟太大", "cooking-fumes-rules"),
        ("电梯困人了怎么办", "elevator-entrapment"),
        ("租房可以提取住房公积金吗", "housing-provident-fund-withdrawal"),
        ("厨房闻到燃气泄漏的味道", "gas-leak-emergency"),
        ("老板拖欠工资三个月", "wage-arrears-complaint"),
        ("自来水发黄有异味", "tap-water-quality"),
    ],
    ids=[
        "social-security-card",
        "power-outage",
        "planned-outage",
        "cooking-fumes",
        "elevator",
        "provident-fund",
        "gas-leak",
        "wage-arrears",
        "water-quality",
    ],
)
def test_realistic_questions_find_the_right_article_first(
    world: World, kb: dict[str, dict[str, Any]], query: str, expected: str
) -> None:
    assert expected in kb  # the expected answer is a real article
    assert search(world, query)[0] == expected


def test_expired_articles_are_not_returned(world: World, kb: dict[str, dict[str, Any]]) -> None:
    assert kb["school-enrolment-2026"]["valid_to"] == "2026-09-30"
    assert kb["school-enrolment-2025"]["valid_to"] == "2025-09-30"
    query = "秋季义务教育学校招生入学报名"
    during = search(world, query, SUMMER_2026)
    assert during[0] == "school-enrolment-2026" and "school-enrolment-2025" not in during
    after = search(world, query, AUTUMN_2026)
    assert "school-enrolment-2026" not in after and "school-enrolment-2025" not in after
    # The list without a query is the editors' view: expired articles are still there.
    with pinned_at(AUTUMN_2026):
        listed = world.client("dispatcher").get("/api/knowledge/?limit=100").json()["results"]
    assert {"school-enrolment-2025", "school-enrolment-2026"} <= {row["code"] for row in listed}


def test_validity_is_judged_on_the_pinned_date(world: World, kb: dict[str, dict[str, Any]]) -> None:
    assert kb["resident-medical-insurance-2025"]["valid_to"] == "2025-12-31"
    query = "城乡居民医保集中缴费"
    assert search(world, query, AUTUMN_2025)[0] == "resident-medical-insurance-2025"
    assert "resident-medical-insurance-2025" not in search(world, query, SUMMER_2026)
    # Articles valid from 2026-01-01 are not offered before that day.
    assert "garbage-collection-schedule" not in search(world, "垃圾清运时间", AUTUMN_2025)
    # The last valid day counts, in Asia/Shanghai time: at 00:30 on 1 October there it is still
    # 30 September in UTC, so a UTC date would wrongly keep the article.
    # Pinned in UTC, as timezone.now() reads it: the code must convert to local time itself.
    last_evening = dt.datetime(2026, 9, 30, 23, 30, tzinfo=SHANGHAI).astimezone(dt.UTC)
    next_morning = dt.datetime(2026, 10, 1, 0, 30, tzinfo=SHANGHAI).astimezone(dt.UTC)
    assert search(world, "秋季义务教育学校招生入学报名", last_evening)[0] == "school-enrolment-2026"
    assert "school-enrolment-2026" not in search(world, "秋季义务教育学校招生入学报名", next_morning)


@pytest.mark.parametrize(
    ("wide", "narrow", "expected"),
    [
        ("交管１２１２３ＡＰＰ", "交管12123APP", "illegal-parking-report"),
        ("停电报修９５５９８", "停电报修95598", "power-outage-reporting"),
        ("ａｐｐ补卡　社保卡", "app补卡 社保卡", "social-security-card-application"),
    ],
    ids=["digits-and-letters", "digits", "letters-and-ideographic-space"],
)
def test_full_width_characters_are_normalised(
    world: World, kb: dict[str, dict[str, Any]], wide: str, narrow: str, expected: str
) -> None:
    assert terms_of(wide) == terms_of(narrow)
    wide_codes = search(world, wide)
    assert wide_codes[0] == expected
    assert wide_codes == search(world, narrow)


@pytest.mark.parametrize("raw", ["", "q=", "q=%20%20%20"], ids=["no-q", "empty-q", "blank-q"])
def test_an_empty_query_lists_articles(world: World, kb: dict[str, dict[str, Any]], raw: str) -> None:
    with pinned_at(SUMMER_2026):
        body = world.client("operator").get(f"/api/knowledge/?{raw}&limit=100").json()
    assert body["count"] == len(kb)
    codes = [row["code"] for row in body["results"]]
    assert codes == sorted(kb)


def test_a_query_of_201_characters_is_refused(world: World, kb: dict[str, dict[str, Any]]) -> None:
    client = world.client("operator")
    too_long = client.get(f"/api/knowledge/?q={quote('垃' * 201)}")
    assert too_long.status_code == 400
    assert too_long.json()["code"] == "invalid_input" and "q" in too_long.json()["fields"]
    assert client.get(f"/api/knowledge/?q={quote('垃' * 200)}").status_code == 200


def test_subject_filter(world: World, kb: dict[str, dict[str, Any]]) -> None:
    codes = search(world, "停电报修", subject="power-outage")
    assert codes and set(codes) <= {code for code, a in kb.items() if "power-outage" in a["subjects"]}
    unknown = world.client("operator").get("/api/knowledge/?q=停电&subject=no-such-subject")
    assert unknown.status_code == 400 and "subject" in unknown.json()["fields"]


def test_editing_an_article_reindexes_it(world: World, kb: dict[str, dict[str, Any]]) -> None:
    article = KnowledgeArticle.objects.get(code="garbage-collection-schedule")
    # "台风" and "巡回" are only in this article's old body; "紫藤" is in no article yet.
    assert [code for code, a in kb.items() if "台风" in a["body"]] == ["garbage-collection-schedule"]
    assert search(world, "台风巡回")[0] == "garbage-collection-schedule"
    assert search(world, "紫藤花香") == []

    new = {
        **kb["garbage-collection-schedule"],
        "title": "城区垃圾桶清洗消毒安排",
        "body": "每周对城区垃圾桶清洗消毒一次，使用紫藤花香型消毒液。",
        "keywords": "垃圾桶 清洗 消毒",
    }
    response = world.client("dispatcher").put(f"/api/knowledge/{article.pk}/", new, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "城区垃圾桶清洗消毒安排"

    assert search(world, "紫藤花香")[0] == "garbage-collection-schedule"
    assert "garbage-collection-schedule" not in search(world, "台风巡回")
    assert not KnowledgeTerm.objects.filter(article=article, term__in=["台风", "巡回"]).exists()
    assert KnowledgeTerm.objects.filter(article=article, term="紫藤").exists()


def test_a_deactivated_article_is_no_longer_found(world: World, kb: dict[str, dict[str, Any]]) -> None:
    article = KnowledgeArticle.objects.get(code="elevator-entrapment")
    body = {**kb["elevator-entrapment"], "active": False}
    assert world.client("admin").put(f"/api/knowledge/{article.pk}/", body, format="json").status_code == 200
    assert "elevator-entrapment" not in search(world, "电梯困人了怎么办")


def test_an_agency_handler_may_search_but_not_edit(world: World, kb: dict[str, dict[str, Any]]) -> None:
    assert search(world, "垃圾清运时间", who="handler_a")[0] == "garbage-collection-schedule"
    client = world.client("handler_a")
    created = client.post("/api/knowledge/", {"code": "kb-handler", "title": "处理指引", "body": "正文"}, format="json")
    assert created.status_code == 403 and created.json()["code"] == "permission_denied"
    assert KnowledgeArticle.objects.count() == len(kb)
    article = KnowledgeArticle.objects.get(code="garbage-collection-schedule")
    edited = client.put(
        f"/api/knowledge/{article.pk}/", {**kb["garbage-collection-schedule"], "title": "改"}, format="json"
    )
    assert edited.status_code == 403
    assert KnowledgeArticle.objects.get(pk=article.pk).title == kb["garbage-collection-schedule"]["title"]
