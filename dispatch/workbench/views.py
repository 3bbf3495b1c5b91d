"""The workbench page (/work/): queues with live counts, a queue's table, ticket search with saved filters,
export and bulk urge. Centre staff and agency staff (organisation.policy.may_open "workbench")."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from callcenter.models import Channel, TicketState, Urgency
from dispatch.workbench.exports import EXPORT_LIMIT
from gis.models import Jurisdiction, Level
from organisation.models import Agency, Subject, User
from organisation.policy import URGERS, is_centre
from realtime.pages import render_screen


def _choices(choices: type[TicketState] | type[Urgency] | type[Channel]) -> list[dict[str, str]]:
    return [{"code": c.value, "name": str(c.label)} for c in choices]


@login_required
def workbench(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    centre = is_centre(user)
    agencies = Agency.objects.filter(active=True) if centre else Agency.objects.filter(pk=user.agency_id or 0)
    districts = (
        Jurisdiction.objects.filter(layer__active=True, layer__level=Level.DISTRICT)
        .order_by("code")
        .values("code", "name")
    )
    return render_screen(
        request,
        "workbench",
        "dispatch/workbench.html",
        {
            "ticket_states": _choices(TicketState),
            "urgencies": _choices(Urgency),
            "channels": _choices(Channel),
            "subjects": [
                {"code": s.code, "name": s.display_path}
                for s in Subject.objects.filter(active=True)
                .select_related("parent__parent__parent")
                .order_by("path", "code")
            ],
            "agencies": [{"code": a.code, "name": a.display_name} for a in agencies.order_by("code")],
            "districts": list(districts),
            "may_search_phone": centre,
            "may_urge": user.has_role(*URGERS),
            "export_limit": EXPORT_LIMIT,
        },
    )
