"""Adding a photo or document to a ticket or a work order: the only writer of Attachment rows.

Order of refusals: a ticket or work order the actor cannot see is 404; one they may not add files to (role,
agency, state) 403 or 409 - both decided before the upload is decoded; a bad file or kind 400 naming ``file``
and ``kind``. Then, in one durable transaction, the row is locked and the decision taken again (its state may
have moved meanwhile), the files are written to storage, the row, its timeline row (``attach``: not a
transition, it keeps the state) and its ``attachment.added`` event. When anything fails after a file was written
the file is deleted again, so a refused or failed upload leaves neither a row nor a file.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.models import Ticket
from core import clock
from core.errors import InvalidInput, NotFound
from dispatch.access import visible_tickets, visible_work_orders
from dispatch.actions.machinery import agency_ids_of_ticket, write_timeline
from dispatch.attachments import files
from dispatch.attachments.access import (
    TICKET_KINDS,
    authorise_ticket_attachment,
    authorise_work_order_attachment,
    work_order_kinds,
)
from dispatch.attachments.models import Attachment, AttachmentKind
from dispatch.locks import lock_ticket, lock_work_order
from dispatch.models import WorkOrder
from dispatch.workflow import Machine
from organisation.models import User, city_or_default
from realtime.events import append_event

logger = logging.getLogger(__name__)


def check_attachment(
    upload: UploadedFile | None, *, kind: Any, kinds: tuple[str, ...], default: str
) -> tuple[str, files.PreparedFile]:
    """The kind and the cleaned file, or InvalidInput naming every bad field (``kind``, ``file``) at once."""
    errors: dict[str, list[str]] = {}
    chosen = default if kind is None or kind == "" else kind
    if chosen not in kinds:
        if chosen == AttachmentKind.REPLY and chosen in AttachmentKind.values:
            errors["kind"] = [_("Only the work order's agency may add the proof of its reply.")]
        else:
            errors["kind"] = [_("One of: %(v)s") % {"v": ", ".join(kinds)}]
    prepared = None
    try:
        prepared = files.prepare(upload)
    except InvalidInput as refusal:
        errors.update(refusal.fields)
    if errors or prepared is None:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    return str(chosen), prepared


def do_attach_to_ticket(ticket_id: int, upload: UploadedFile | None, *, actor: User, kind: Any = None) -> Attachment:
    """A file on the ticket itself (an intake photo): the centre's intake desk (dispatch/attachments/access.py)."""
    ticket = visible_tickets(actor).filter(pk=int(ticket_id)).first()
    if ticket is None:
        raise NotFound(_("No such ticket."))
    authorise_ticket_attachment(actor, ticket)
    chosen, prepared = check_attachment(upload, kind=kind, kinds=TICKET_KINDS, default=AttachmentKind.INTAKE)

    def lock() -> tuple[Ticket, WorkOrder | None]:
        locked = lock_ticket(ticket.pk)
        authorise_ticket_attachment(actor, locked)
        return locked, None

    return _store(prepared, chosen, actor=actor, lock=lock)


def do_attach_to_work_order(
    work_order_id: int, upload: UploadedFile | None, *, actor: User, kind: Any = None
) -> Attachment:
    """A file on a work order (a progress note's photo, the reply's proof of work): its agency while it may write
    a note, the centre's dispatch desk while it is open (dispatch/attachments/access.py)."""
    work_order = visible_work_orders(actor).filter(pk=int(work_order_id)).first()
    if work_order is None:
        raise NotFound(_("No such work order."))
    authorise_work_order_attachment(actor, work_order)
    chosen, prepared = check_attachment(upload, kind=kind, kinds=work_order_kinds(actor), default=AttachmentKind.NOTE)

    def lock() -> tuple[Ticket, WorkOrder | None]:
        ticket, locked = lock_work_order(work_order.pk, visible_to=actor)
        authorise_work_order_attachment(actor, locked)
        return ticket, locked

    return _store(prepared, chosen, actor=actor, lock=lock)


def _storage() -> Storage:
    # The storage API only: STORAGES["default"] decides where files go (file system, or e.g. S3 by setting).
    return default_storage


def _stored_name(at: dt.datetime, suffix: str) -> str:
    # Random, and nothing about the ticket, the caller or the original file name.
    return f"attachments/{at:%Y/%m}/{uuid.uuid4().hex}{suffix}"


def _store(
    prepared: files.PreparedFile,
    kind: str,
    *,
    actor: User,
    lock: Callable[[], tuple[Ticket, WorkOrder | None]],
) -> Attachment:
    storage = _storage()
    written: list[str] = []
    try:
        with transaction.atomic(durable=True):
            at = clock.now()
            ticket, work_order = lock()
            name = storage.save(_stored_name(at, f".{prepared.extension}"), ContentFile(prepared.content))
            written.append(name)
            thumbnail = ""
            if prepared.thumbnail is not None:
                thumbnail = storage.save(_stored_name(at, "-thumb.jpg"), ContentFile(prepared.thumbnail))
                written.append(thumbnail)
            attachment = Attachment.objects.create(
                ticket=ticket,
                work_order=work_order,
                kind=kind,
                file=name,
                thumbnail=thumbnail,
                original_name=prepared.original_name,
                content_type=prepared.content_type,
                size=prepared.size,
                sha256=prepared.sha256,
                uploaded_by=actor,
                uploaded_by_agency_id=actor.agency_id,
                created_at=at,
            )
            _record(attachment, ticket, work_order, actor=actor, at=at)
    except BaseException:
        for leftover in written:
            try:
                storage.delete(leftover)
            except Exception:  # the original error matters; a stray randomly named file does not
                logger.warning("could not delete an attachment file after a failed upload")
        raise
    logger.info(
        "attachment %s added to ticket %s, work order %s (%s, %s bytes)",
        attachment.pk,
        ticket.pk,
        work_order.pk if work_order else None,
        attachment.content_type,
        attachment.size,
    )
    return attachment


def _record(
    attachment: Attachment, ticket: Ticket, work_order: WorkOrder | None, *, actor: User, at: dt.datetime
) -> None:
    """The timeline row and the event. Neither carries the file's name: it may hold personal data."""
    details = {
        "attachment_id": attachment.pk,
        "kind": attachment.kind,
        "content_type": attachment.content_type,
        "size": attachment.size,
    }
    state = work_order.state if work_order else ticket.state
    write_timeline(
        ticket=ticket,
        work_order=work_order,
        machine=Machine.WORK_ORDER if work_order else Machine.TICKET,
        action="attach",
        from_state=state,
        to_state=state,
        actor=actor,
        at=at,
        data=details,
    )
    append_event(
        "attachment.added",
        {
            **details,
            "ticket_id": ticket.pk,
            "work_order_id": work_order.pk if work_order else None,
            "agency_id": work_order.agency_id if work_order else None,
            "is_image": attachment.is_image,
        },
        ticket_id=ticket.pk,
        agency_ids=[work_order.agency_id] if work_order else agency_ids_of_ticket(ticket),
        city_id=city_or_default(ticket.city_id),
    )
