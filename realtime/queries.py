"""Read paths of the real-time side: replay from the log, snapshots for clients too far behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Max, Q, QuerySet

from organisation.privacy import mask_free_text
from realtime.audience import CENTRE_ONLY_TYPES, Audience
from realtime.models import Event, PruneMark


def events_for(audience: Audience) -> QuerySet[Event]:
    """The events an audience may receive (realtime/audience.py may_receive, as a query)."""
    if audience.centre:
        if audience.city_id is None:
            return Event.objects.all()
        return Event.objects.filter(Q(city_id__isnull=True) | Q(city_id=audience.city_id))
    return Event.objects.exclude(type__in=CENTRE_ONLY_TYPES).filter(audiences__agency_id=audience.agency_id or 0)


def latest_event_id() -> int:
    """The newest event id ever written that we know of (the log may have been pruned empty)."""
    return max(int(Event.objects.aggregate(m=Max("id"))["m"] or 0), pruned_through())


def pruned_through() -> int:
    mark = PruneMark.objects.filter(pk=1).values_list("pruned_through_id", flat=True).first()
    return int(mark or 0)


def needs_snapshot(last_event_id: int) -> bool:
    """Replay is impossible when the log was pruned past the client's position, or it is ahead of us; and it is
    not worth it when the client is further behind than REPLAY_MAX_EVENTS (a snapshot is one query per kind of
    open work, a replay one query per page of events, all on the process's one database thread)."""
    if last_event_id < pruned_through() or last_event_id > latest_event_id():
        return True
    # Counted in events, not in ids: ids have gaps (rolled-back transactions, another database's sequence).
    limit = int(settings.HOTLINE.get("REPLAY_MAX_EVENTS", 2000))
    return Event.objects.filter(id__gt=last_event_id).order_by("id")[limit : limit + 1].exists()


#: name -> provider(audience): the rows of one kind of open work that the audience may see. The apps that
#: own the rows register them at ready() (dispatch: tickets and work orders; emergency: incidents).
SnapshotPart = Callable[[Audience], list[dict[str, Any]]]
_snapshot_parts: dict[str, SnapshotPart] = {}


def register_snapshot_part(name: str, provider: SnapshotPart) -> None:
    if name in ("as_of", "kind") or _snapshot_parts.get(name, provider) is not provider:
        raise RuntimeError(f"snapshot part {name!r} is registered twice")
    _snapshot_parts[name] = provider


def snapshot(audience: Audience) -> dict[str, Any]:
    """The open work a screen shows, stamped with the event id it is consistent with."""
    as_of = latest_event_id()
    parts = {name: provider(audience) for name, provider in _snapshot_parts.items()}
    # Agencies read free text (an incident's title) with typed phone and ID-card numbers masked.
    return {"as_of": as_of, **(parts if audience.centre else mask_free_text(parts))}
