"""Events are appended in the writer's transaction and published only after it commits."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from realtime.events import append_event
from realtime.models import Event
from tests.conftest import World


def test_events_are_published_only_after_commit_and_never_on_rollback(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        append_event("caller.revealed", {"ticket_id": 1, "actor_id": 1}, ticket_id=1)
        assert Event.objects.count() == 1
    assert len(callbacks) == 1  # registered for after commit, not run inside the transaction
    with django_capture_on_commit_callbacks() as rolled_back:
        try:
            with transaction.atomic():
                append_event("caller.revealed", {"ticket_id": 2, "actor_id": 1}, ticket_id=2)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert rolled_back == [] and Event.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_event_outside_a_transaction_is_refused(world: World) -> None:
    with pytest.raises(RuntimeError):
        append_event("caller.revealed", {"ticket_id": 3, "actor_id": 1}, ticket_id=3)
    assert Event.objects.count() == 0
