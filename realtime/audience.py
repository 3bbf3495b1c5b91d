"""Who receives an event: decided here, from the event's scope and the connection's user, never by the client."""

from __future__ import annotations

from dataclasses import dataclass

from organisation.models import CENTRE_ROLES, User
from realtime.models import Event

#: Events only centre staff receive, whatever agencies they name.
CENTRE_ONLY_TYPES = frozenset({"caller.revealed"})


@dataclass(frozen=True)
class Audience:
    user_id: int
    centre: bool
    agency_id: int | None
    #: Centre staff of one city (None: of every city, e.g. an installation-wide administrator).
    city_id: int | None = None

    @property
    def group_key(self) -> str:
        """Connections with the same key receive exactly the same events (one encoding serves them all)."""
        if self.centre:
            return "centre" if self.city_id is None else f"centre:{self.city_id}"
        return f"agency:{self.agency_id}"


def audience_of(user: User) -> Audience | None:
    """The scope of a user's live connection, or None when the user may not have one."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.has_role(*CENTRE_ROLES):
        return Audience(user.pk, centre=True, agency_id=user.agency_id, city_id=user.home_city_id)
    if user.is_agency_staff:
        return Audience(user.pk, centre=False, agency_id=user.agency_id)
    return None


def may_receive(audience: Audience, event: Event) -> bool:
    if audience.centre:
        return audience.city_id is None or event.city_id is None or event.city_id == audience.city_id
    if event.type in CENTRE_ONLY_TYPES:
        return False
    return audience.agency_id is not None and audience.agency_id in (event.agency_ids or [])
