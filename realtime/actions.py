"""Writes of the real-time side: pruning the event log."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from core import clock
from realtime.models import Event, PruneMark


def do_prune_events(*, retention: dt.timedelta | None = None) -> int:
    """Delete events older than the retention window and remember how far the log was pruned."""
    keep = retention if retention is not None else dt.timedelta(hours=settings.HOTLINE["EVENT_RETENTION_HOURS"])
    cutoff = clock.now() - keep
    with transaction.atomic(durable=True):
        mark, _created = PruneMark.objects.select_for_update(of=("self",)).get_or_create(pk=1)
        newest_old = Event.objects.filter(created_at__lt=cutoff).aggregate(m=Max("id"))["m"]
        if newest_old is None:
            return 0
        deleted, _by_model = Event.objects.filter(id__lte=newest_old).delete()
        mark.pruned_through_id = max(mark.pruned_through_id, newest_old)
        mark.pruned_at = clock.now()
        mark.save()
    return deleted
