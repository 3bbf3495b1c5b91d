"""The records office's page (档案室, /archive/): the register with its filters, a batch counted first (the dry
run changes nothing) and then queued, a re-check of each delivered package (an intact one passes, a tampered one
is found), who may do what (the others: 403, a package to verify: 404), bad dates refused with field errors; and
the archive_verify command's output in the active language."""

from __future__ import annotations

import datetime as dt
import html
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation

from archive.models import ArchiveRecord, ArchiveState
from core import clock
from exchange import outbox
from exchange.models import Delivery
from organisation.models import AuditEntry
from tests.archive.scene import archive_settings, closed_ticket
from tests.conftest import World, english_client
from tests.second_factor import verified_login

pytestmark = pytest.mark.django_db(transaction=True)

ZONE = clock.local_zone()
PAGE = "/archive/"
BATCH = PAGE  # the batch form posts to the page itself


def day(month: int, date: int) -> dt.datetime:
    return dt.datetime(2026, month, date, 10, 0, tzinfo=ZONE)


def browser(world: World, who: str, *, english: bool = False) -> Client:
    return verified_login(english_client() if english else Client(), world.users[who])


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def verify_url(record: ArchiveRecord) -> str:
    return f"/archive/records/{record.pk}/verify/"


def test_the_register_lists_packages_with_filters_for_its_readers_only(
    world: World, settings: Any, tmp_path: Path
) -> None:
    archive_settings(settings, destination=str(tmp_path), trigger="batch")
    march = closed_ticket(world, day=day(3, 2))
    april = closed_ticket(world, day=day(4, 20))
    call_command("archive_batch", "--from", "2026-03-01", "--to", "2026-04-30", stdout=io.StringIO())
    assert outbox.drain().delivered == 2

    admin = browser(world, "admin", english=True)
    page = admin.get(PAGE)
    assert page.status_code == 200
    body = text(page)
    assert march.number in body and april.number in body
    assert body.count('data-state="transferred"') == 2 and body.count('data-verified="never"') == 2
    assert "2036-12-31" in body  # the retention date: 10 years after the year of closing
    assert "Transferred to the archive" in body and "Not checked yet" in body
    assert 'id="archive-batch"' in body and body.count(">Verify</button>") == 2

    april_only = text(admin.get(PAGE, {"closed_from": "2026-04-01"}))
    assert april.number in april_only and march.number not in april_only
    assert march.number not in text(admin.get(PAGE, {"q": april.number}))
    assert "No archive packages." in text(admin.get(PAGE, {"kind": "incident"}))
    assert "No archive packages." in text(admin.get(PAGE, {"state": ArchiveState.QUEUED}))
    bad = admin.get(PAGE, {"closed_from": "2026-13-01"})
    assert bad.status_code == 400 and 'data-field="closed_from"' in text(bad) and march.number not in text(bad)
    assert admin.get(PAGE, {"verified": "maybe"}).status_code == 400

    # Chinese by default.
    assert "档案室" in text(browser(world, "admin").get(PAGE))

    # Readers who do not run the archive see the register without the batch form or verify buttons.
    for reader in ("auditor", "supervisor"):
        seen = browser(world, reader, english=True).get(PAGE)
        assert seen.status_code == 200 and march.number in text(seen)
        assert 'id="archive-batch"' not in text(seen) and ">Verify</button>" not in text(seen)
    for outsider in ("operator", "dispatcher", "handler_a", "agencyadmin_a", "nobody"):
        assert browser(world, outsider).get(PAGE).status_code == 403
    assert Client().get(PAGE).status_code == 302  # to the login page

    # The start page links it for its readers only.
    assert 'href="/archive/"' in text(browser(world, "auditor").get("/"))
    assert 'href="/archive/"' not in text(browser(world, "operator").get("/"))


