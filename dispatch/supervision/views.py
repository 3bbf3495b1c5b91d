"""The e-supervision board page (/supervision/): supervisors, auditors and administrators."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from callcenter.models import Satisfaction, TicketState
from dispatch.models import EscalationLevel, Stage, WorkOrderState
from dispatch.supervision import kpis
from dispatch.supervision.api import DEFAULT_PERIOD_DAYS, EXPORT_TABLES, default_min_volume
from dispatch.supervision.scope import EVERY_CITY, CityScope
from organisation.models import Agency, User
from organisation.policy import city_scope
from realtime.pages import render_screen


@login_required
def board(request: HttpRequest) -> HttpResponse:
    city = CityScope.of(city_scope(request.user)) if isinstance(request.user, User) else EVERY_CITY
    return render_screen(
        request,
        "supervision",
        "dispatch/supervision.html",
        {
            "metrics": [{"code": m.code, "label": str(m.label), "kind": m.kind, "unit": m.unit} for m in kpis.METRICS],
            "ranking_keys": list(kpis.RANKING_KEYS),
            "trend_codes": list(kpis.TREND_CODES),
            "stages": [{"code": s.value, "name": str(s.label)} for s in Stage],
            "levels": [{"code": lv.value, "name": str(lv.label)} for lv in EscalationLevel],
            "work_order_states": {s.value: str(s.label) for s in WorkOrderState},
            "ticket_states": {s.value: str(s.label) for s in TicketState},
            "satisfaction": {s.value: str(s.label) for s in Satisfaction},
            "agencies": [
                {"id": a.pk, "code": a.code, "name": a.display_name}
                for a in Agency.objects.filter(city.q("city"), active=True)
            ],
            "min_volume": default_min_volume(),
            "default_period_days": DEFAULT_PERIOD_DAYS,
            "export_tables": list(EXPORT_TABLES),
        },
    )
