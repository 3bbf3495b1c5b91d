"""The demo city's history ends with yellow and red cards that agree with its timelines and clocks."""

from __future__ import annotations

import io

from django.core.management import call_command

from core import clock
from dispatch.deadlines.policies import serious_at
from dispatch.models import Escalation, StageClock, SupervisionCase, TimelineEntry
from tests.pinned_time import DEMO_NOW


def test_demo_history_has_cards_that_agree_with_timelines(db: object) -> None:
    with clock.pinned_at(DEMO_NOW):
        out = io.StringIO()
        call_command("load_demo_city", tickets=60, stdout=out)
        assert "Escalations fired up to now" in out.getvalue()
        now = clock.now()
        escalations = list(Escalation.objects.select_related("clock"))
        assert {e.level for e in escalations} >= {"warning", "overdue"}
        timeline = {
            row.data["escalation_id"]: row for row in TimelineEntry.objects.filter(action__startswith="escalate_")
        }
        assert set(timeline) == {e.pk for e in escalations}
        for escalation in escalations:
            row, stage_clock = timeline[escalation.pk], escalation.clock
            assert row.action == f"escalate_{escalation.level}" and row.created_at == escalation.fired_at
            assert row.work_order_id == escalation.work_order_id and row.ticket_id == escalation.ticket_id
            # Fired punctually, while the stage was still running.
            expected = {
                "warning": stage_clock.warn_at,
                "overdue": stage_clock.due_at,
                "serious": serious_at(stage_clock.due_at) if stage_clock.due_at else None,
            }[escalation.level]
            assert escalation.fired_at == expected
            assert stage_clock.stopped_at is None or stage_clock.stopped_at > escalation.fired_at
        # Nothing missed: every stage that ran past its deadline (or five working days past it) has its card.
        fired = {(e.clock_id, e.level) for e in escalations}
        for stage_clock in StageClock.objects.exclude(due_at=None):
            end = stage_clock.stopped_at or now
            assert stage_clock.due_at is not None
            if end > stage_clock.due_at:
                assert (stage_clock.pk, "overdue") in fired, stage_clock
            agency_stage = stage_clock.work_order_id is not None and stage_clock.stage in ("sign", "handle")
            if agency_stage and end > serious_at(stage_clock.due_at):
                assert (stage_clock.pk, "serious") in fired, stage_clock
        red = [e for e in escalations if e.level == "serious"]
        assert all(e.supervision_case_id for e in red)
        assert SupervisionCase.objects.filter(pk__in=[e.supervision_case_id for e in red]).count() == len(
            {e.work_order_id for e in red}
        )
        # Loading again fires nothing twice.
        call_command("load_demo_city", tickets=60, stdout=io.StringIO())
        assert Escalation.objects.count() == len(escalations)
