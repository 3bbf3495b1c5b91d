"""Who may: the one policy of roles and scopes. Each app applies it to its own querysets (an object outside
a user's scope simply does not exist for them: 404, never 403 with a hint)."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from organisation.models import CENTRE_ROLES, Role, User

# Who may act. The centre's intake desk, its dispatch desk, reviewers and supervisors, and agencies.
INTAKE = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.ADMIN})
DISPATCHERS = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.ADMIN})
CENTRE_CONTROL = frozenset({Role.DISPATCHER, Role.ADMIN})
REVIEWERS = frozenset({Role.DISPATCHER, Role.ADMIN})
EXTENSION_DECIDERS = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
URGERS = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
AGENCY = frozenset({Role.AGENCY_HANDLER, Role.AGENCY_ADMIN})
#: Who moves units: the command desk for every unit, the owning agency's staff (the crew) for its own.
UNIT_COMMAND = frozenset({Role.COMMANDER, Role.DISPATCHER, Role.ADMIN})
UNIT_CREW_OR_COMMAND = UNIT_COMMAND | AGENCY
# Emergency linkage: operators may report or escalate into an incident; the command desk runs it.
INCIDENT_REPORTERS = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.COMMANDER, Role.ADMIN})
COMMAND = frozenset({Role.DISPATCHER, Role.COMMANDER, Role.ADMIN})
PUBLIC_ALERTERS = frozenset({Role.COMMANDER, Role.ADMIN})

#: Who must log in with a second factor (TOTP) as well as the password; anyone else may choose to.
SECOND_FACTOR_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR, Role.COMMANDER})

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


def city_scope(user: User) -> int | None:
    """Which city's tickets centre staff see: the city they work for (their own, else their agency's), or None
    for every city (staff named to no city, e.g. an installation-wide administrator)."""
    return user.home_city_id if is_centre(user) else None


def sees_caller_details(user: User) -> bool:
    """Centre staff see callers' numbers and names; agencies see them masked unless revealed."""
    return is_centre(user)


def may_read_caller_history(user: User) -> bool:
    return user.has_role(Role.OPERATOR, Role.DISPATCHER, Role.COMMANDER, Role.SUPERVISOR, Role.ADMIN)


def may_edit_knowledge(user: User) -> bool:
    return user.has_role(Role.DISPATCHER, Role.ADMIN)


#: Who keeps the canned phrases (常用语) of descriptions, replies and revisit notes.
PHRASE_EDITORS = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})


def may_edit_phrases(user: User) -> bool:
    return user.has_role(*PHRASE_EDITORS)


def may_read_audit(user: User) -> bool:
    return user.has_role(Role.AUDITOR, Role.SUPERVISOR, Role.ADMIN)


#: The archive register (归档, archive/): read by those who read the audit log; batches of transfers are queued
#: by administrators only (the auditor stays read-only).
ARCHIVE_READERS = frozenset({Role.AUDITOR, Role.SUPERVISOR, Role.ADMIN})
ARCHIVE_RUNNERS = frozenset({Role.ADMIN})


def may_read_archive(user: User) -> bool:
    return user.is_authenticated and user.has_role(*ARCHIVE_READERS)


def may_run_archive(user: User) -> bool:
    return user.is_authenticated and user.has_role(*ARCHIVE_RUNNERS)


# Screens.
CONSOLE_ROLES = (Role.OPERATOR, Role.DISPATCHER, Role.ADMIN)
COMMAND_ROLES = (Role.COMMANDER, Role.DISPATCHER, Role.OPERATOR, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN)
INBOX_ROLES = (Role.AGENCY_HANDLER, Role.AGENCY_ADMIN)
# The commander reads everything, the supervision board included.
SUPERVISION_ROLES = (Role.SUPERVISOR, Role.AUDITOR, Role.COMMANDER, Role.ADMIN)


#: Every live screen may_open() knows (tests/browser/test_i18n_screens.py renders each for every role that may).
SCREENS = ("console", "command", "inbox", "supervision", "workbench", "ticket", "phrases")


def may_open(user: User, screen: str) -> bool:
    """Who may open which live screen (one of SCREENS)."""
    if screen == "inbox":
        return user.is_agency_staff
    if screen == "supervision":
        return user.has_role(*SUPERVISION_ROLES)
    if screen == "ticket":
        return is_centre(user) or is_agency(user)
    if screen == "workbench":
        return is_centre(user) or is_agency(user)
    if screen == "phrases":
        return may_edit_phrases(user)
    return user.has_role(*(CONSOLE_ROLES if screen == "console" else COMMAND_ROLES))


def current_user(request: Request) -> User:
    """The authenticated user of an API request (every endpoint requires authentication)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def acting_user(request: HttpRequest) -> User | None:
    """The person behind an admin page's request (None for an anonymous one), for audited actions."""
    return request.user if isinstance(request.user, User) else None
