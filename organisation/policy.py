"""Who may: the one policy of roles and scopes. Each app applies it to its own querysets (an object outside
a user's scope simply does not exist for them: 404, never 403 with a hint)."""

from __future__ import annotations

from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from organisation.models import CENTRE_ROLES, Role, User

#: work_order_scope() of centre staff: every agency's work.
EVERY_AGENCY = "every agency"


def is_centre(user: User) -> bool:
    return user.is_authenticated and user.has_role(*CENTRE_ROLES)


def is_agency(user: User) -> bool:
    return user.is_authenticated and user.is_agency_staff


def work_order_scope(user: User) -> str | int | None:
    """Whose work the user sees: EVERY_AGENCY (centre), one agency's id (agency staff), or None (nobody's)."""
    if is_centre(user):
        return EVERY_AGENCY
    if is_agency(user):
        return user.agency_id or 0
    return None


def sees_caller_details(user: User) -> bool:
    """Centre staff see callers' numbers and names; agencies see them masked unless revealed."""
    return is_centre(user)


def may_read_caller_history(user: User) -> bool:
    return user.has_role(Role.OPERATOR, Role.DISPATCHER, Role.COMMANDER, Role.SUPERVISOR, Role.ADMIN)


def may_edit_knowledge(user: User) -> bool:
    return user.has_role(Role.DISPATCHER, Role.ADMIN)


def may_read_audit(user: User) -> bool:
    return user.has_role(Role.AUDITOR, Role.SUPERVISOR, Role.ADMIN)


def current_user(request: Request) -> User:
    """The authenticated user of an API request (every endpoint requires authentication)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user
