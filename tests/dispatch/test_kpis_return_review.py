"""KPIs while a return awaits the centre's review (``return_requested``, docs/KPIS.md).

A return request is the agency answering the dispatch: it counts as a response at once. It is not a return
until the centre approves it (return rate), and meanwhile the work order's clocks run on, so it is judged on
time or late as the state it was in when the agency asked (sign-off or handling). A rejected return puts the
work order back there; an approved one leaves the on-time figures like every returned work order.
"""

from __future__ import annotations

import datetime as dt

from core import clock
from dispatch import actions as dispatching
from dispatch.models import Stage, StageClock, WorkOrder
from dispatch.supervision.kpis import METRICS, agency_kpis, drilldown
from tests.conftest import World
from tests.dispatch.supervision_data import PERIOD, _Builder, at

EARLY = at(2, 10, 30)  # after the requests, before any deadline


def _figures(as_of: dt.datetime) -> dict[str, tuple[int, int]]:
    (row,) = agency_kpis(PERIOD, as_of=as_of)
    for metric in METRICS:  # each figure is exactly its drill-down
        for part in ("numerator", "denominator"):
            items = drilldown(metric.code, part, PERIOD, as_of=as_of, agency_id=row.agency_id)  # type: ignore[arg-type]
            figure = row.figures[metric.code]
            assert len(items) == (figure.numerator if part == "numerator" else figure.denominator), metric.code
    return {code: (figure.numerator, figure.denominator) for code, figure in row.figures.items()}


def _due(work_order: WorkOrder, stage: str) -> dt.datetime:
    running = StageClock.objects.get(work_order=work_order, stage=stage, stopped_at__isnull=True)
    assert running.due_at is not None
    return running.due_at


def _request_return(b: _Builder, name: str, when: dt.datetime) -> None:
    b.act(
        when,
        dispatching.do_return_work_order,
        b.data.work_orders[name].pk,
        actor=b.users["handler_a"],
        reason="不属于本单位职责",
        legal_basis="三定方案",
    )


def test_a_return_awaiting_review_is_a_response_but_not_yet_a_return(world: World) -> None:
    b = _Builder(world)
    b.ticket("T1", at(2, 9), "a")  # return requested before signing
    b.ticket("T2", at(2, 9), "a")  # signed, then return requested
    _request_return(b, "WO1", at(2, 10))
    b.sign("WO2", at(2, 10))
    _request_return(b, "WO2", at(2, 10, 15))
    wo1, wo2 = b.data.work_orders["WO1"], b.data.work_orders["WO2"]

    early = _figures(EARLY)
    assert early["volume"] == (2, 2)
    assert early["response_rate"] == (2, 2)  # both agencies answered the dispatch (was 1 of 2: WO1 unanswered)
    assert early["return_rate"] == (0, 2)  # nothing returned until the centre agrees
    assert early["on_time_sign_rate"] == (1, 1)  # WO1 is not late yet: not judged
    assert early["on_time_completion_rate"] == (0, 0)

    # The clocks run on during the review: past the deadlines, the unsigned one is a late sign-off and the
    # signed one late work, as if no return had been asked for.
    late = max(_due(wo1, Stage.SIGN), _due(wo2, Stage.HANDLE)) + dt.timedelta(hours=1)
    after = _figures(late)
    assert after["response_rate"] == (2, 2)
    assert after["on_time_sign_rate"] == (1, 2)
    assert after["on_time_completion_rate"] == (0, 1)
    assert after["return_rate"] == (0, 2)


def test_an_approved_return_counts_as_a_return_and_a_rejected_one_is_judged_again(world: World) -> None:
    b = _Builder(world)
    b.ticket("T1", at(2, 9), "a")
    b.ticket("T2", at(2, 9), "a")
    _request_return(b, "WO1", at(2, 10))
    _request_return(b, "WO2", at(2, 10))
    b.act(at(2, 10, 20), dispatching.do_approve_return, b.data.work_orders["WO1"].pk, actor=world.users["dispatcher"])
    b.act(
        at(2, 10, 20),
        dispatching.do_reject_return,
        b.data.work_orders["WO2"].pk,
        actor=world.users["dispatcher"],
        reason="属于本单位职责",
    )
    assert WorkOrder.objects.get(pk=b.data.work_orders["WO2"].pk).state == "pending_sign"

    early = _figures(EARLY)
    # WO1 returned: a response and a return. WO2 awaits sign-off again within its deadline: not judged yet.
    assert early["response_rate"] == (1, 1)
    assert early["return_rate"] == (1, 2)
    with clock.pinned_at(EARLY):
        wo2_due = _due(b.data.work_orders["WO2"], Stage.SIGN)
    late = _figures(wo2_due + dt.timedelta(hours=1))
    assert late["response_rate"] == (1, 2)  # the rejected return is no answer: WO2 must still be signed
    assert late["on_time_sign_rate"] == (0, 1)
