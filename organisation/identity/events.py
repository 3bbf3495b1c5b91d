"""Security events in the audit log, and the announcement of revoked access.

An entry names the user (``target_type`` "user" and its id) and, in its details, the user name as typed and the
client's address: nothing else about the person. A failed login for a name that belongs to nobody has no actor.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.http import HttpRequest

from core import clock
from organisation.models import AuditEntry, User

#: Sent after the commit that took access away from a user (``user_id``): tokens revoked or expired, a logout,
#: a password change, a deactivation, a role change. The realtime layer closes that user's sockets.
access_revoked = Signal()

LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOCKOUT = "lockout"
LOGOUT = "logout"
PASSWORD_CHANGED = "password_changed"
DEACTIVATED = "user_deactivated"
TOKEN_ISSUED = "token_issued"
TOKEN_REVOKED = "token_revoked"
SECOND_FACTOR_ENROLLED = "second_factor_enrolled"
SECOND_FACTOR_FAILED = "second_factor_failed"
ROLE_CHANGED = "role_changed"


def client_address(request: HttpRequest | None) -> str:
    """The address a request came from, as the lockout counts it (django-axes' own resolution)."""
    if request is None:
        return ""
    from axes.helpers import get_client_ip_address

    return get_client_ip_address(request) or ""


def record(
    action: str,
    *,
    user: User | None,
    username: str = "",
    request: HttpRequest | None = None,
    actor: User | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append a security event (inside the caller's transaction, if any). ``actor`` defaults to the user."""
    who = actor or user
    return AuditEntry.objects.create(
        actor=who,
        actor_agency_id=who.agency_id if who is not None else None,
        action=action,
        target_type="user",
        target_id=user.pk if user is not None else None,
        reason="",
        fields=[
            {
                "username": (user.get_username() if user is not None else username)[:150],
                "address": client_address(request),
                **(details or {}),
            }
        ],
        created_at=clock.now(),
    )


def announce_revocation(user_id: int) -> None:
    """Tell the listeners, once the current transaction commits, that the user's access was revoked."""
    transaction.on_commit(lambda: access_revoked.send(sender=User, user_id=user_id))
