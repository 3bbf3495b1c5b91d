"""KPI definitions on a hand-built data set where every number is known (tests/dispatch/supervision_data.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dispatch.deadlines.calendar import working_hours_between
from dispatch.models import WorkOrder
from dispatch.supervision import kpis
from dispatch.supervision.kpis import METRICS, Period, agency_kpis, daily_trend, drilldown, ranking
from tests.conftest import World
from tests.dispatch.supervision_data import AS_OF, PERIOD, Dataset, build

# (numerator, denominator) per agency code, written out by hand from the data set's story.
EXPECTED = {
    "cgj": {
        "volume": (7, 7),
        "response_rate": (6, 7),
        "on_time_sign_rate": (4, 6),
        "on_time_completion_rate": (3, 5),
        "return_rate": (1, 7),
        "extension_rate": (1, 5),
        "redo_rate": (1, 4),
        "revisit_rate": (3, 4),
        "satisfaction_rate": (2, 3),
        "resolution_rate": (2, 3),
    },
    "zjj": {
        "volume": (2, 2),
        "response_rate": (2, 2),
        "on_time_sign_rate": (2, 2),
        "on_time_completion_rate": (2, 2),
        "return_rate": (0, 2),
        "extension_rate": (0, 2),
        "redo_rate": (0, 2),
        "revisit_rate": (0, 2),
        "satisfaction_rate": (0, 0),
        "resolution_rate": (0, 0),
    },
    "sjj": {
        "volume": (1, 1),
        "response_rate": (1, 1),
        "on_time_sign_rate": (1, 1),
        "on_time_completion_rate": (1, 1),
        "return_rate": (0, 1),
        "extension_rate": (0, 1),
        "redo_rate": (0, 1),
        "revisit_rate": (0, 0),
        "satisfaction_rate": (0, 0),
        "resolution_rate": (0, 0),
    },
}
# Which work orders / tickets each of agency A's figures counts, by the data set's names.
A_MEMBERS = {
    "response_rate": (["WO1", "WO2", "WO3", "WO4", "WO6", "WO9"], ["WO1", "WO2", "WO3", "WO4", "WO5", "WO6", "WO9"]),
    "on_time_sign_rate": (["WO1", "WO3", "WO4", "WO9"], ["WO1", "WO2", "WO3", "WO4", "WO5", "WO9"]),
    "on_time_completion_rate": (["WO1", "WO2", "WO3"], ["WO1", "WO2", "WO3", "WO4", "WO9"]),
    "return_rate": (["WO6"], ["WO1", "WO2", "WO3", "WO4", "WO5", "WO6", "WO9"]),
    "extension_rate": (["WO3"], ["WO1", "WO2", "WO3", "WO4", "WO9"]),
    "redo_rate": (["WO2"], ["WO1", "WO2", "WO3", "WO9"]),
    "average_handling_hours": (["WO1", "WO2", "WO3", "WO9"], ["WO1", "WO2", "WO3", "WO9"]),
}
A_TICKET_MEMBERS = {
    "revisit_rate": (["T1", "T2", "T9"], ["T1", "T2", "T3", "T9"]),
    "satisfaction_rate": (["T1", "T2"], ["T1", "T2", "T9"]),
    "resolution_rate": (["T1", "T2"], ["T1", "T2", "T9"]),
}


@pytest.fixture
def data(world: World) -> Dataset:
    return build(world)


def _by_code(rows: list[kpis.AgencyKpis]) -> dict[str, kpis.AgencyKpis]:
    return {row.agency_code: row for row in rows}


def test_every_rate_is_exactly_what_the_data_set_says(data: Dataset) -> None:
    rows = _by_code(agency_kpis(PERIOD, as_of=AS_OF))
    assert set(rows) == {"cgj", "zjj", "sjj"}  # the centre has no work orders
    for code, expected in EXPECTED.items():
        got = {
            metric: (rows[code].figures[metric].numerator, rows[code].figures[metric].denominator)
            for metric in expected
        }
        assert got == expected, code
    a = rows["cgj"].figures
    assert a["on_time_completion_rate"].value == 0.6
    assert a["response_rate"].value == round(6 / 7, 4)
    assert rows["zjj"].figures["satisfaction_rate"].value is None  # nothing to judge is not 0%


def test_average_handling_time_is_in_working_hours_from_sign_to_reply(data: Dataset) -> None:
    figure = _by_code(agency_kpis(PERIOD, as_of=AS_OF))["cgj"].figures["average_handling_hours"]
    handled = WorkOrder.objects.filter(pk__in=data.wo_ids("WO1", "WO2", "WO3", "WO9")).order_by("pk")
    hours = [working_hours_between(wo.signed_at, wo.replied_at) for wo in handled]  # type: ignore[arg-type]
    assert figure.denominator == 4
    assert figure.value == round(sum(round(h, 2) for h in hours) / 4, 2)
    # WO1: signed Monday 10:00, replied 11:00, a working day: exactly one working hour.
    wo1 = drilldown("average_handling_hours", "numerator", PERIOD, as_of=AS_OF, agency_id=data.world.agency_a.pk)
    assert next(row for row in wo1 if row["work_order_id"] == data.work_orders["WO1"].pk)["handling_hours"] == 1.0


@pytest.mark.parametrize("metric", sorted(A_MEMBERS))
def test_drilldown_returns_exactly_the_counted_work_orders(data: Dataset, metric: str) -> None:
    numerator, denominator = A_MEMBERS[metric]
    agency = data.world.agency_a.pk
    for part, names in (("numerator", numerator), ("denominator", denominator)):
        rows = drilldown(metric, part, PERIOD, as_of=AS_OF, agency_id=agency)  # type: ignore[arg-type]
        assert [row["work_order_id"] for row in rows] == data.wo_ids(*names), (metric, part)
        assert {row["ticket_id"] for row in rows} == {data.work_orders[n].ticket_id for n in names}


@pytest.mark.parametrize("metric", sorted(A_TICKET_MEMBERS))
def test_drilldown_returns_exactly_the_counted_tickets(data: Dataset, metric: str) -> None:
    numerator, denominator = A_TICKET_MEMBERS[metric]
    for part, names in (("numerator", numerator), ("denominator", denominator)):
        rows = drilldown(metric, part, PERIOD, as_of=AS_OF, agency_id=data.world.agency_a.pk)  # type: ignore[arg-type]
        assert [row["ticket_id"] for row in rows] == data.ticket_ids(*names), (metric, part)


def test_every_figure_equals_the_size_of_its_drilldown(data: Dataset) -> None:
    for row in agency_kpis(PERIOD, as_of=AS_OF):
        for metric in METRICS:
            figure = row.figures[metric.code]
            for part in ("numerator", "denominator"):
                items = drilldown(metric.code, part, PERIOD, as_of=AS_OF, agency_id=row.agency_id)  # type: ignore[arg-type]
                expected = figure.numerator if part == "numerator" else figure.denominator
                assert len(items) == expected, (row.agency_code, metric.code, part)


def test_the_period_is_local_dates_with_an_exclusive_end(data: Dataset) -> None:
    # WO8 was dispatched 2026-03-09 00:30 in Shanghai (2026-03-08 in UTC).
    until_9th = _by_code(agency_kpis(Period(PERIOD.start, dt.date(2026, 3, 9)), as_of=AS_OF))
    until_10th = _by_code(agency_kpis(Period(PERIOD.start, dt.date(2026, 3, 10)), as_of=AS_OF))
    assert until_9th["cgj"].volume == 7
    assert until_10th["cgj"].volume == 8
    only_9th = agency_kpis(Period(dt.date(2026, 3, 9), dt.date(2026, 3, 10)), as_of=AS_OF)
    assert [(r.agency_code, r.volume) for r in only_9th] == [("cgj", 1)]


def test_open_clocks_are_judged_when_asked(data: Dataset) -> None:
    # Before WO4's handling deadline and WO5's sign deadline, neither is late yet, nor counted.
    early = dt.datetime(2026, 3, 2, 12, 0, tzinfo=AS_OF.tzinfo)
    a = _by_code(agency_kpis(PERIOD, as_of=early))["cgj"].figures
    wo4_wo5 = set(data.wo_ids("WO4", "WO5"))
    agency = data.world.agency_a.pk
    denominators = {
        metric: {r["work_order_id"] for r in drilldown(metric, "denominator", PERIOD, as_of=early, agency_id=agency)}
        for metric in ("on_time_sign_rate", "on_time_completion_rate", "response_rate")
    }
    assert not wo4_wo5 & denominators["on_time_completion_rate"]
    assert data.work_orders["WO5"].pk not in denominators["on_time_sign_rate"]
    assert data.work_orders["WO5"].pk not in denominators["response_rate"]
    assert a["volume"].denominator == 7


def test_minimum_volume_rule_and_ties(data: Dataset) -> None:
    rows = agency_kpis(PERIOD, as_of=AS_OF)
    assert ranking(rows, min_volume=10) == []
    two = ranking(rows, min_volume=2)
    assert [(r["rank"], r["agency"]["code"]) for r in two] == [(1, "zjj"), (2, "cgj")]
    everyone = ranking(rows, min_volume=0)
    # zjj and sjj are both 100% on time and have no satisfaction figure: the same rank.
    assert [(r["rank"], r["agency"]["code"]) for r in everyone] == [(1, "sjj"), (1, "zjj"), (3, "cgj")]
    by_sign = ranking(rows, min_volume=2, by="on_time_sign_rate")
    assert [r["agency"]["code"] for r in by_sign] == ["zjj", "cgj"]
    assert two[1]["on_time_completion_rate"] == {"numerator": 3, "denominator": 5, "value": 0.6}


def test_daily_trend_counts_by_dispatch_day(data: Dataset) -> None:
    days = {row["day"]: row for row in daily_trend(PERIOD, as_of=AS_OF)}
    assert list(days) == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]
    # On the 2nd: A's seven work orders and C's one; on the 3rd: B's two.
    assert days["2026-03-02"]["volume"] == 8
    assert days["2026-03-02"]["on_time_completion_rate"] == {"numerator": 4, "denominator": 6, "value": 0.6667}
    assert days["2026-03-03"]["on_time_sign_rate"] == {"numerator": 2, "denominator": 2, "value": 1.0}
    assert days["2026-03-04"]["volume"] == 0 and days["2026-03-04"]["on_time_sign_rate"]["value"] is None
    only_a = daily_trend(PERIOD, as_of=AS_OF, agency_id=data.world.agency_a.pk)
    assert only_a[0]["on_time_completion_rate"]["denominator"] == 5


def _domain_queries(context: CaptureQueriesContext) -> list[str]:
    # The working calendar re-reads its (cached) tables on its own schedule; that is not ours to count.
    calendar_tables = ("dispatch_calendarday", "dispatch_calendaryear", "dispatch_workingperiod")
    return [q["sql"] for q in context.captured_queries if not any(t in q["sql"] for t in calendar_tables)]


def test_query_count_does_not_grow_with_agencies(data: Dataset) -> None:
    with CaptureQueriesContext(connection) as one:
        agency_kpis(PERIOD, as_of=AS_OF, agency_ids=[data.world.agency_b.pk])
    with CaptureQueriesContext(connection) as three:
        agency_kpis(PERIOD, as_of=AS_OF)
    assert len(_domain_queries(one)) == len(_domain_queries(three)) == 3
