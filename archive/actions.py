"""The archive's writes (归档).

- ``queue_ticket`` / ``queue_incident``: inside the caller's transaction, one ArchiveRecord with its retention
  date and one outbox delivery of kind "archive" (exchange.outbox.enqueue_to). Queued once per ticket or incident:
  a second call finds the record and does nothing.
- ``queue_for_events``: registered with the event log's after-write seam; when ARCHIVE_TRIGGER is ``on_close``,
  the event a closing writes queues the archive in the closing transaction (committed or rolled back with it).
- ``do_archive_batch``: the records office's batch over a range of closing dates (a management command, an API,
  the records office's page); ``check_archive_batch_count`` counts what it would queue and changes nothing.
- ``do_verify_record``: re-check one delivered package in the archive folder (archive/verify.py) from the page,
  keeping when it was checked and whether it passed.
- ``do_record_transfer``: the worker's confirmation after the package arrived; the ticket's (or incident's)
  timeline gets its "archive" row here, exactly once however often the package was sent.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from archive import rules
from archive.models import ArchiveRecord, ArchiveState
from archive.verify import Finding, check_bag
from archive.workflow import ARCHIVE
from callcenter.models import Ticket, TicketState
from core import clock
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from dispatch import workflow
from dispatch.actions.machinery import emit_ticket_event, write_timeline
from dispatch.locks import lock_ticket
from dispatch.workflow import Machine
from emergency.actions.incidents import record_incident_step
from emergency.locks import lock_incident
from emergency.models import Incident
from emergency.states import IncidentState
from exchange.outbox import enqueue_to
from organisation.actions import audit
from organisation.models import User
from organisation.policy import may_run_archive
from realtime.models import Event

#: The outbox's delivery kind and event types of archive packages.
KIND = "archive"
TICKET_EVENT = "archive.ticket"
INCIDENT_EVENT = "archive.incident"
#: Tickets or incidents queued per transaction of a batch.
BATCH_CHUNK = 200
#: The longest range one batch may cover.
MAX_BATCH_DAYS = 366


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("archives are queued inside the transaction of the change that causes them")


def _queue(
    *, ticket: Ticket | None, incident: Incident | None, category: str, closed_at: dt.datetime, actor: User | None
) -> ArchiveRecord | None:
    target = rules.destination()
    if not target:
        return None
    existing = (
        ArchiveRecord.objects.filter(ticket=ticket) if ticket else ArchiveRecord.objects.filter(incident=incident)
    )
    found = existing.first()
    if found is not None:
        return found
    retention = rules.retention_for(category)
    closed_day = closed_at.astimezone(clock.local_zone()).date()
    record = ArchiveRecord(
        ticket=ticket,
        incident=incident,
        package_name=(ticket.number if ticket else incident.number if incident else ""),
        category=category,
        retention_years=retention.years,
        retention_until=retention.until(closed_day),
        closed_at=closed_at,
        destination=target,
        queued_at=clock.now(),
        queued_by=actor,
    )
    delivery = enqueue_to(
        KIND,
        target,
        TICKET_EVENT if ticket else INCIDENT_EVENT,
        json.dumps({"kind": record.kind, "package": record.package_name}, ensure_ascii=False),
    )
    record.delivery_id = delivery.id
    record.save()
    return record


def queue_ticket(ticket: Ticket, *, actor: User | None = None) -> ArchiveRecord | None:
    """Queue a closed ticket's package (inside the caller's transaction). None when archiving is off."""
    _require_transaction()
    if ticket.state != TicketState.CLOSED or ticket.closed_at is None:
        return None
    return _queue(
        ticket=ticket, incident=None, category=ticket.appeal_type.code, closed_at=ticket.closed_at, actor=actor
    )


def queue_incident(incident: Incident, *, actor: User | None = None) -> ArchiveRecord | None:
    _require_transaction()
    if incident.state != IncidentState.CLOSED or incident.closed_at is None:
        return None
    return _queue(ticket=None, incident=incident, category="incident", closed_at=incident.closed_at, actor=actor)


def _closing(event: Event, subject: str) -> int | None:
    payload = event.payload if isinstance(event.payload, dict) else {}
    if payload.get("to_state") != "closed" or payload.get("from_state") == "closed":
        return None
    summary = payload.get(subject)
    return summary.get("id") if isinstance(summary, dict) else None


def queue_for_events(events: Sequence[Event]) -> None:
    """After-write listener: a ticket or incident that just closed is queued in the same transaction."""
    if not rules.archives_on_close():
        return
    for event in events:
        if event.type == "ticket.changed" and (ticket_id := _closing(event, "ticket")):
            ticket = Ticket.objects.select_related("appeal_type").filter(pk=ticket_id).first()
            if ticket is not None:
                queue_ticket(ticket)
        elif event.type == "incident.changed" and (incident_id := _closing(event, "incident")):
            incident = Incident.objects.filter(pk=incident_id).first()
            if incident is not None:
                queue_incident(incident)


# --- the records office's batch ----------------------------------------------------------------------------


@dataclass
class BatchResult:
    tickets: int = 0
    incidents: int = 0


BATCH_KINDS = ("tickets", "incidents", "all")


def check_closing_range(closed_from: Any, closed_to: Any, *, max_days: int | None) -> tuple[dt.date, dt.date]:
    """A range of closing dates (Asia/Shanghai, both included); every bad field at once."""
    return _checked(closed_from, closed_to, None, max_days=max_days)[:2]  # type: ignore[return-value]


def check_archive_batch(closed_from: Any, closed_to: Any, kind: Any = "all") -> tuple[dt.date, dt.date, str]:
    """Validate a batch's range (dates of closing, Asia/Shanghai, both included) and kind; every bad field at once."""
    first, last, which = _checked(closed_from, closed_to, kind, max_days=MAX_BATCH_DAYS)
    return first, last, str(which)


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _checked(
    closed_from: Any, closed_to: Any, kind: Any, *, max_days: int | None
) -> tuple[dt.date, dt.date, str | None]:
    fields: dict[str, list[str]] = {}
    first, last = _day(closed_from), _day(closed_to)
    if first is None:
        fields["closed_from"] = [_("Enter a date as YYYY-MM-DD.")]
    if last is None:
        fields["closed_to"] = [_("Enter a date as YYYY-MM-DD.")]
    if kind is not None and kind not in BATCH_KINDS:
        fields["kind"] = [_("Choose tickets, incidents or all.")]
    if first is not None and last is not None:
        if first > last:
            fields["closed_to"] = [_("The end of the range comes before its start.")]
        elif max_days is not None and (last - first).days >= max_days:
            fields["closed_to"] = [_("A batch covers at most a year.")]
    if fields or first is None or last is None:
        raise InvalidInput(_("Check the range of closing dates."), fields=fields)
    return first, last, kind


