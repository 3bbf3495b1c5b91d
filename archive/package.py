"""Building one package: a BagIt bag (RFC 8493, the ``bagit`` library) named after the ticket or incident.

    <number>/
      bagit.txt  bag-info.txt  manifest-sha256.txt  manifest-sha512.txt  tagmanifest-*.txt
      data/record.json     the record, bilingual labels, retention (archive/contents.py)
      data/README.txt      what the package holds, in Chinese and English
      data/attachments/    the ticket's photos and documents, read through Django's storage API

The same record gives the same payload on every attempt (the Bagging-Date is the day it was queued), so a
repeated delivery carries the same package under the same name. ``bagit.make_bag`` changes the process's working
directory while it runs: packages are built only in the outbox worker (a process of its own, one delivery at a
time), never in a web process.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import bagit
from django.core.files.storage import default_storage
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from archive import rules
from archive.contents import (
    LANGUAGES,
    attachment_file_name,
    both,
    incident_contents,
    ticket_attachments,
    ticket_contents,
)
from archive.models import ArchiveRecord
from core import clock

FORMAT = "hotline-archive/1"
CHECKSUMS = ["sha256", "sha512"]
TAGMANIFEST = "tagmanifest-sha256.txt"

#: The names of record.json's parts and fields, in both languages (its "labels").
FIELD_LABELS: dict[str, Any] = {
    "ticket": _("Ticket"),
    "incident": _("Incident"),
    "callers": _("Callers"),
    "work_orders": _("Work orders"),
    "replies": _("Replies"),
    "timeline": _("Timeline"),
    "revisits": _("Revisits"),
    "attachments": _("Attachments"),
    "agency_tasks": _("Agencies' tasks"),
    "retention": _("Retention period"),
    "number": _("Number"),
    "state": _("State"),
    "phone": _("Phone"),
    "name": _("Name"),
    "at": _("Time"),
    "action": _("Action"),
    "note": _("Note"),
    "text": _("Reply"),
    "satisfaction": _("Satisfaction"),
    "sha256": _("SHA-256"),
}


def retention_label(years: int | None) -> dict[str, str]:
    if years is None:
        return both(_("permanent (永久)"))
    return both(lambda: _("%(years)s years") % {"years": years})


def record_document(record: ArchiveRecord, contents: dict[str, Any]) -> dict[str, Any]:
    title = _("12345 hotline ticket record") if record.ticket_id else _("12345 hotline incident record")
    return {
        "format": FORMAT,
        "title": both(title),
        "package": record.package_name,
        "delivery_id": str(record.delivery_id),
        "retention": {
            "category": record.category,
            "years": record.retention_years,
            "until": record.retention_until.isoformat() if record.retention_until else None,
            **retention_label(record.retention_years),
        },
        "caller_phones": "full" if rules.full_phones() else "masked",
        "labels": {key: both(label) for key, label in FIELD_LABELS.items()},
        **contents,
    }


def readme(record: ArchiveRecord, document: dict[str, Any]) -> str:
    """What the package holds, in Chinese, then in English."""
    lines: list[str] = []
    retention = document["retention"]
    for key, language in LANGUAGES:
        with translation.override(language):
            lines.append(
                _(
                    "%(title)s %(package)s. record.json holds the record, its callers, timeline, replies, revisits "
                    "and the list of attachments; attachments/ holds the files. Every file's checksum is in the "
                    "bag's manifests (BagIt, RFC 8493). Retention period: %(retention)s, until %(until)s."
                )
                % {
                    "title": document["title"][key],
                    "package": record.package_name,
                    "retention": retention[key],
                    "until": retention["until"] or retention[key],
                }
            )
            lines.append(
                str(
                    _("Phone numbers of callers: full.")
                    if rules.full_phones()
                    else _("Phone numbers of callers: masked.")
                )
            )
            lines.append("")
    return "\n".join(lines)


def bag_info(record: ArchiveRecord) -> dict[str, str]:
    def pair(text: Any) -> str:
        labels = both(text)
        return f"{labels['zh']} / {labels['en']}"

    title = _("12345 hotline ticket record") if record.ticket_id else _("12345 hotline incident record")
    retention = retention_label(record.retention_years)
    return {
        "Source-Organization": pair(_("12345 Government Service Hotline")),
        "External-Identifier": record.package_name,
        "External-Description": pair(title),
        "Internal-Sender-Identifier": f"{record.kind}:{record.ticket_id or record.incident_id}",
        "Bagging-Date": record.queued_at.astimezone(clock.local_zone()).date().isoformat(),
        "Hotline-Delivery-Id": str(record.delivery_id),
        "Hotline-Closed-At": record.closed_at.astimezone(clock.local_zone()).isoformat(),
        "Hotline-Retention-Period": f"{retention['zh']} / {retention['en']}",
        "Hotline-Retention-Until": record.retention_until.isoformat() if record.retention_until else "permanent",
        "Hotline-Caller-Phones": "full" if rules.full_phones() else "masked",
    }


def build(record: ArchiveRecord, workdir: Path) -> Path:
    """Write the bag for ``record`` under ``workdir`` (which must be empty); returns the bag's folder."""
    bag_dir = workdir / record.package_name
    (bag_dir / "attachments").mkdir(parents=True)
    if record.ticket is not None:
        attachments = ticket_attachments(record.ticket)
        contents = ticket_contents(record.ticket, attachments)
        for attachment in attachments:
            with default_storage.open(attachment.file.name, "rb") as source:
                (bag_dir / attachment_file_name(attachment)).write_bytes(source.read())
    else:
        assert record.incident is not None
        contents = incident_contents(record.incident)
    document = record_document(record, contents)
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    (bag_dir / "record.json").write_text(text, encoding="utf-8")
    (bag_dir / "README.txt").write_text(readme(record, document), encoding="utf-8")
    bagit.make_bag(str(bag_dir), bag_info(record), checksums=CHECKSUMS)
    return bag_dir


def fingerprint(bag_dir: Path) -> str:
    """SHA-256 of the tag manifest: it covers every manifest, which covers every file."""
    return hashlib.sha256((bag_dir / TAGMANIFEST).read_bytes()).hexdigest()


def payload_oxum(bag_dir: Path) -> str:
    return str(bagit.Bag(str(bag_dir)).info.get("Payload-Oxum", ""))


def as_tar(bag_dir: Path) -> bytes:
    """The bag as an uncompressed tar with one top folder, entries sorted, owners and times fixed."""
    buffer = io.BytesIO()
    paths = sorted(path for path in bag_dir.rglob("*"))
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in [bag_dir, *paths]:
            info = tar.gettarinfo(str(path), arcname=str(Path(bag_dir.name) / path.relative_to(bag_dir)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_dir():
                tar.addfile(info)
            else:
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
    return buffer.getvalue()
