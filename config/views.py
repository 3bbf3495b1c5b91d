from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from organisation.models import Role, User
from organisation.policy import may_open, may_read_archive, may_read_audit


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    return render(
        request,
        "home.html",
        {
            "perms_console": may_open(user, "console"),
            "perms_command": may_open(user, "command"),
            "perms_inbox": may_open(user, "inbox"),
            "perms_supervision": may_open(user, "supervision"),
            "perms_workbench": may_open(user, "workbench"),
            "perms_phrases": may_open(user, "phrases"),
            "perms_audit": may_read_audit(user),
            "perms_archive": may_read_archive(user),
            "role_labels": [str(Role(role).label) for role in user.roles or () if role in Role.values],
        },
    )
