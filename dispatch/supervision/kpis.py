"""Agency KPIs over a period, each defined once as a (denominator, numerator) pair of filters.

The same two filters compute the number on the board (one grouped SQL aggregate for every agency)
and its drill-down (the exact work orders or tickets behind it), so a number can always be traced.
docs/KPIS.md states every definition in words.

The cohort of a period [from, to) (Asia/Shanghai dates) is every work order dispatched to an agency
in it, except work orders the centre withdrew (cancelled). Open clocks are judged at ``as_of``
(the current time): a running clock past its deadline is late already.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.db.models import BooleanField, CharField, Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from callcenter.models import Revisit, Satisfaction, Ticket
from core.clock import local_zone
from dispatch.deadlines.calendar import CalendarYearUnknown, working_hours_between
from dispatch.models import (
    ExtensionRequest,
    ExtensionState,
    Responsibility,
    Stage,
    StageClock,
    WorkOrder,
    WorkOrderState,
)
from dispatch.supervision.scope import EVERY_CITY, CityScope
from organisation.models import Agency, in_language

Unit = Literal["work_order", "ticket"]
Kind = Literal["count", "rate", "mean_hours"]
Part = Literal["numerator", "denominator"]

CONTENT = (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED)
JUDGED_SATISFACTION = (*CONTENT, Satisfaction.UNSATISFIED)


@dataclass(frozen=True)
class Period:
    """Local dates, ``end`` exclusive."""

    start: dt.date
    end: dt.date

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=local_zone())

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time.min, tzinfo=local_zone())


@dataclass(frozen=True)
class Metric:
    code: str
    label: Promise
    unit: Unit
    kind: Kind
    denominator: Q
    numerator: Q

    def part(self, part: Part) -> Q:
        return self.numerator if part == "numerator" else self.denominator


# --- the filters -------------------------------------------------------------------------------------

_LEAD_TICKET = Q(responsibility=Responsibility.LEAD) & ~Q(state=WorkOrderState.RETURNED)
_SIGNED = Q(signed_at__isnull=False)
_AWAITING_SIGN_IN_TIME = Q(state=WorkOrderState.PENDING_SIGN, kpi_sign_overdue_open=False)
_SIGN_JUDGED = (_SIGNED | Q(kpi_sign_overdue_open=True)) & Q(kpi_sign_undated=False)
_COMPLETION_JUDGED = (
    ~Q(state=WorkOrderState.RETURNED)
    & (Q(kpi_replied_once=True) | Q(kpi_handle_overdue_open=True))
    & Q(kpi_handle_undated=False)
)
_HANDLED = Q(signed_at__isnull=False, replied_at__isnull=False)
#: The agency answered the dispatch: it signed, or it asked to return the work order (pending the centre's
#: review or approved). A return the centre rejects puts the work order back where it was, and it is judged
#: from there again.
_RESPONDED = _SIGNED | Q(state__in=(WorkOrderState.RETURN_REQUESTED, WorkOrderState.RETURNED))

METRICS: tuple[Metric, ...] = (
    Metric("volume", _("Work orders"), "work_order", "count", Q(), Q()),
    Metric(
        "response_rate",
        _("Response rate"),
        "work_order",
        "rate",
        ~_AWAITING_SIGN_IN_TIME,
        _RESPONDED,
    ),
    Metric(
        "on_time_sign_rate",
        _("On-time sign rate"),
        "work_order",
        "rate",
        _SIGN_JUDGED,
        _SIGN_JUDGED & _SIGNED & Q(kpi_sign_late=False),
    ),
    Metric(
        "on_time_completion_rate",
        _("On-time completion rate"),
        "work_order",
        "rate",
        _COMPLETION_JUDGED,
        _COMPLETION_JUDGED & Q(kpi_handle_late=False),
    ),
    Metric("return_rate", _("Return rate"), "work_order", "rate", Q(), Q(state=WorkOrderState.RETURNED)),
    Metric("extension_rate", _("Extension rate"), "work_order", "rate", _SIGNED, _SIGNED & Q(kpi_extended=True)),
    Metric("redo_rate", _("Redo rate"), "work_order", "rate", Q(kpi_approved_once=True), Q(redo_count__gt=0)),
    Metric(
        "revisit_rate",
        _("Revisit rate"),
        "ticket",
        "rate",
        _LEAD_TICKET & Q(kpi_due_revisit=True),
        _LEAD_TICKET & Q(kpi_due_revisit=True, kpi_revisited=True),
    ),
    Metric(
        "satisfaction_rate",
        _("Satisfaction rate"),
        "ticket",
        "rate",
        _LEAD_TICKET & Q(kpi_latest_satisfaction__in=JUDGED_SATISFACTION),
        _LEAD_TICKET & Q(kpi_latest_satisfaction__in=CONTENT),
    ),
    Metric(
        "resolution_rate",
        _("Resolution rate"),
        "ticket",
        "rate",
        _LEAD_TICKET & Q(kpi_latest_resolved__isnull=False),
        _LEAD_TICKET & Q(kpi_latest_resolved=True),
    ),
    Metric(
        "average_handling_hours",
        _("Average handling time (working hours)"),
        "work_order",
        "mean_hours",
        _HANDLED,
        _HANDLED,
    ),
)
METRICS_BY_CODE = {metric.code: metric for metric in METRICS}
RATE_CODES = tuple(m.code for m in METRICS if m.kind == "rate")
AGGREGATED = tuple(m for m in METRICS if m.kind != "mean_hours")


def _late(as_of: dt.datetime) -> Q:
    return Q(due_at__isnull=False) & (Q(stopped_at__gt=F("due_at")) | Q(stopped_at__isnull=True, due_at__lt=as_of))


def cohort(period: Period, as_of: dt.datetime, *, city: CityScope = EVERY_CITY) -> QuerySet[WorkOrder]:
    """The period's work orders (to agencies of ``city``) with the facts every metric filters on (``kpi_*``
    annotations). Judged per agency, so by the agency's city: a figure and its drill-down always agree."""

    def clocks(stage: str) -> QuerySet[StageClock]:
        return StageClock.objects.filter(work_order=OuterRef("pk"), stage=stage)

    latest_revisit = Revisit.objects.filter(ticket=OuterRef("ticket_id")).order_by("-id")
    overdue_open = Q(stopped_at__isnull=True, due_at__lt=as_of)
    return (
        WorkOrder.objects.filter(city.q("agency__city"), created_at__gte=period.start_at, created_at__lt=period.end_at)
        .exclude(state=WorkOrderState.CANCELLED)
        .annotate(
            kpi_sign_late=Exists(clocks(Stage.SIGN).filter(_late(as_of))),
            kpi_sign_overdue_open=Exists(clocks(Stage.SIGN).filter(overdue_open)),
            kpi_sign_undated=Exists(clocks(Stage.SIGN).filter(due_at__isnull=True)),
            kpi_handle_late=Exists(clocks(Stage.HANDLE).filter(_late(as_of))),
            kpi_handle_overdue_open=Exists(clocks(Stage.HANDLE).filter(overdue_open)),
            kpi_handle_undated=Exists(clocks(Stage.HANDLE).filter(due_at__isnull=True)),
            kpi_replied_once=Exists(clocks(Stage.HANDLE).filter(stopped_by="reply")),
            kpi_approved_once=Exists(clocks(Stage.REVIEW).filter(stopped_by="approve")),
            kpi_extended=Exists(
                ExtensionRequest.objects.filter(work_order=OuterRef("pk"), state=ExtensionState.APPROVED)
            ),
            kpi_due_revisit=Exists(
                StageClock.objects.filter(ticket=OuterRef("ticket_id"), work_order__isnull=True, stage=Stage.REVISIT)
            ),
            kpi_revisited=Exists(Revisit.objects.filter(ticket=OuterRef("ticket_id"))),
            kpi_latest_satisfaction=Subquery(latest_revisit.values("satisfaction")[:1], output_field=CharField()),
            kpi_latest_resolved=Subquery(latest_revisit.values("resolved")[:1], output_field=BooleanField()),
        )
    )


