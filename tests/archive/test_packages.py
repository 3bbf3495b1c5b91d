"""Archive packages (归档): a closed ticket's BagIt bag validates, holds record, callers, timeline, replies,
attachments and revisit with bilingual labels, reaches a folder and a real HTTP receiver through the outbox, and
its transfer is on the timeline once, with the retention date set."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import bagit
import pytest
from django.db import transaction

from archive.actions import queue_ticket
from archive.models import ArchiveRecord, ArchiveState
from callcenter.models import Ticket
from core import clock
from dispatch.models import TimelineEntry
from exchange.models import Delivery, DeliveryState
from exchange.outbox import drain
from tests.archive.scene import PHONE, archive_settings, closed_ticket, every_text
from tests.conftest import World
from tests.exchange.receiver import running_receiver

pytestmark = pytest.mark.django_db(transaction=True)


def archive_rows(ticket: Ticket) -> list[TimelineEntry]:
    return list(TimelineEntry.objects.filter(ticket=ticket, action="archive"))


def test_a_closed_ticket_is_queued_in_its_closing_and_delivered_to_a_folder(
    world: World, settings: Any, tmp_path: Path
) -> None:
    archive_settings(settings, destination=str(tmp_path))
    ticket = closed_ticket(world)
    record = ArchiveRecord.objects.get(ticket=ticket)
    assert record.state == ArchiveState.QUEUED and record.package_name == ticket.number
    delivery = Delivery.objects.get(pk=record.delivery_id)
    assert delivery.kind == "archive" and delivery.destination == str(tmp_path)
    assert archive_rows(ticket) == []  # not transferred yet

    assert drain().delivered == 1
    bag_dir = tmp_path / ticket.number
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # every checksum of every manifest
    assert set(bag.algorithms) == {"sha256", "sha512"}
    assert [p.name for p in tmp_path.iterdir()] == [ticket.number]  # no partial copies left

    document = json.loads((bag_dir / "data" / "record.json").read_text("utf-8"))
    assert document["ticket"]["number"] == ticket.number
    assert document["ticket"]["state"]["code"] == "closed"
    actions = [row["action"]["code"] for row in document["timeline"]]
    assert actions[0] == "accept" and "reply" in actions and actions[-1] == "close"
    assert document["replies"][0]["text"] == "已安排清运，现场已清理干净。"
    assert document["revisits"][0]["satisfaction"]["code"] == "satisfied"
    assert document["revisits"][0]["note"] == "群众满意"
    # Bilingual: every label in Chinese and English, and they differ.
    assert document["labels"]["timeline"] == {"zh": "办理记录", "en": "Timeline"}
    assert (
        document["title"]["en"] == "12345 hotline ticket record" and document["title"]["zh"] != document["title"]["en"]
    )
    assert document["timeline"][-1]["action"]["en"] != document["timeline"][-1]["action"]["zh"]
    readme = (bag_dir / "data" / "README.txt").read_text("utf-8")
    assert "record.json" in readme and "Retention period" in readme and "保管期限" in readme
    # Attachments: both files, byte for byte, named by id.
    files = {row["file"]: row for row in document["attachments"]}
    assert len(files) == 2 and {row["kind"]["code"] for row in files.values()} == {"intake", "reply"}
    for name, row in files.items():
        data = (bag_dir / "data" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
    assert {row["original_name"] for row in files.values()} == {"现场照片说明.pdf", "处理结果.pdf"}
    # Callers as the archive's rules allow: masked by default, in the record and in free text.
    assert document["callers"][0]["phone"] == "138****1234"
    assert document["caller_phones"] == "masked"
    assert PHONE not in every_text(bag_dir)
    info = bag.info
    assert info["External-Identifier"] == ticket.number
    assert info["Hotline-Delivery-Id"] == str(record.delivery_id)
    assert " / " in info["External-Description"] and "12345 hotline ticket record" in info["External-Description"]

    record.refresh_from_db()
    closed_year = ticket.closed_at.astimezone(clock.local_zone()).year  # type: ignore[union-attr]
    assert record.state == ArchiveState.TRANSFERRED
    assert record.retention_years == 10 and record.retention_until == dt.date(closed_year + 10, 12, 31)
    assert record.package_sha256 == hashlib.sha256((bag_dir / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    [row] = archive_rows(ticket)
    assert row.data["package"] == ticket.number and row.data["retention_until"] == record.retention_until.isoformat()
    assert row.from_state == row.to_state == "closed"
    assert Ticket.objects.get(pk=ticket.pk).closed_at == ticket.closed_at  # archiving does not touch the closing


def test_full_phone_numbers_by_setting_but_never_a_confidential_callers(
    world: World, settings: Any, tmp_path: Path
) -> None:
    archive_settings(
        settings, destination=str(tmp_path), caller_phones="full", retention_years={"complaint": "permanent"}
    )
    open_caller = closed_ticket(world)
    secret_caller = closed_ticket(world, phone="13900001111", caller_confidential=True)
    drain()
    first = json.loads((tmp_path / open_caller.number / "data" / "record.json").read_text("utf-8"))
    assert first["callers"][0]["phone"] == "+86" + PHONE and first["callers"][0]["name"] == "张先生"
    second = json.loads((tmp_path / secret_caller.number / "data" / "record.json").read_text("utf-8"))
    assert second["callers"][0]["phone"] == "139****1111" and second["callers"][0]["name"] == ""
    record = ArchiveRecord.objects.get(ticket=open_caller)
    assert record.retention_years is None and record.retention_until is None  # permanent (永久)
    assert bagit.Bag(str(tmp_path / open_caller.number)).info["Hotline-Retention-Until"] == "permanent"


def test_a_package_posted_to_a_real_http_receiver_validates_and_repeats_keep_the_delivery_id(
    world: World, settings: Any, tmp_path: Path
) -> None:
    with running_receiver([500, 200]) as receiver:
        archive_settings(settings, destination=receiver.url, allow_private_network=True)
        ticket = closed_ticket(world)
        record = ArchiveRecord.objects.get(ticket=ticket)
        result = drain()
        assert result.failed == 1 and result.delivered == 0  # the receiver's 500: retried later
        assert archive_rows(ticket) == []
        Delivery.objects.filter(pk=record.delivery_id).update(next_attempt_at=clock.now())
        assert drain().delivered == 1
        assert len(receiver.received) == 2
    ids = {request.headers["x-hotline-delivery"] for request in receiver.received}
    assert ids == {str(record.delivery_id)}
    assert receiver.received[0].body == receiver.received[1].body  # the same package on every attempt
    last = receiver.received[-1]
    assert last.headers["content-type"] == "application/x-tar" and last.headers["x-hotline-package"] == ticket.number
    with tarfile.open(fileobj=io.BytesIO(last.body)) as tar:
        tar.extractall(tmp_path, filter="data")
    bag = bagit.Bag(str(tmp_path / ticket.number))
    bag.validate()
    assert (
        last.headers["x-hotline-package-sha256"]
        == hashlib.sha256((tmp_path / ticket.number / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    )
    assert len(archive_rows(ticket)) == 1


def test_an_archive_endpoint_on_a_private_address_is_refused_unless_allowed(world: World, settings: Any) -> None:
    with running_receiver([200]) as receiver:
        archive_settings(settings, destination=receiver.url)
        ticket = closed_ticket(world)
        assert drain().failed == 1
        assert receiver.received == []
    delivery = Delivery.objects.get(pk=ArchiveRecord.objects.get(ticket=ticket).delivery_id)
    assert delivery.attempts.get().error_kind == "private_address"
    assert archive_rows(ticket) == []


class Boom(Exception):
    pass


def test_queuing_commits_and_rolls_back_with_its_cause_and_archiving_off_queues_nothing(
    world: World, settings: Any, tmp_path: Path
) -> None:
    archive_settings(settings, destination="")
    ticket = closed_ticket(world)
    assert not ArchiveRecord.objects.filter(ticket=ticket).exists()
    assert not Delivery.objects.filter(kind="archive").exists()

    archive_settings(settings, destination=str(tmp_path))
    with pytest.raises(RuntimeError):
        queue_ticket(ticket)  # outside a transaction
    with pytest.raises(Boom), transaction.atomic():
        assert queue_ticket(ticket) is not None
        raise Boom
    assert not ArchiveRecord.objects.exists() and not Delivery.objects.filter(kind="archive").exists()
    with transaction.atomic():
        first = queue_ticket(ticket)
        assert queue_ticket(ticket) == first  # once per ticket
    assert Delivery.objects.filter(kind="archive").count() == 1


def test_a_closed_incident_is_archived_with_its_timeline(world: World, settings: Any, tmp_path: Path) -> None:
    from emergency.actions import do_report_incident, do_transition_incident

    archive_settings(settings, destination=str(tmp_path))
    commander = world.users["commander"]
    incident = do_report_incident(
        {"type": "fire", "title": "仓库火情", "latitude": 24.3126, "longitude": 109.4112}, actor=commander
    )
    for action in ("dispatch", "control", "close"):
        do_transition_incident(incident.pk, action, actor=commander)
    record = ArchiveRecord.objects.get(incident=incident)
    assert record.retention_years == 30
    assert drain().delivered == 1
    bag_dir = tmp_path / incident.number
    bagit.Bag(str(bag_dir)).validate()
    document = json.loads((bag_dir / "data" / "record.json").read_text("utf-8"))
    assert document["incident"]["title"] == "仓库火情"
    assert [row["action"]["code"] for row in document["timeline"]][-1] == "close"
    assert document["title"]["en"] == "12345 hotline incident record"
    assert incident.timeline.filter(action="archive").count() == 1
    assert Delivery.objects.get(pk=record.delivery_id).state == DeliveryState.DELIVERED
