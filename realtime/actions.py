"""Writes of the real-time side: pruning the event log; background processes' heartbeats."""

from __future__ import annotations

import datetime as dt
import os
import socket

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from core import clock
from realtime.models import Event, Heartbeat, PruneMark


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


#: Heartbeats older than this are dropped (processes that ended long ago).
HEARTBEAT_KEEP = dt.timedelta(days=1)


def do_beat(kind: str) -> None:
    """Record that this process (of ``kind``: "timers") is alive now."""
    now = clock.now()
    process = f"{kind}:{socket.gethostname()}:{os.getpid()}"[:120]
    with transaction.atomic(durable=True):
        Heartbeat.objects.update_or_create(process=process, defaults={"kind": kind, "beat_at": now})
        Heartbeat.objects.filter(kind=kind, beat_at__lt=now - HEARTBEAT_KEEP).delete()
