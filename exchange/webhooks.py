"""Which subscriptions an event goes to, and its body: registered with the event log at start-up
(exchange/apps.py), called inside the writer's transaction for the events it wrote."""

from __future__ import annotations

from collections.abc import Sequence

from exchange.models import Subscription
from exchange.outbox import enqueue
from realtime.audience import Audience, may_receive
from realtime.hub import encode_event
from realtime.models import Event


def audience_of(subscription: Subscription) -> Audience:
    """A subscription sees what the live screens of its scope see: the centre's, or one agency's."""
    if subscription.agency_id is None:
        return Audience(user_id=0, centre=True, agency_id=None)
    return Audience(user_id=0, centre=False, agency_id=subscription.agency_id)


def enqueue_for_events(events: Sequence[Event]) -> int:
    """One delivery per event and active subscription that wants its type and may receive it."""
    if not events:
        return 0
    subscriptions = list(Subscription.objects.filter(active=True))
    written = 0
    for subscription in subscriptions:
        audience = audience_of(subscription)
        for event in events:
            if not subscription.wants(event.type) or not may_receive(audience, event):
                continue
            body = encode_event(event, masked=not audience.centre)
            enqueue(subscription, event.type, body, event_id=event.pk)
            written += 1
    return written
