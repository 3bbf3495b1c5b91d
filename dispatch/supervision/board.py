"""The live lists of the e-supervision board: yellow and red cards whose clocks still run, open
supervision cases (督办) and the reprimand list (通报). A constant number of queries."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet

from dispatch.deadlines.calendar import provisional_years_between
from dispatch.models import (
    Escalation,
    EscalationLevel,
    Reprimand,
    StageClock,
    SupervisionCase,
    SupervisionState,
)
from dispatch.supervision.scope import EVERY_CITY, CityScope

#: A clock shows only its highest fired level: a red card hides the same clock's yellow card and warning.
_HIGHER = {
    EscalationLevel.WARNING: (EscalationLevel.OVERDUE, EscalationLevel.SERIOUS),
    EscalationLevel.OVERDUE: (EscalationLevel.SERIOUS,),
    EscalationLevel.SERIOUS: (),
}
LEVEL_ORDER = (EscalationLevel.SERIOUS, EscalationLevel.OVERDUE, EscalationLevel.WARNING)


def live_escalations(*, agency_id: int | None = None, city: CityScope = EVERY_CITY) -> QuerySet[Escalation]:
    """Escalations whose stage clock still runs, each clock at its highest level, most serious first (of the
    tickets of ``city``)."""
    superseded = Q()
    for level, higher in _HIGHER.items():
        if higher:
            superseded |= Q(level=level) & Q(
                Exists(Escalation.objects.filter(clock_id=OuterRef("clock_id"), level__in=higher))
            )
    rows = (
        Escalation.objects.filter(city.q("ticket__city"), clock__stopped_at__isnull=True)
        .exclude(superseded)
        .select_related("agency", "ticket", "work_order", "clock")
    )
    if agency_id is not None:
        rows = rows.filter(agency_id=agency_id)
    return rows.order_by("due_at", "id")


def escalation_row(escalation: Escalation) -> dict[str, Any]:
    agency = escalation.agency
    return {
        "id": escalation.pk,
        "level": escalation.level,
        "level_label": str(EscalationLevel(escalation.level).label),
        "stage": escalation.stage,
        "agency": {"id": agency.pk, "code": agency.code, "name": agency.display_name} if agency else None,
        "ticket_id": escalation.ticket_id,
        "ticket_number": escalation.ticket.number,
        "work_order_id": escalation.work_order_id,
        "work_order_number": escalation.work_order.number if escalation.work_order else None,
        "due_at": escalation.due_at,
        "provisional": escalation.clock.due_provisional,
        "fired_at": escalation.fired_at,
        "supervision_case_id": escalation.supervision_case_id,
    }


def open_cases(*, agency_id: int | None = None, city: CityScope = EVERY_CITY) -> list[dict[str, Any]]:
    cases = SupervisionCase.objects.filter(city.q("work_order__ticket__city"), state=SupervisionState.OPEN)
    cases = cases.select_related("work_order", "work_order__agency", "work_order__ticket")
    if agency_id is not None:
        cases = cases.filter(work_order__agency_id=agency_id)
    return [
        {
            "id": case.pk,
            "agency": {
                "id": case.work_order.agency_id,
                "code": case.work_order.agency.code,
                "name": case.work_order.agency.display_name,
            },
            "work_order_id": case.work_order_id,
            "work_order_number": case.work_order.number,
            "ticket_id": case.work_order.ticket_id,
            "ticket_number": case.work_order.ticket.number,
            "instruction": case.instruction,
            "opened_at": case.opened_at,
            "answer_due_at": case.answer_due_at,
        }
        for case in cases.order_by("opened_at", "id")
    ]


def reprimand_list(*, agency_id: int | None = None, city: CityScope = EVERY_CITY) -> list[dict[str, Any]]:
    """Agencies (of ``city``) currently on the reprimand list, with the entries that put them there."""
    entries = Reprimand.objects.filter(city.q("agency__city"), cleared_at__isnull=True)
    entries = entries.select_related("agency", "work_order")
    if agency_id is not None:
        entries = entries.filter(agency_id=agency_id)
    return [
        {
            "id": entry.pk,
            "agency": {"id": entry.agency_id, "code": entry.agency.code, "name": entry.agency.display_name},
            "work_order_id": entry.work_order_id,
            "work_order_number": entry.work_order.number if entry.work_order else None,
            "escalation_id": entry.escalation_id,
            "listed_at": entry.listed_at,
        }
        for entry in entries.order_by("-listed_at", "-id")
    ]


def provisional_deadlines(*, agency_id: int | None = None, city: CityScope = EVERY_CITY) -> dict[str, Any]:
    """Open deadlines (of the tickets of ``city``) computed on the provisional calendar, and the unpublished
    years they touch: the board's banner asks an administrator to publish those years."""
    clocks = StageClock.objects.filter(city.q("ticket__city"), stopped_at__isnull=True, due_provisional=True)
    if agency_id is not None:
        clocks = clocks.filter(work_order__agency_id=agency_id)
    span = clocks.aggregate(count=Count("id"), first=Min("started_at"), last=Max("due_at"))
    if not span["count"]:
        return {"count": 0, "years": []}
    return {"count": span["count"], "years": provisional_years_between(span["first"], span["last"])}


def board_lists(*, agency_id: int | None = None, city: CityScope = EVERY_CITY) -> dict[str, Any]:
    """Everything the live half of the board shows (of ``city``), grouped as the screen needs it."""
    escalations = [escalation_row(e) for e in live_escalations(agency_id=agency_id, city=city)]
    by_level: dict[str, list[dict[str, Any]]] = {level.value: [] for level in LEVEL_ORDER}
    counts: Counter[tuple[int | None, str, str]] = Counter()
    for row in escalations:
        by_level[row["level"]].append(row)
        counts[(row["agency"]["id"] if row["agency"] else None, row["stage"], row["level"])] += 1
    summary = [
        {"agency_id": agency, "stage": stage, "level": level, "count": count}
        for (agency, stage, level), count in sorted(counts.items(), key=lambda item: (str(item[0][0]), *item[0][1:]))
    ]
    return {
        "red": by_level[EscalationLevel.SERIOUS],
        "yellow": by_level[EscalationLevel.OVERDUE],
        "warning": by_level[EscalationLevel.WARNING],
        "by_agency_stage": summary,
        "cases": open_cases(agency_id=agency_id, city=city),
        "reprimands": reprimand_list(agency_id=agency_id, city=city),
        "provisional_deadlines": provisional_deadlines(agency_id=agency_id, city=city),
    }