def test_a_batch_is_counted_first_and_then_queued(world: World, settings: Any, tmp_path: Path) -> None:
    archive_settings(settings, destination=str(tmp_path), trigger="batch")
    march = closed_ticket(world, day=day(3, 2))
    closed_ticket(world, day=day(5, 9))
    admin = browser(world, "admin", english=True)
    form = {"closed_from": "2026-03-01", "closed_to": "2026-03-31", "kind": "all"}
    audited = AuditEntry.objects.count()

    counted = admin.post(BATCH, {**form, "step": "count"})
    assert counted.status_code == 200
    body = text(counted)
    assert 'data-tickets="1" data-incidents="0"' in body
    assert "not archived yet: tickets 1, incidents 0." in body and ">Queue these for transfer</button>" in body
    assert not ArchiveRecord.objects.exists() and not Delivery.objects.exists()  # the dry run changes nothing
    assert AuditEntry.objects.count() == audited

    queued = admin.post(BATCH, {**form, "step": "queue"})
    assert queued.status_code == 302 and queued["Location"] == PAGE
    shown = text(admin.get(PAGE))
    assert "Queued for transfer: tickets 1, incidents 0." in shown
    assert list(ArchiveRecord.objects.values_list("ticket_id", flat=True)) == [march.pk]
    assert Delivery.objects.filter(kind="archive").count() == 1
    assert 'data-state="queued"' in shown and ">Verify</button>" not in shown  # nothing delivered yet

    again = text(admin.post(BATCH, {**form, "step": "count"}))
    assert 'data-tickets="0" data-incidents="0"' in again and "Nothing to queue." in again
    assert ">Queue these for transfer</button>" not in again


@pytest.mark.parametrize(
    ("form", "fields"),
    [
        ({"closed_from": "2026-3-1", "closed_to": "x"}, {"closed_from", "closed_to"}),
        ({"closed_from": "2026-02-30", "closed_to": "2026-03-31"}, {"closed_from"}),
        ({"closed_from": "2026-04-01", "closed_to": "2026-03-01"}, {"closed_to"}),
        ({"closed_from": "2025-01-01", "closed_to": "2026-03-31"}, {"closed_to"}),
        ({"closed_from": "2026-03-01", "closed_to": "2026-03-31", "kind": "letters"}, {"kind"}),
        ({}, {"closed_from", "closed_to"}),
    ],
)
@pytest.mark.parametrize("step", ["count", "queue"])
def test_bad_dates_give_field_errors_and_change_nothing(
    world: World, settings: Any, tmp_path: Path, form: dict[str, str], fields: set[str], step: str
) -> None:
    archive_settings(settings, destination=str(tmp_path), trigger="batch")
    closed_ticket(world, day=day(3, 2))
    refused = browser(world, "admin").post(BATCH, {**form, "step": step})
    assert refused.status_code == 400
    body = text(refused)
    assert {name for name in ("closed_from", "closed_to", "kind") if f'data-field="{name}"' in body} == fields
    assert 'id="archive-batch-count"' not in body
    assert not ArchiveRecord.objects.exists() and not Delivery.objects.exists()


def test_only_the_archive_runners_may_batch(world: World, settings: Any, tmp_path: Path) -> None:
    archive_settings(settings, destination=str(tmp_path), trigger="batch")
    closed_ticket(world, day=day(3, 2))
    form = {"closed_from": "2026-03-01", "closed_to": "2026-03-31", "step": "queue"}
    for who in ("auditor", "supervisor", "operator", "handler_a", "nobody"):
        assert browser(world, who).post(BATCH, form).status_code == 403
        assert browser(world, who).post(BATCH, {**form, "step": "count"}).status_code == 403
    assert Client().post(BATCH, form).status_code == 302  # to the login page
    assert browser(world, "admin").put(BATCH, form).status_code == 405
    assert not ArchiveRecord.objects.exists()