# --- results -----------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One number on the board: a rate is numerator / denominator; a mean is ``value`` over ``denominator``."""

    numerator: int
    denominator: int
    value: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"numerator": self.numerator, "denominator": self.denominator, "value": self.value}


@dataclass
class AgencyKpis:
    agency_id: int
    agency_code: str
    agency_name: str
    figures: dict[str, Figure]

    @property
    def volume(self) -> int:
        return self.figures["volume"].denominator

    def as_dict(self) -> dict[str, Any]:
        return {
            "agency": {"id": self.agency_id, "code": self.agency_code, "name": self.agency_name},
            **{code: figure.as_dict() for code, figure in self.figures.items()},
        }


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _unit_field(metric: Metric) -> str:
    return "ticket_id" if metric.unit == "ticket" else "pk"


def _handling_hours(rows: Iterable[tuple[int, dt.datetime | None, dt.datetime | None]]) -> dict[int, float]:
    """Working hours from sign to (latest) reply per work order; a date in an unpublished year leaves
    the work order out (the calendar never guesses), in the board and in its drill-down alike."""
    hours: dict[int, float] = {}
    for pk, signed_at, replied_at in rows:
        if signed_at is None or replied_at is None:
            continue
        try:
            hours[pk] = round(working_hours_between(signed_at, replied_at), 2)
        except CalendarYearUnknown:
            continue
    return hours


