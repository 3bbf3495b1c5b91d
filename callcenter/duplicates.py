"""Duplicate candidates for a ticket: the same subject nearby, or the same caller, recently.

Open tickets are candidates to merge into (only an open ticket can become a merge master). Closed tickets
of the same caller about the same subject within REPEAT_DAYS are flagged too, as repeats (重复来电): the
matter came back after it was closed, which the operator must see, though nothing can be merged into them.

Distances are great-circle metres (haversine). The coarse filter is a latitude/longitude window in
SQL; the exact distance is computed for the few tickets inside it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from callcenter.models import TERMINAL_TICKET_STATES, Ticket, TicketState

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_RADIUS_M = 100.0
DEFAULT_HOURS = 72.0
REPEAT_DAYS = 30


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Candidate:
    ticket: Ticket
    distance_m: float | None
    same_subject: bool
    same_caller: bool
    #: A closed ticket of the same caller and subject: the matter came back (not a merge master).
    repeat: bool = False

    @property
    def rank_key(self) -> tuple[int, int, float, int]:
        # Open tickets first; the same caller about the same subject first, then the nearest, then the newest.
        both = self.same_caller and self.same_subject
        return (int(self.repeat), 0 if both else 1 if self.same_subject else 2, self.distance_m or 0.0, -self.ticket.pk)


def find_duplicates(
    *,
    tickets: QuerySet[Ticket],
    subject_id: int,
    at: dt.datetime,
    latitude: float | None,
    longitude: float | None,
    caller_id: int | None,
    exclude_id: int | None = None,
    radius_m: float = DEFAULT_RADIUS_M,
    hours: float = DEFAULT_HOURS,
    repeat_days: int = REPEAT_DAYS,
    limit: int = 20,
) -> list[Candidate]:
    window = (
        tickets.filter(created_at__gte=at - dt.timedelta(hours=hours), created_at__lte=at)
        .exclude(state__in=TERMINAL_TICKET_STATES)
        .select_related("subject", "caller")
    )
    if exclude_id is not None:
        window = window.exclude(pk=exclude_id)
    near = Q(pk__in=[])
    if latitude is not None and longitude is not None:
        dlat = radius_m / 111_320.0
        dlon = radius_m / (111_320.0 * max(math.cos(math.radians(latitude)), 0.01))
        near = Q(
            subject_id=subject_id,
            latitude__range=(latitude - dlat, latitude + dlat),
            longitude__range=(longitude - dlon, longitude + dlon),
        )
    same_caller = Q(caller_id=caller_id) if caller_id else Q(pk__in=[])
    found: list[Candidate] = []
    for other in window.filter(near | same_caller)[:500]:
        distance = None
        if None not in (latitude, longitude, other.latitude, other.longitude):
            distance = round(haversine_m(longitude, latitude, other.longitude, other.latitude), 1)  # type: ignore[arg-type]
        is_same_subject = other.subject_id == subject_id and distance is not None and distance <= radius_m
        is_same_caller = bool(caller_id) and other.caller_id == caller_id
        if is_same_subject or is_same_caller:
            found.append(Candidate(other, distance, is_same_subject, is_same_caller))
    if caller_id:
        repeats = tickets.filter(
            caller_id=caller_id,
            subject_id=subject_id,
            state=TicketState.CLOSED,
            created_at__gte=at - dt.timedelta(days=repeat_days),
            created_at__lte=at,
        ).select_related("subject", "caller")
        if exclude_id is not None:
            repeats = repeats.exclude(pk=exclude_id)
        for other in repeats.order_by("-id")[:limit]:
            distance = None
            if None not in (latitude, longitude, other.latitude, other.longitude):
                distance = round(haversine_m(longitude, latitude, other.longitude, other.latitude), 1)  # type: ignore[arg-type]
            found.append(Candidate(other, distance, True, True, repeat=True))
    return sorted(found, key=lambda c: c.rank_key)[:limit]


def candidate_row(candidate: Candidate) -> dict[str, Any]:
    """A candidate as the screens show it (no personal data beyond what the ticket list shows)."""
    ticket = candidate.ticket
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "state": ticket.state,
        "state_label": str(TicketState(ticket.state).label),
        "subject": ticket.subject.code,
        "subject_name": ticket.subject.display_name,
        "created_at": ticket.created_at,
        "distance_m": candidate.distance_m,
        "same_subject": candidate.same_subject,
        "same_caller": candidate.same_caller,
        "repeat": candidate.repeat,
        "title": ticket.title,
        "address": ticket.address,
    }
