"""The command map (指挥一张图): tickets, incidents, units and hot spots on one live map. It composes the
ticket side (dispatch) and the emergency side, so it lives here, at the top."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from callcenter.models import TicketState, Urgency
from emergency.models import AffectedAreaKind, IncidentLevel, IncidentType
from emergency.states import AgencyTaskStatus, IncidentState, UnitStatus, UnitType
from organisation import policy
from organisation.models import Agency, Subject, User
from realtime.pages import render_screen


def _choices(choices: type) -> list[dict[str, str]]:
    return [{"code": str(value), "name": str(label)} for value, label in choices.choices]  # type: ignore[attr-defined]


def emergency_config(user: User) -> dict[str, object]:
    """What the emergency layer of the command map (emergency.js) needs to name things and offer actions."""
    return {
        "incident_types": _choices(IncidentType),
        "incident_levels": _choices(IncidentLevel),
        "incident_states": _choices(IncidentState),
        "area_kinds": _choices(AffectedAreaKind),
        "task_statuses": _choices(AgencyTaskStatus),
        "unit_types": _choices(UnitType),
        "unit_statuses": _choices(UnitStatus),
        "unit_stale_seconds": settings.HOTLINE["UNIT_STALE_SECONDS"],
        "may_report": user.has_role(*policy.INCIDENT_REPORTERS),
        "may_command": user.has_role(*policy.COMMAND),
        "may_assign": user.has_role(*policy.UNIT_COMMAND),
    }


@login_required
def command(request: HttpRequest) -> HttpResponse:
    """The commander's live map: jurisdictions, tickets, filters, live feed, details, hot spots."""
    return render_screen(
        request,
        "command",
        "emergency/command.html",
        {
            "subjects": list(Subject.objects.filter(is_leaf=True, active=True).values("code", "path")),
            "states": [{"code": s.value, "name": str(s.label)} for s in TicketState],
            "urgencies": [{"code": u.value, "name": str(u.label)} for u in Urgency],
            "agencies": list(Agency.objects.filter(active=True).values("code", "name")),
            "emergency": emergency_config(request.user),  # type: ignore[arg-type]
        },
    )
