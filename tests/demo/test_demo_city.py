"""The demo city loads through the real actions, covers every state, and loading it twice changes nothing."""

from __future__ import annotations

import io

import pytest
from django.core import serializers
from django.core.management import CommandError, call_command
from django.db.models import Model

from callcenter.models import KnowledgeArticle, Phrase, Ticket, TicketState
from core import clock
from dispatch.models import StageClock, TimelineEntry, WorkOrderState
from organisation.models import Agency, Role, Subject, User
from tests.pinned_time import DEMO_NOW


def _dump() -> str:
    models: list[type[Model]] = [Agency, User, Subject, KnowledgeArticle, Phrase, Ticket, TimelineEntry]
    return "".join(serializers.serialize("json", m._default_manager.order_by("pk")) for m in models)


def test_demo_city_covers_every_state_and_is_idempotent(db: object) -> None:
    with clock.pinned_at(DEMO_NOW):
        out = io.StringIO()
        call_command("load_demo_city", tickets=40, stdout=out)
        assert "demo-12345" in out.getvalue() and "operator" in out.getvalue()
        assert Agency.objects.filter(name="柳州市城市管理行政执法局").exists()
        assert Agency.objects.filter(name="城中区人民政府", kind="district", adcode="450202").exists()
        assert Subject.objects.filter(is_leaf=True).count() >= 38
        assert KnowledgeArticle.objects.count() >= 30
        assert Phrase.objects.filter(kind="reply", subject__code="garbage-collection", active=True).exists()
        held = {role for user in User.objects.all() for role in user.roles}
        assert held == set(Role.values)
        states = set(Ticket.objects.values_list("state", flat=True))
        assert states == set(TicketState.values)
        assert {"pending_sign", "handling", "replied", "approved", "returned", "closed"} <= set(
            Ticket.objects.values_list("work_orders__state", flat=True)
        )
        # Timelines are plausible: every ticket starts with its acceptance, in time order.
        for ticket in Ticket.objects.all():
            rows = list(ticket.timeline.order_by("id"))
            assert rows[0].action == "accept"
            assert [r.created_at for r in rows] == sorted(r.created_at for r in rows)
        _second_city_runs_beside_liuzhou()
        _guilin_has_its_own_history()
        before = _dump()
        call_command("load_demo_city", tickets=40, stdout=io.StringIO())
        assert _dump() == before
        assert WorkOrderState.CLOSED in Ticket.objects.values_list("work_orders__state", flat=True)


def _second_city_runs_beside_liuzhou() -> None:
    from gis.models import JurisdictionLayer, RoutingRule
    from gis.routing import decide, place
    from organisation.models import City

    liuzhou, guilin = City.objects.get(code="liuzhou"), City.objects.get(code="guilin")
    assert liuzhou.pk < guilin.pk  # Liuzhou is the default city
    assert JurisdictionLayer.objects.filter(city=guilin, level="district", active=True).exists()
    assert JurisdictionLayer.objects.filter(city=liuzhou, level="district", active=True).exists()
    assert RoutingRule.objects.filter(city=guilin).exists()
    in_guilin = place(110.29, 25.28)  # 秀峰区, central Guilin
    assert in_guilin.city_id == guilin.pk and in_guilin.code("district").startswith("4503")
    garbage = decide(Subject.objects.get(code="garbage-collection"), in_guilin)
    assert garbage.lead is not None and garbage.lead.city_id == guilin.pk
    in_liuzhou = place(109.4112, 24.3126)
    assert in_liuzhou.city_id == liuzhou.pk
    assert decide(Subject.objects.get(code="garbage-collection"), in_liuzhou).lead.city_id == liuzhou.pk  # type: ignore[union-attr]
    assert place(116.39, 39.91).outside_service_area  # Beijing
    assert User.objects.get(username="gl-operator").home_city_id == guilin.pk


def _guilin_has_its_own_history() -> None:
    from dispatch.access import visible_tickets
    from dispatch.models import WorkOrder
    from gis.index import current_index
    from organisation.models import City

    guilin = City.objects.get(code="guilin")
    tickets = list(Ticket.objects.filter(city=guilin))
    assert len(tickets) >= 12 and len({t.state for t in tickets}) >= 6  # in various states
    index = current_index()
    for ticket in tickets:  # every one placed inside Guilin's service area
        assert ticket.longitude is not None and ticket.latitude is not None
        found = index.city_at(ticket.longitude, ticket.latitude)
        assert found is not None and found.city_id == guilin.pk, ticket.pk
    # Routed only to Guilin's agencies, and Liuzhou's tickets only to Liuzhou's (or no city's: the default's).
    orders = WorkOrder.objects.filter(ticket__city=guilin).select_related("agency")
    assert orders.exists() and {o.agency.city_id for o in orders} == {guilin.pk}
    assert not WorkOrder.objects.exclude(ticket__city=guilin).filter(agency__city=guilin).exists()
    assert Ticket.objects.exclude(city=guilin).exists()
    # Guilin's centre sees Guilin's tickets and none of Liuzhou's; Liuzhou's centre none of Guilin's.
    seen = set(visible_tickets(User.objects.get(username="gl-operator")).values_list("pk", flat=True))
    assert seen == {t.pk for t in tickets}
    assert not visible_tickets(User.objects.get(username="operator")).filter(city=guilin).exists()


def test_demo_city_refuses_a_now_without_a_time_zone(db: object) -> None:
    with pytest.raises(CommandError, match="time zone"):
        call_command("load_demo_city", "--now", "2026-06-15T10:00:00", stdout=io.StringIO())
    assert not Agency.objects.exists()


def test_late_in_the_year_the_demo_shows_a_provisional_deadline_at_the_demo_agency(db: object) -> None:
    # 2027's holiday schedule is not published (chinesecalendar ends with 2026): the showcase case's 30 working
    # days from early December reach into January 2027.
    call_command("load_demo_city", "--tickets", "12", "--now", "2026-12-07T10:00:00+08:00", stdout=io.StringIO())
    handler = User.objects.get(username="handler")
    assert handler.agency_id is not None
    provisional = StageClock.objects.filter(
        stopped_at__isnull=True, due_provisional=True, work_order__agency_id=handler.agency_id
    )
    assert provisional.filter(stage="handle", time_limit="30wd").exists()
