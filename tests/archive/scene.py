"""A closed ticket with everything an archive package holds: callers, work order, reply with a file, revisit."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from callcenter.actions import do_create_ticket
from callcenter.models import Ticket
from core import clock
from dispatch.actions import (
    do_approve_work_order,
    do_close_ticket,
    do_dispatch_ticket,
    do_reply_work_order,
    do_revisit_ticket,
    do_sign_work_order,
)
from dispatch.attachments.actions import do_attach_to_ticket, do_attach_to_work_order
from dispatch.models import WorkOrder
from tests.conftest import World, ticket_payload

PHONE = "13812341234"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def archive_settings(django_settings: Any, **values: Any) -> None:
    values.setdefault("staging_dir", str(Path(tempfile.gettempdir()) / f"hotline-archive-staging-{os.getpid()}"))
    django_settings.HOTLINE = {**settings.HOTLINE, **{f"ARCHIVE_{key.upper()}": value for key, value in values.items()}}


def closed_ticket(world: World, *, day: dt.datetime | None = None, phone: str = PHONE, **payload: Any) -> Ticket:
    users = world.users
    moment = day or clock.now()
    with clock.pinned_at(moment):
        ticket, _created = do_create_ticket(
            ticket_payload(phone=phone, description=f"垃圾三天无人清运，回电{phone}。", **payload),
            actor=users["operator"],
        )
        do_attach_to_ticket(
            ticket.pk, SimpleUploadedFile("现场照片说明.pdf", PDF, "application/pdf"), actor=users["operator"]
        )
        do_dispatch_ticket(
            ticket.pk, actor=users["dispatcher"], lead_agency_id=world.agency_a.pk, override_reason="测试指定"
        )
        work_order = WorkOrder.objects.get(ticket=ticket)
        do_sign_work_order(work_order.pk, actor=users["handler_a"])
        do_attach_to_work_order(
            work_order.pk,
            SimpleUploadedFile("处理结果.pdf", PDF, "application/pdf"),
            actor=users["handler_a"],
            kind="reply",
        )
        do_reply_work_order(
            work_order.pk, actor=users["handler_a"], reply="已安排清运，现场已清理干净。", outcome="resolved"
        )
        do_approve_work_order(work_order.pk, actor=users["dispatcher"])
        do_revisit_ticket(ticket.pk, actor=users["operator"], satisfaction="satisfied", resolved=True, note="群众满意")
        do_close_ticket(ticket.pk, actor=users["dispatcher"])
    return Ticket.objects.get(pk=ticket.pk)


def every_text(folder: Path) -> str:
    return "\n".join(path.read_text("utf-8", errors="replace") for path in folder.rglob("*") if path.is_file())
