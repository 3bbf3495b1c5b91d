"""The outbox's sender of archive packages (kind "archive", registered at ready()).

Each attempt builds the package afresh in a staging folder of its own (``ARCHIVE_STAGING_DIR``/<delivery id>),
delivers it, records the transfer (archive.actions.do_record_transfer) and removes the staging folder:

- to a folder: copied to ``.<name>.<random>.partial`` beside the target and renamed to ``<name>`` (a rename in one
  file system is atomic: the records office never sees half a package). A package of that name already carrying
  this delivery id is a repeat (the worker died after the rename): nothing is copied, the attempt succeeds.
- to a URL: POSTed as a tar of the bag (SSRF-checked like webhooks, no redirects followed), with
  ``X-Hotline-Delivery`` (stable across attempts: the receiver drops repeats by it), the package's name and
  checksum, and - with ``ARCHIVE_SIGNING_SECRET`` - the webhooks' HMAC-SHA256 signature header.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from pathlib import Path

import bagit
from django.conf import settings

from archive import actions, package, rules
from archive.models import ArchiveRecord
from exchange import signing, targets
from exchange.models import Delivery
from exchange.outbox import Outcome

KIND = actions.KIND


def _copy_to_folder(bag_dir: Path, destination: str, delivery_id: str) -> Outcome:
    folder = Path(destination)
    if not folder.is_absolute() or not folder.is_dir():
        return Outcome(None, "folder_missing")
    final = folder / bag_dir.name
    if final.exists():
        return _already_there(final, delivery_id)
    partial = folder / f".{bag_dir.name}.{uuid.uuid4().hex}.partial"
    try:
        shutil.copytree(bag_dir, partial)
        os.rename(partial, final)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if final.exists():  # another attempt of the same delivery won the rename
            return _already_there(final, delivery_id)
        raise
    return Outcome(None, "")


def _already_there(final: Path, delivery_id: str) -> Outcome:
    try:
        same = bagit.Bag(str(final)).info.get("Hotline-Delivery-Id") == delivery_id
    except bagit.BagError:
        same = False
    return Outcome(None, "" if same else "package_exists")


def _post(bag_dir: Path, delivery: Delivery, fingerprint: str, now: dt.datetime) -> Outcome:
    try:
        target = targets.resolve_target(delivery.destination, allow_private=rules.allow_private_network())
    except targets.TargetRefused as refused:
        return Outcome(None, refused.code)
    body = package.as_tar(bag_dir)
    headers = {
        "Content-Type": "application/x-tar",
        "User-Agent": "hotline-archive/1",
        "X-Hotline-Delivery": str(delivery.id),
        "X-Hotline-Event": delivery.event_type,
        "X-Hotline-Package": bag_dir.name,
        "X-Hotline-Package-SHA256": fingerprint,
    }
    if secret := rules.signing_secret():
        headers["X-Hotline-Signature"] = signing.signature_header([secret], int(now.timestamp()), body)
    hotline = settings.HOTLINE
    try:
        status = targets.post(
            target,
            body,
            headers,
            connect_timeout=float(hotline.get("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 5)),
            read_timeout=float(hotline.get("ARCHIVE_READ_TIMEOUT_SECONDS", 60)),
        )
    except TimeoutError:
        return Outcome(None, "timeout")
    except OSError:
        return Outcome(None, "connection")
    except Exception:  # a malformed response (http.client.HTTPException and the like)
        return Outcome(None, "bad_response")
    if 200 <= status < 300:
        return Outcome(status, "")
    return Outcome(status, "redirect" if 300 <= status < 400 else "http_status")


def send_package(delivery: Delivery, now: dt.datetime) -> Outcome:
    record = (
        ArchiveRecord.objects.select_related("ticket__appeal_type", "ticket__subject", "ticket__caller", "incident")
        .filter(delivery_id=delivery.id)
        .first()
    )
    if record is None:
        return Outcome(None, "no_archive_record")
    staging = Path(rules.staging_dir()) / str(delivery.id)
    shutil.rmtree(staging, ignore_errors=True)  # what a killed attempt left
    staging.mkdir(parents=True)
    try:
        try:
            bag_dir = package.build(record, staging)
            fingerprint = package.fingerprint(bag_dir)
        except (OSError, bagit.BagError):  # e.g. an attachment missing from storage: retried, then parked
            return Outcome(None, "package_build")
        if rules.is_url(delivery.destination):
            outcome = _post(bag_dir, delivery, fingerprint, now)
        else:
            try:
                outcome = _copy_to_folder(bag_dir, delivery.destination, str(delivery.id))
            except OSError:
                outcome = Outcome(None, "folder_write")
        if outcome.ok:
            actions.do_record_transfer(
                str(delivery.id), package_sha256=fingerprint, payload_oxum=package.payload_oxum(bag_dir)
            )
        return outcome
    finally:
        shutil.rmtree(staging, ignore_errors=True)