def day_range(closed_from: dt.date, closed_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = clock.local_zone()
    start = dt.datetime.combine(closed_from, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(closed_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def _closed_not_archived(model: Any, closed: str, start: Any, end: Any) -> Any:
    return model.objects.filter(state=closed, closed_at__gte=start, closed_at__lt=end, archive_record__isnull=True)


def _queue_closed(
    model: Any, closed: str, lock: Any, field: str, queue: Any, start: Any, end: Any, actor: User | None
) -> int:
    """Queue every row of ``model`` closed in [start, end) and not archived yet, in chunks of locked rows."""
    ids = list(_closed_not_archived(model, closed, start, end).order_by("id").values_list("id", flat=True))
    queued = 0
    for chunk_start in range(0, len(ids), BATCH_CHUNK):
        with transaction.atomic(durable=True):
            for pk in ids[chunk_start : chunk_start + BATCH_CHUNK]:
                row = lock(pk)
                if not ArchiveRecord.objects.filter(**{field: row}).exists() and queue(row, actor=actor):
                    queued += 1
    return queued


def check_archive_batch_count(closed_from: Any, closed_to: Any, *, kind: Any = "all", actor: User) -> BatchResult:
    """The dry run of a batch: how many tickets and incidents ``do_archive_batch`` would queue now. Writes nothing."""
    if not may_run_archive(actor):
        raise NotAllowed(_("Your role may not queue archive transfers."))
    first, last, which = check_archive_batch(closed_from, closed_to, kind)
    start, end = day_range(first, last)
    result = BatchResult()
    if which in ("tickets", "all"):
        result.tickets = _closed_not_archived(Ticket, TicketState.CLOSED, start, end).count()
    if which in ("incidents", "all"):
        result.incidents = _closed_not_archived(Incident, IncidentState.CLOSED, start, end).count()
    return result


def do_archive_batch(closed_from: Any, closed_to: Any, *, kind: Any = "all", actor: User | None) -> BatchResult:
    """Queue every closed ticket and/or incident closed in the range that is not archived yet.

    ``actor`` None: the management command (the operator of the machine). Runs in transactions of BATCH_CHUNK
    objects, each locking its tickets (or incidents) one by one in id order, so a closing racing the batch queues
    once: whoever commits second finds the record.
    """
    if actor is not None and not may_run_archive(actor):
        raise NotAllowed(_("Your role may not queue archive transfers."))
    first, last, which = check_archive_batch(closed_from, closed_to, kind)
    if not rules.destination():
        raise Conflict(_("No archive destination is configured."), code="archive_not_configured")
    start, end = day_range(first, last)
    result = BatchResult()
    if which in ("tickets", "all"):
        result.tickets = _queue_closed(
            Ticket, TicketState.CLOSED, lock_ticket, "ticket", queue_ticket, start, end, actor
        )
    if which in ("incidents", "all"):
        result.incidents = _queue_closed(
            Incident, IncidentState.CLOSED, lock_incident, "incident", queue_incident, start, end, actor
        )
    if actor is not None:
        with transaction.atomic(durable=True):
            audit(
                actor,
                "archive_batch",
                target_type="archive",
                details={
                    "closed_from": first.isoformat(),
                    "closed_to": last.isoformat(),
                    "kind": which,
                    "tickets": result.tickets,
                    "incidents": result.incidents,
                },
            )
    return result


# --- the worker's confirmation -------------------------------------------------------------------------------


def do_record_transfer(delivery_id: str, *, package_sha256: str, payload_oxum: str) -> ArchiveRecord | None:
    """The package of this delivery arrived: mark the record transferred and write the timeline row, once."""
    with transaction.atomic(durable=True):
        found = ArchiveRecord.objects.filter(delivery_id=delivery_id).values_list("id", "ticket_id", "incident_id")
        row = found.first()
        if row is None:
            return None
        record_id, ticket_id, incident_id = row
        # The lock order: tickets (or incidents) before anything of theirs.
        ticket = lock_ticket(ticket_id) if ticket_id else None
        incident = lock_incident(incident_id) if incident_id else None
        record = ArchiveRecord.objects.select_for_update(of=("self",)).get(pk=record_id)
        if record.state == ArchiveState.TRANSFERRED:
            return record  # a repeat (the worker died after sending): already recorded
        at = clock.now()
        record.state = ArchiveState.TRANSFERRED
        record.transferred_at = at
        record.package_sha256 = package_sha256
        record.payload_oxum = payload_oxum
        record.save(update_fields=["state", "transferred_at", "package_sha256", "payload_oxum"])
        data = {
            "package": record.package_name,
            "delivery": str(record.delivery_id),
            "sha256": package_sha256,
            "retention_years": record.retention_years,
            "retention_until": record.retention_until.isoformat() if record.retention_until else None,
        }
        if ticket is not None:
            workflow.authorise(Machine.TICKET, ticket.state, ARCHIVE, actor=None, obj=ticket)  # type: ignore[arg-type]
            write_timeline(
                ticket=ticket,
                machine=Machine.TICKET,
                action=ARCHIVE,
                from_state=ticket.state,
                to_state=ticket.state,
                actor=None,
                at=at,
                data=data,
            )
            emit_ticket_event(ticket, "ticket.changed", action=ARCHIVE, from_state=ticket.state, to_state=ticket.state)
        elif incident is not None:
            record_incident_step(incident, actor=None, action=ARCHIVE, machine=Machine.INCIDENT.value, at=at, data=data)
        return record


# --- re-checking a delivered package --------------------------------------------------------------------------


def do_verify_record(record_id: Any, *, actor: User) -> Finding:
    """Validate one transferred package where it was delivered (a folder) and keep when and whether it passed.

    A package delivered to a web address is re-checked where the records office keeps it (``manage.py
    archive_verify --folder``): refused here, nothing recorded. A package missing from its folder fails.
    """
    if not may_run_archive(actor):
        raise NotAllowed(_("Your role may not verify archive packages."))
    record = ArchiveRecord.objects.filter(pk=record_id).first() if isinstance(record_id, int) else None
    if record is None:
        raise NotFound(_("No such archive record."))
    if record.state != ArchiveState.TRANSFERRED:
        raise Conflict(_("This package has not been transferred yet."), code="archive_not_transferred")
    if rules.is_url(record.destination) or not Path(record.destination).is_absolute():
        raise Conflict(
            _("This package went to a web address; verify it where the records office keeps it."),
            code="archive_not_in_folder",
        )
    path = Path(record.destination) / record.package_name
    if (path / "bagit.txt").is_file():
        finding = check_bag(path, expected_sha256=record.package_sha256)
    else:
        finding = Finding(record.package_name, False, (_("The package is not in the archive folder."),))
    with transaction.atomic(durable=True):
        at = clock.now()
        ArchiveRecord.objects.filter(pk=record.pk).update(verified_at=at, verified_ok=finding.ok)
        audit(
            actor,
            "archive_verify",
            target_type="archive",
            target_id=record.pk,
            details={"package": record.package_name, "ok": finding.ok},
        )
    return finding
