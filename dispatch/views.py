from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from callcenter.models import Subject, TicketState, Urgency
from dispatch.models import Agency, WorkOrderState
from realtime.pages import render_screen


@login_required
def command(request: HttpRequest) -> HttpResponse:
    """The commander's live map: jurisdictions, tickets, filters, live feed, details, hot spots."""
    return render_screen(
        request,
        "command",
        "dispatch/command.html",
        {
            "subjects": list(Subject.objects.filter(is_leaf=True, active=True).values("code", "path")),
            "states": [{"code": s.value, "name": str(s.label)} for s in TicketState],
            "urgencies": [{"code": u.value, "name": str(u.label)} for u in Urgency],
            "agencies": list(Agency.objects.filter(active=True).values("code", "name")),
        },
    )


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """The agency inbox: the agency's own work orders with live countdowns and their actions."""
    return render_screen(
        request,
        "inbox",
        "dispatch/inbox.html",
        {
            "work_order_states": [{"code": s.value, "name": str(s.label)} for s in WorkOrderState],
        },
    )