def agency_kpis(
    period: Period, *, as_of: dt.datetime, agency_ids: Sequence[int] | None = None, city: CityScope = EVERY_CITY
) -> list[AgencyKpis]:
    """Every metric for every agency (of ``city``) with work in the period: three queries whatever the agency
    count."""
    work_orders = cohort(period, as_of, city=city)
    if agency_ids is not None:
        work_orders = work_orders.filter(agency_id__in=agency_ids)
    aggregates: dict[str, Count] = {}
    for metric in AGGREGATED:
        field = _unit_field(metric)
        aggregates[f"{metric.code}__den"] = Count(field, filter=metric.denominator, distinct=True)
        aggregates[f"{metric.code}__num"] = Count(field, filter=metric.numerator, distinct=True)
    rows = {row["agency_id"]: row for row in work_orders.order_by().values("agency_id").annotate(**aggregates)}
    mean = METRICS_BY_CODE["average_handling_hours"]
    handled: dict[int, list[tuple[int, dt.datetime | None, dt.datetime | None]]] = {}
    for agency_id, pk, signed_at, replied_at in (
        work_orders.filter(mean.denominator).order_by().values_list("agency_id", "pk", "signed_at", "replied_at")
    ):
        handled.setdefault(agency_id, []).append((pk, signed_at, replied_at))
    agencies = (
        Agency.objects.filter(pk__in=rows).order_by("sort_order", "code").values_list("pk", "code", "name", "name_en")
    )
    result = []
    for agency_id, code, chinese_name, english_name in agencies:
        name = in_language(chinese_name, english_name)
        row = rows[agency_id]
        figures: dict[str, Figure] = {}
        for metric in METRICS:
            if metric.kind == "mean_hours":
                hours = _handling_hours(handled.get(agency_id, []))
                total = len(hours)
                value = round(sum(hours.values()) / total, 2) if total else None
                figures[metric.code] = Figure(total, total, value)
                continue
            numerator, denominator = row[f"{metric.code}__num"], row[f"{metric.code}__den"]
            value = float(denominator) if metric.kind == "count" else _rate(numerator, denominator)
            figures[metric.code] = Figure(numerator, denominator, value)
        result.append(AgencyKpis(agency_id, code, name, figures))
    return result


# --- ranking -----------------------------------------------------------------------------------------

RANKING_KEYS = ("on_time_completion_rate", "on_time_sign_rate", "satisfaction_rate")


def ranking(kpis: Iterable[AgencyKpis], *, min_volume: int, by: str = RANKING_KEYS[0]) -> list[dict[str, Any]]:
    """Agencies with at least ``min_volume`` work orders, best first by ``by`` (then the other keys).

    Agencies with no figure for a key sort after those with one; ties share the same rank.
    """
    keys = (by, *(key for key in RANKING_KEYS if key != by))
    eligible = [row for row in kpis if row.volume >= min_volume]

    def sort_key(row: AgencyKpis) -> tuple[Any, ...]:
        values = [row.figures[key].value for key in keys]
        return (*((value is None, -(value or 0.0)) for value in values), row.agency_code)

    eligible.sort(key=sort_key)
    result: list[dict[str, Any]] = []
    previous: tuple[Any, ...] | None = None
    rank = 0
    for position, row in enumerate(eligible, start=1):
        signature = tuple(row.figures[key].value for key in keys)
        if signature != previous:
            rank, previous = position, signature
        result.append(
            {
                "rank": rank,
                "agency": {"id": row.agency_id, "code": row.agency_code, "name": row.agency_name},
                "volume": row.volume,
                **{key: row.figures[key].as_dict() for key in keys},
            }
        )
    return result


