"""The board's tables as rows and translated headers, shared by the CSV and XLSX exports."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from callcenter.models import Satisfaction, TicketState
from dispatch.models import Stage, WorkOrderState
from dispatch.supervision.exports import Table
from dispatch.supervision.kpis import METRICS, METRICS_BY_CODE, RANKING_KEYS, TREND_CODES, AgencyKpis


def _label(code: str) -> str:
    return str(METRICS_BY_CODE[code].label)


def _stage(code: str) -> str:
    return str(Stage(code).label) if code in Stage.values else code


def _choice(choices: type[Any], code: str | None) -> str:
    return str(choices(code).label) if code in choices.values else (code or "")


def kpi_table(rows: list[AgencyKpis]) -> Table:
    headers = [_("Agency code"), _("Agency")]
    for metric in METRICS:
        if metric.kind == "count":
            headers.append(str(metric.label))
        elif metric.kind == "mean_hours":
            headers += [str(metric.label), _("%(metric)s: work orders") % {"metric": metric.label}]
        else:
            headers += [
                str(metric.label),
                _("%(metric)s: numerator") % {"metric": metric.label},
                _("%(metric)s: denominator") % {"metric": metric.label},
            ]
    body = []
    for row in rows:
        cells: list[Any] = [row.agency_code, row.agency_name]
        for metric in METRICS:
            figure = row.figures[metric.code]
            if metric.kind == "count":
                cells.append(figure.denominator)
            elif metric.kind == "mean_hours":
                cells += [figure.value, figure.denominator]
            else:
                cells += [figure.value, figure.numerator, figure.denominator]
        body.append(cells)
    return Table("kpis", _("Agency KPIs"), headers, body)


def ranking_table(ranked: list[dict[str, Any]]) -> Table:
    headers = [_("Rank"), _("Agency code"), _("Agency"), _("Work orders")]
    for key in RANKING_KEYS:
        headers += [
            _label(key),
            _("%(metric)s: numerator") % {"metric": _label(key)},
            _("%(metric)s: denominator") % {"metric": _label(key)},
        ]
    body = []
    for entry in ranked:
        cells: list[Any] = [entry["rank"], entry["agency"]["code"], entry["agency"]["name"], entry["volume"]]
        for key in RANKING_KEYS:
            cells += [entry[key]["value"], entry[key]["numerator"], entry[key]["denominator"]]
        body.append(cells)
    return Table("ranking", _("Ranking"), headers, body)


def escalation_table(lists: dict[str, Any]) -> Table:
    headers = [
        _("Level"),
        _("Stage"),
        _("Agency"),
        _("Work order"),
        _("Ticket"),
        _("Deadline"),
        _("Fired at"),
    ]
    body = [
        [
            row["level_label"],
            _stage(row["stage"]),
            row["agency"]["name"] if row["agency"] else "",
            row["work_order_number"],
            row["ticket_number"],
            row["due_at"],
            row["fired_at"],
        ]
        for key in ("red", "yellow", "warning")
        for row in lists[key]
    ]
    return Table("escalations", _("Yellow and red cards"), headers, body)


def cases_table(cases: list[dict[str, Any]]) -> Table:
    headers = [_("Agency"), _("Work order"), _("Ticket"), _("Instruction"), _("Opened at"), _("Answer due")]
    body = [
        [
            case["agency"]["name"],
            case["work_order_number"],
            case["ticket_number"],
            case["instruction"],
            case["opened_at"],
            case["answer_due_at"],
        ]
        for case in cases
    ]
    return Table("cases", _("Open supervision cases"), headers, body)


def reprimands_table(entries: list[dict[str, Any]]) -> Table:
    headers = [_("Agency"), _("Work order"), _("Listed at")]
    body = [[e["agency"]["name"], e["work_order_number"], e["listed_at"]] for e in entries]
    return Table("reprimands", _("Reprimand list"), headers, body)


def drilldown_table(metric_code: str, part: str, items: list[dict[str, Any]]) -> Table:
    metric = METRICS_BY_CODE[metric_code]
    part_label = _("numerator") if part == "numerator" else _("denominator")
    title = f"{metric.label} - {part_label}"
    if metric.unit == "ticket":
        headers = [_("Ticket"), _("Ticket state"), _("Title"), _("Latest satisfaction"), _("Resolved")]
        body = [
            [
                i["ticket_number"],
                _choice(TicketState, i["ticket_state"]),
                i["title"],
                _choice(Satisfaction, i["latest_satisfaction"]),
                i["latest_resolved"],
            ]
            for i in items
        ]
    else:
        headers = [
            _("Work order"),
            _("Ticket"),
            _("Agency code"),
            _("State"),
            _("Dispatched at"),
            _("Signed at"),
            _("Replied at"),
            _("Handling time (working hours)"),
        ]
        body = [
            [
                i["work_order_number"],
                i["ticket_number"],
                i["agency_code"],
                _choice(WorkOrderState, i["state"]),
                i["dispatched_at"],
                i["signed_at"],
                i["replied_at"],
                i["handling_hours"],
            ]
            for i in items
        ]
    return Table("drilldown", title, headers, body)


def trend_table(days: list[dict[str, Any]]) -> Table:
    headers = [_("Day"), _("Work orders")]
    for code in TREND_CODES:
        headers += [
            _label(code),
            _("%(metric)s: numerator") % {"metric": _label(code)},
            _("%(metric)s: denominator") % {"metric": _label(code)},
        ]
    body = []
    for day in days:
        cells: list[Any] = [day["day"], day["volume"]]
        for code in TREND_CODES:
            cells += [day[code]["value"], day[code]["numerator"], day[code]["denominator"]]
        body.append(cells)
    return Table("trend", _("Daily trend"), headers, body)
