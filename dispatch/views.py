from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from dispatch.models import WorkOrderState
from realtime.pages import render_screen


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
