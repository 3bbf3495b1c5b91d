"""The records office's side: batches by closing date (command and API), who may (an agency user is refused
the register, 403, and finds no record, 404), verifying packages (a tampered file is found), and a worker killed
after delivering (the repeat is harmless: one package, one timeline row)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import bagit
import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from archive.actions import do_archive_batch
from archive.models import ArchiveRecord, ArchiveState
from archive.verify import verify_folder
from core import clock
from dispatch.models import TimelineEntry
from exchange import outbox
from exchange.models import Delivery, DeliveryState
from tests.archive.scene import archive_settings, closed_ticket
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)

ZONE = clock.local_zone()


def day(month: int, date: int) -> dt.datetime:
    return dt.datetime(2026, month, date, 10, 0, tzinfo=ZONE)


def test_batches_by_closing_date_queue_each_closed_ticket_once(world: World, settings: Any, tmp_path: Path) -> None:
    archive_settings(settings, destination=str(tmp_path), trigger="batch")
    march = closed_ticket(world, day=day(3, 2))
    april = closed_ticket(world, day=day(4, 20))
    assert not ArchiveRecord.objects.exists()  # trigger "batch": closing queues nothing

    result = do_archive_batch("2026-03-01", "2026-03-31", actor=None)
    assert (result.tickets, result.incidents) == (1, 0)
    assert list(ArchiveRecord.objects.values_list("ticket_id", flat=True)) == [march.pk]
    assert do_archive_batch("2026-03-01", "2026-03-31", actor=None).tickets == 0  # already queued

    call_command("archive_batch", "--from", "2026-04-20", "--to", "2026-04-20", "--kind", "tickets")
    assert ArchiveRecord.objects.filter(ticket=april).exists()
    with pytest.raises(CommandError):
        call_command("archive_batch", "--from", "2026-05-01", "--to", "2026-04-01")
    assert outbox.drain().delivered == 2
    assert {path.name for path in tmp_path.iterdir()} == {march.number, april.number}


def test_the_records_office_api_and_who_may_use_it(world: World, settings: Any, tmp_path: Path) -> None:
    archive_settings(settings, destination=str(tmp_path), trigger="batch")
    ticket = closed_ticket(world, day=day(3, 2))
    body = {"closed_from": "2026-03-01", "closed_to": "2026-03-31"}
    for outsider in ("handler_a", "agencyadmin_a", "operator", "nobody"):
        assert world.client(outsider).post("/api/archive/batches/", body, format="json").status_code == 403
        assert world.client(outsider).get("/api/archive/records/").status_code == 403
    assert world.client("auditor").post("/api/archive/batches/", body, format="json").status_code == 403
    assert not ArchiveRecord.objects.exists()

    bad = world.client("admin").post(
        "/api/archive/batches/", {"closed_from": "2026-3-1", "closed_to": "x"}, format="json"
    )
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"closed_from", "closed_to"}
    assert not ArchiveRecord.objects.exists()
    response = world.client("admin").post("/api/archive/batches/", body, format="json")
    assert response.status_code == 202 and response.json() == {"tickets": 1, "incidents": 0}

    listed = world.client("auditor").get("/api/archive/records/?closed_from=2026-03-01&closed_to=2026-03-02")
    assert listed.status_code == 200
    [row] = listed.json()["results"]
    assert row["package"] == ticket.number and row["state"] == ArchiveState.QUEUED
    assert row["retention_until"] == "2036-12-31"
    assert (
        world.client("auditor")
        .get("/api/archive/records/?closed_from=2026-04-01&closed_to=2026-04-30")
        .json()["results"]
        == []
    )
    assert world.client("handler_a").get(f"/api/archive/records/{row['id']}/").status_code == 404
    assert world.client("supervisor").get(f"/api/archive/records/{row['id']}/").json()["package"] == ticket.number
    assert world.client("auditor").get("/api/archive/records/?state=lost").status_code == 400
    bad_day = world.client("auditor").get("/api/archive/records/?closed_from=2026-13-01")
    assert bad_day.status_code == 400 and list(bad_day.json()["fields"]) == ["closed_from"]
    assert len(world.client("auditor").get("/api/archive/records/?closed_to=2026-03-02").json()["results"]) == 1


def test_verify_finds_a_tampered_file(world: World, settings: Any, tmp_path: Path) -> None:
    archive_settings(settings, destination=str(tmp_path))
    first, second = closed_ticket(world), closed_ticket(world)
    assert outbox.drain().delivered == 2
    call_command("archive_verify")  # both intact: no error
    assert all(finding.ok for finding in verify_folder(tmp_path))

    record_json = tmp_path / second.number / "data" / "record.json"
    record_json.write_text(record_json.read_text("utf-8").replace("群众满意", "群众不满意"), "utf-8")
    findings = {finding.package: finding for finding in verify_folder(tmp_path)}
    assert findings[first.number].ok
    assert not findings[second.number].ok and any("record.json" in p for p in findings[second.number].problems)
    # Payload-Oxum (bagit's own words, behind a translated lead-in) and the changed file, in Chinese by default.
    problems = findings[second.number].problems
    assert problems[0].startswith("BagIt 校验未通过：Payload-Oxum validation failed.")
    assert problems[1:] == ("data/record.json：sha256 与清单不一致",)
    with translation.override("en"):
        [english] = [finding.problems for finding in verify_folder(tmp_path) if not finding.ok]
    assert english[0].startswith("BagIt check failed: Payload-Oxum validation failed.")
    assert english[1:] == ("data/record.json: sha256 differs from the manifest",)
    with pytest.raises(CommandError):
        call_command("archive_verify", "--folder", str(tmp_path))


def test_verify_names_each_kind_of_problem_in_the_active_language(world: World, settings: Any, tmp_path: Path) -> None:
    archive_settings(settings, destination=str(tmp_path))
    edited, renamed, recorded = closed_ticket(world), closed_ticket(world), closed_ticket(world)
    assert outbox.drain().delivered == 3
    # The same number of bytes: only the checksums tell.
    record_json = tmp_path / edited.number / "data" / "record.json"
    record_json.write_text(record_json.read_text("utf-8").replace("群众满意", "群众不满"), "utf-8")
    (tmp_path / renamed.number / "data" / "record.json").rename(tmp_path / renamed.number / "data" / "renamed.json")
    ArchiveRecord.objects.filter(ticket=recorded).update(package_sha256="0" * 64)

    findings = {finding.package: finding.problems for finding in verify_folder(tmp_path)}
    # The bag has SHA-256 and SHA-512 manifests; bagit names whichever it checks first.
    assert re.match(r"data/record\.json 的 sha(256|512) 校验失败：应为“", findings[edited.number][0])
    assert findings[edited.number][-1] == "data/record.json：sha256 与清单不一致"
    assert findings[renamed.number] == (
        "data/record.json 列在清单中，但在文件系统中找不到",
        "data/renamed.json 存在于文件系统中，但不在清单中",
    )
    assert findings[recorded.number] == ("tagmanifest-sha256.txt 与移交时记录的校验和不一致",)

    with translation.override("en"):
        english = {finding.package: finding.problems for finding in verify_folder(tmp_path)}
    assert re.match(r'data/record\.json sha(256|512) validation failed: expected="', english[edited.number][0])
    assert english[renamed.number] == (
        "data/record.json exists in manifest but was not found on filesystem",
        "data/renamed.json exists on filesystem but is not in the manifest",
    )
    assert english[recorded.number] == ("tagmanifest-sha256.txt differs from the checksum recorded at transfer",)


def test_a_worker_killed_after_delivering_repeats_harmlessly(world: World, settings: Any, tmp_path: Path) -> None:
    archive_settings(settings, destination=str(tmp_path))
    ticket = closed_ticket(world)
    record = ArchiveRecord.objects.get(ticket=ticket)
    now = clock.now()
    # A worker claims the delivery, delivers the package and dies before recording the attempt.
    _token, claimed = outbox.claim_due(limit=10, lease_seconds=30, now=now)
    assert claimed == [str(record.delivery_id)]
    assert outbox.send(Delivery.objects.get(pk=record.delivery_id), now).ok
    assert Delivery.objects.get(pk=record.delivery_id).state == DeliveryState.PENDING
    # Its lease runs out; the next worker sends the same delivery again.
    with clock.pinned_at(now + dt.timedelta(seconds=60)):
        assert outbox.drain().delivered == 1
    assert [path.name for path in tmp_path.iterdir()] == [ticket.number]  # one package, no partial copy
    assert TimelineEntry.objects.filter(ticket=ticket, action="archive").count() == 1
    assert [finding.ok for finding in verify_folder(tmp_path)] == [True]


def test_a_package_of_the_same_name_from_another_delivery_is_never_overwritten(
    world: World, settings: Any, tmp_path: Path
) -> None:
    archive_settings(settings, destination=str(tmp_path))
    ticket = closed_ticket(world)
    foreign = tmp_path / ticket.number
    (foreign / "data").mkdir(parents=True)
    (foreign / "data" / "note.txt").write_text("someone else's", "utf-8")
    bagit.make_bag(str(foreign), {"Hotline-Delivery-Id": "another"})
    assert outbox.drain().failed == 1
    delivery = Delivery.objects.get(pk=ArchiveRecord.objects.get(ticket=ticket).delivery_id)
    assert delivery.attempts.get().error_kind == "package_exists"
    assert (foreign / "data" / "data" / "note.txt").exists() or (foreign / "data" / "note.txt").exists()
    assert TimelineEntry.objects.filter(ticket=ticket, action="archive").count() == 0


def test_a_package_that_cannot_be_built_fails_visibly_and_nothing_is_recorded(
    world: World, settings: Any, tmp_path: Path
) -> None:
    from django.core.files.storage import default_storage

    from dispatch.attachments.models import Attachment

    archive_settings(settings, destination=str(tmp_path))
    ticket = closed_ticket(world)
    default_storage.delete(Attachment.objects.filter(ticket=ticket).first().file.name)  # type: ignore[union-attr]
    assert outbox.drain().failed == 1
    record = ArchiveRecord.objects.get(ticket=ticket)
    assert Delivery.objects.get(pk=record.delivery_id).attempts.get().error_kind == "package_build"
    assert record.state == ArchiveState.QUEUED and list(tmp_path.iterdir()) == []
