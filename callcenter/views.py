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
            "subjects": [
                {"code": s.code, "path": s.display_path}
                for s in Subject.objects.filter(is_leaf=True, active=True).select_related("parent__parent__parent")
            ],
            "appeal_types": [{"code": a.code, "name": a.display_name} for a in AppealType.objects.all()],
            "channels": [{"code": c.value, "name": str(c.label)} for c in Channel],
            "urgencies": [{"code": u.value, "name": str(u.label)} for u in Urgency],
        },
    )
