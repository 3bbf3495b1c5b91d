"""The centre's page for canned phrases (/phrases/): list, filter, create, change and deactivate them.
Editors only (organisation.policy.may_open "phrases"); the page writes through the API (api.py)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from callcenter.models import PhraseKind
from callcenter.phrases.actions import PLACEHOLDERS
from organisation.models import Subject
from realtime.pages import render_screen


@login_required
def phrases_page(request: HttpRequest) -> HttpResponse:
    return render_screen(
        request,
        "phrases",
        "callcenter/phrases.html",
        {
            "kinds": [{"code": k.value, "name": str(k.label)} for k in PhraseKind],
            "subjects": [
                {"code": s.code, "name": s.path or s.display_name, "leaf": s.is_leaf}
                for s in Subject.objects.filter(active=True).order_by("sort_order", "code")
            ],
            "placeholders": [{"token": "{" + name + "}", "name": str(label)} for name, label in PLACEHOLDERS.items()],
        },
    )