def test_verify_shows_ok_and_finds_a_tampered_package(world: World, settings: Any, tmp_path: Path) -> None:
    archive_settings(settings, destination=str(tmp_path))
    intact, tampered = closed_ticket(world), closed_ticket(world)
    assert outbox.drain().delivered == 2
    intact_record = ArchiveRecord.objects.get(ticket=intact)
    tampered_record = ArchiveRecord.objects.get(ticket=tampered)
    record_json = tmp_path / tampered.number / "data" / "record.json"
    record_json.write_text(record_json.read_text("utf-8").replace("群众满意", "群众不满意"), "utf-8")

    admin = browser(world, "admin", english=True)
    ok = admin.post(verify_url(intact_record), follow=True)
    assert ok.status_code == 200
    assert f"Package {intact.number} verified: every checksum matches." in text(ok)
    failed = admin.post(verify_url(tampered_record), follow=True)
    body = text(failed)
    assert f"Package {tampered.number} failed verification:" in body
    assert "data/record.json: sha256 differs from the manifest" in body
    intact_record.refresh_from_db()
    tampered_record.refresh_from_db()
    assert intact_record.verified_ok is True and tampered_record.verified_ok is False
    assert intact_record.verified_at is not None
    listed = text(admin.get(PAGE, {"verified": "failed"}))
    assert tampered.number in listed and intact.number not in listed and 'data-verified="failed"' in listed
    assert AuditEntry.objects.filter(action="archive_verify").count() == 2

    # In Chinese by default.
    chinese = text(browser(world, "admin").post(verify_url(tampered_record), follow=True))
    assert "data/record.json：sha256 与清单不一致" in chinese and f"档案包 {tampered.number}" in chinese

    # A package missing from its folder fails too.
    (tmp_path / intact.number / "bagit.txt").unlink()
    assert "failed verification" in text(admin.post(verify_url(intact_record), follow=True))
    intact_record.refresh_from_db()
    assert intact_record.verified_ok is False


def test_verify_is_refused_to_others_and_for_packages_not_delivered(
    world: World, settings: Any, tmp_path: Path
) -> None:
    archive_settings(settings, destination=str(tmp_path))
    ticket = closed_ticket(world)
    assert outbox.drain().delivered == 1
    record = ArchiveRecord.objects.get(ticket=ticket)
    assert browser(world, "auditor").post(verify_url(record)).status_code == 403
    for outsider in ("operator", "handler_a", "nobody"):
        assert browser(world, outsider).post(verify_url(record)).status_code == 404
    admin = browser(world, "admin", english=True)
    assert admin.post("/archive/records/999999/verify/").status_code == 404
    assert admin.get(verify_url(record)).status_code == 405

    waiting = closed_ticket(world)  # closed after the worker ran: queued, not delivered yet
    waiting_record = ArchiveRecord.objects.get(ticket=waiting)
    refused = admin.post(verify_url(waiting_record))
    assert refused.status_code == 409 and "has not been transferred yet" in text(refused)
    assert not ArchiveRecord.objects.filter(verified_at__isnull=False).exists()
    assert not AuditEntry.objects.filter(action="archive_verify").exists()


def test_the_verify_command_speaks_the_active_language(world: World, settings: Any, tmp_path: Path) -> None:
    archive_settings(settings, destination=str(tmp_path))
    ticket = closed_ticket(world)
    assert outbox.drain().delivered == 1
    with translation.override("en"):
        english = io.StringIO()
        call_command("archive_verify", stdout=english)
    assert english.getvalue().splitlines() == [f"OK: {ticket.number}", "1 package checked, 0 failed."]
    with translation.override("zh-hans"):
        chinese = io.StringIO()
        call_command("archive_verify", stdout=chinese)
        assert chinese.getvalue().splitlines() == [f"通过：{ticket.number}", "已检查 1 个档案包，0 个未通过。"]
        record_json = tmp_path / ticket.number / "data" / "record.json"
        record_json.write_text(record_json.read_text("utf-8").replace("群众满意", "群众不满意"), "utf-8")
        failing = io.StringIO()
        with pytest.raises(CommandError, match="1 个档案包中有 1 个未通过校验"):
            call_command("archive_verify", stdout=failing)
        assert failing.getvalue().splitlines()[0] == f"未通过：{ticket.number}"
        with pytest.raises(CommandError, match="--folder"):
            call_command("archive_verify", "--folder", str(tmp_path / "nowhere"))
