"""Row locks take only the rows they mean: on PostgreSQL a FOR UPDATE over a join locks every joined table's
row unless ``of`` names the table, so locking a ticket would lock its Subject and locking work orders their
Agency rows - two operators on different tickets of one subject would wait on each other."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import OperationalError, connection, connections, transaction

from callcenter.actions import do_create_ticket
from callcenter.models import Ticket
from dispatch.actions import do_dispatch_ticket
from dispatch.locks import lock_ticket, lock_work_order, lock_work_orders_of_ticket
from dispatch.models import WorkOrder
from tests.conftest import World, ticket_payload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _dispatched(world: World, phone: str) -> WorkOrder:
    ticket, _created = do_create_ticket(ticket_payload(phone=phone), actor=world.users["operator"])
    do_dispatch_ticket(ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk)
    return WorkOrder.objects.get(ticket=ticket)


def _in_another_transaction(lock: Callable[[], object]) -> str:
    """Run ``lock`` in a second connection's transaction that refuses to wait for any row lock: "locked" when it
    got its rows at once, else the error's name."""
    outcome: list[str] = []

    def run() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")  # a bound, so a regression fails, not hangs
                lock()
            outcome.append("locked")
        except OperationalError as error:
            outcome.append(type(error.__cause__).__name__)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return outcome[0]


def test_two_tickets_of_one_subject_are_locked_by_two_transactions_without_waiting(world: World) -> None:
    assert connection.vendor == "postgresql"
    first, second = _dispatched(world, "13900000031"), _dispatched(world, "13900000032")
    assert Ticket.objects.get(pk=first.ticket_id).subject_id == Ticket.objects.get(pk=second.ticket_id).subject_id
    with transaction.atomic():
        lock_ticket(first.ticket_id)
        assert _in_another_transaction(lambda: lock_ticket(second.ticket_id)) == "locked"
        # The lock is real: the same ticket does wait.
        assert _in_another_transaction(lambda: lock_ticket(first.ticket_id)) == "LockNotAvailable"


def test_work_orders_of_one_agency_on_two_tickets_are_locked_without_waiting(world: World) -> None:
    first, second = _dispatched(world, "13900000033"), _dispatched(world, "13900000034")
    assert first.agency_id == second.agency_id
    with transaction.atomic():
        ticket = lock_ticket(first.ticket_id)
        lock_work_orders_of_ticket(ticket)
        other = Ticket.objects.get(pk=second.ticket_id)
        assert _in_another_transaction(lambda: lock_work_orders_of_ticket(lock_ticket(other.pk))) == "locked"
        assert _in_another_transaction(lambda: lock_work_order(second.pk)) == "locked"
        assert _in_another_transaction(lambda: lock_work_order(first.pk)) == "LockNotAvailable"
