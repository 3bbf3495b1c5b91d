from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from callcenter.models import Channel, Urgency
from organisation.models import AppealType, Subject
from realtime.pages import render_screen


@login_required
def console(request: HttpRequest) -> HttpResponse:
    """The operator console: intake with caller screen pop, map pin, routing, duplicates, knowledge base."""
    return render_screen(
        request,
        "console",
        "callcenter/console.html",
        {
            "subjects": list(Subject.objects.filter(is_leaf=True, active=True).values("code", "path")),
            "appeal_types": list(AppealType.objects.values("code", "name")),
            "channels": [{"code": c.value, "name": str(c.label)} for c in Channel],
            "urgencies": [{"code": u.value, "name": str(u.label)} for u in Urgency],
        },
    )
