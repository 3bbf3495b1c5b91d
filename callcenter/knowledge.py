"""Knowledge-base search that works for Chinese on SQLite and PostgreSQL alike.

Chinese has no spaces, so articles are indexed by overlapping character bigrams (and whole Latin
words and numbers), the classic CJK indexing scheme. Scores are BM25-like: inverse document frequency
times a saturating, field-weighted term frequency, scaled by how much of the query an article covers,
so that "垃圾清运时间" ranks the article on collection times above every other article about rubbish.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q

from callcenter.models import KnowledgeArticle, KnowledgeTerm

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
_CJK_RUN = re.compile(rf"^[{_CJK}]+$")

FIELD_WEIGHTS = {"title": 3.0, "keywords": 2.0, "body": 1.0}
_SATURATION = 1.2
MAX_TERM_LENGTH = 40


def terms_of(text: str) -> Counter[str]:
    normalised = unicodedata.normalize("NFKC", text or "").lower()
    terms: Counter[str] = Counter()
    for run in _TOKEN.findall(normalised):
        if _CJK_RUN.match(run):
            if len(run) == 1:
                terms[run] += 1
            else:
                terms.update(run[i : i + 2] for i in range(len(run) - 1))
        else:
            terms[run[:MAX_TERM_LENGTH]] += 1
    return terms


def weighted_terms(title: str, keywords: str, body: str) -> dict[str, float]:
    weights: dict[str, float] = defaultdict(float)
    for field_name, text in (("title", title), ("keywords", keywords), ("body", body)):
        for term, count in terms_of(text).items():
            saturated = count * (_SATURATION + 1) / (count + _SATURATION)
            weights[term] += FIELD_WEIGHTS[field_name] * saturated
    return dict(weights)


@dataclass(frozen=True)
class SearchHit:
    article: KnowledgeArticle
    score: float
    matched_terms: int


def search_articles(query: str, *, today: dt.date, subject_id: int | None = None, limit: int = 10) -> list[SearchHit]:
    query_terms = list(terms_of(query))
    if not query_terms:
        return []
    valid = (
        Q(article__active=True)
        & (Q(article__valid_from__isnull=True) | Q(article__valid_from__lte=today))
        & (Q(article__valid_to__isnull=True) | Q(article__valid_to__gte=today))
    )
    if subject_id is not None:
        valid &= Q(article__subjects=subject_id)
    total = KnowledgeArticle.objects.filter(active=True).count() or 1
    document_frequency = dict(
        KnowledgeTerm.objects.filter(term__in=query_terms).values_list("term").annotate(n=Count("id"))
    )
    scores: dict[int, float] = defaultdict(float)
    matched: dict[int, int] = defaultdict(int)
    for article_id, term, weight in KnowledgeTerm.objects.filter(valid, term__in=query_terms).values_list(
        "article_id", "term", "weight"
    ):
        df = document_frequency.get(term, 0)
        idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
        scores[article_id] += idf * weight
        matched[article_id] += 1
    ranked = sorted(
        ((score * (matched[aid] / len(query_terms)) ** 2, aid) for aid, score in scores.items()),
        key=lambda pair: (-pair[0], pair[1]),
    )[:limit]
    articles = KnowledgeArticle.objects.prefetch_related("subjects").in_bulk([aid for _, aid in ranked])
    return [SearchHit(articles[aid], round(score, 4), matched[aid]) for score, aid in ranked if aid in articles]
