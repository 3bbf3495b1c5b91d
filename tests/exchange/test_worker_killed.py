"""A worker SIGKILLed mid-batch loses nothing: its claimed rows go out again after the lease, same delivery ids."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.db import connection, transaction

from core import clock
from exchange.models import Delivery, DeliveryState, Subscription
from exchange.outbox import drain
from organisation.actions import do_save_agency
from organisation.models import Agency
from tests.conftest import World
from tests.exchange.receiver import running_receiver

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_batch_loses_nothing(world: World) -> None:
    hold = threading.Event()
    with running_receiver([200], hold=hold) as receiver:
        Subscription.objects.create(name="p", target_url=receiver.url, secret="x", allow_private_network=True)
        for index in range(3):
            with transaction.atomic():
                agency = Agency(code=f"k{index}", name=f"局{index}", kind="department", function="housing")
                do_save_agency(agency, actor=world.users["admin"], changed=["name"])
        ids = {str(pk) for pk in Delivery.objects.values_list("pk", flat=True)}
        assert len(ids) == 3
        db = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "DJANGO_SECRET_KEY": "outbox-kill-test",
        }
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "run_outbox", "--lease", "60", "--max-sleep", "0.5"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            receiver.wait_for(1)  # the worker has claimed the batch and is inside its first send
            claimed = Delivery.objects.exclude(claim_token="").count()
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=30)
        hold.set()
        assert claimed == 3
        assert not Delivery.objects.filter(state=DeliveryState.DELIVERED).exists()
        with clock.pinned_at(clock.now() + dt.timedelta(minutes=2)):  # past the dead worker's lease
            drain()
        delivered = {r.headers["x-hotline-delivery"] for r in receiver.received}
    assert delivered == ids
    assert Delivery.objects.filter(state=DeliveryState.DELIVERED).count() == 3
    assert len(receiver.received) == 4  # the interrupted one went out twice, with the same id