# --- drill-down --------------------------------------------------------------------------------------


def drilldown(
    metric_code: str,
    part: Part,
    period: Period,
    *,
    as_of: dt.datetime,
    agency_id: int | None,
    city: CityScope = EVERY_CITY,
) -> list[dict[str, Any]]:
    """Exactly the work orders (or tickets) counted in one part of one agency's figure (or of every agency's
    of ``city``)."""
    metric = METRICS_BY_CODE[metric_code]
    work_orders = cohort(period, as_of, city=city).filter(metric.part(part))
    if agency_id is not None:
        work_orders = work_orders.filter(agency_id=agency_id)
    if metric.unit == "ticket":
        tickets = (
            Ticket.objects.filter(pk__in=work_orders.values("ticket_id"))
            .annotate(
                latest_satisfaction=Subquery(
                    Revisit.objects.filter(ticket=OuterRef("pk")).order_by("-id").values("satisfaction")[:1]
                ),
                latest_resolved=Subquery(
                    Revisit.objects.filter(ticket=OuterRef("pk")).order_by("-id").values("resolved")[:1],
                    output_field=BooleanField(),
                ),
            )
            .order_by("pk")
        )
        return [
            {
                "ticket_id": ticket.pk,
                "ticket_number": ticket.number,
                "ticket_state": ticket.state,
                "title": ticket.title,
                "latest_satisfaction": ticket.latest_satisfaction,  # type: ignore[attr-defined]
                "latest_resolved": ticket.latest_resolved,  # type: ignore[attr-defined]
            }
            for ticket in tickets
        ]
    rows = list(work_orders.select_related("ticket", "agency").order_by("pk"))
    hours: dict[int, float] = {}
    if metric.kind == "mean_hours":
        hours = _handling_hours((wo.pk, wo.signed_at, wo.replied_at) for wo in rows)
        rows = [wo for wo in rows if wo.pk in hours]
    return [
        {
            "work_order_id": wo.pk,
            "work_order_number": wo.number,
            "ticket_id": wo.ticket_id,
            "ticket_number": wo.ticket.number,
            "agency_code": wo.agency.code,
            "state": wo.state,
            "dispatched_at": wo.created_at,
            "signed_at": wo.signed_at,
            "replied_at": wo.replied_at,
            "handling_hours": hours.get(wo.pk),
        }
        for wo in rows
    ]


# --- trend -------------------------------------------------------------------------------------------

TREND_CODES = ("on_time_sign_rate", "on_time_completion_rate")


def daily_trend(
    period: Period, *, as_of: dt.datetime, agency_id: int | None = None, city: CityScope = EVERY_CITY
) -> list[dict[str, Any]]:
    """Per dispatch day: the on-time rates of the work orders (to agencies of ``city``) dispatched that day (one
    query)."""
    work_orders = cohort(period, as_of, city=city)
    if agency_id is not None:
        work_orders = work_orders.filter(agency_id=agency_id)
    aggregates: dict[str, Count] = {"volume": Count("pk")}
    for code in TREND_CODES:
        metric = METRICS_BY_CODE[code]
        aggregates[f"{code}__den"] = Count("pk", filter=metric.denominator)
        aggregates[f"{code}__num"] = Count("pk", filter=metric.numerator)
    rows = {
        row["day"]: row
        for row in work_orders.annotate(day=TruncDate("created_at", tzinfo=local_zone()))
        .order_by()
        .values("day")
        .annotate(**aggregates)
    }
    days = []
    day = period.start
    while day < period.end:
        row = rows.get(day, {})
        entry: dict[str, Any] = {"day": day.isoformat(), "volume": row.get("volume", 0)}
        for code in TREND_CODES:
            numerator, denominator = row.get(f"{code}__num", 0), row.get(f"{code}__den", 0)
            entry[code] = {"numerator": numerator, "denominator": denominator, "value": _rate(numerator, denominator)}
        days.append(entry)
        day += dt.timedelta(days=1)
    return days
