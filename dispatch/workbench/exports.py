"""The search result as a table for CSV or XLSX: the supervision board's writers (UTF-8 BOM CSV, openpyxl
XLSX, formula-injection guard) with the workbench's own columns. Headers are translated (Chinese by default);
callers' numbers are masked for agencies exactly as on screen; at most EXPORT_LIMIT rows, with a note as the
last row when the search found more."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import islice
from typing import Any

import phonenumbers
from django.db.models import QuerySet
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from callcenter.models import Ticket
from callcenter.phones import national_digits
from dispatch.supervision.exports import Table
from dispatch.workbench import search
from organisation.models import User
from organisation.privacy import shown_text

EXPORT_LIMIT = 10_000
CHUNK = 1000


def headers() -> list[str]:
    return [
        _("Ticket"),
        str(capfirst(Ticket._meta.get_field("created_at").verbose_name)),
        _("State"),
        _("Urgency"),
        _("Channel"),
        _("Subject"),
        _("Title"),
        _("Description"),
        _("Address"),
        _("District"),
        _("Caller"),
        _("Caller phone"),
        _("Agency"),
        _("Stage"),
        _("Deadline"),
        _("Overdue"),
        _("Level"),
    ]


def _chunks(tickets: QuerySet[Ticket]) -> Iterator[list[Ticket]]:
    rows = tickets.iterator(chunk_size=CHUNK)
    while chunk := list(islice(rows, CHUNK)):
        yield chunk


def _time(value: str | None) -> dt.datetime | None:
    """Back from the row's ISO text to a time, which the writers show in the city's zone."""
    return dt.datetime.fromisoformat(value) if value else None


def _phone(value: str) -> str:
    """A number as dialled (13812341234) for the centre; agencies' rows are masked already (138****1234)."""
    if not value.startswith("+"):
        return value
    try:
        return national_digits(value)
    except phonenumbers.NumberParseException:  # a stored number it cannot read: as stored
        return value


def _cells(row: dict[str, Any], description: str) -> list[Any]:
    ticket, clock = row["ticket"], row["clock"] or {}
    agencies = "、".join(
        f"{wo['agency']['name']}（{wo['responsibility_label']}：{wo['state_label']}）" for wo in row["work_orders"]
    )
    return [
        ticket["number"],
        _time(ticket["created_at"]),
        ticket["state_label"],
        ticket["urgency_label"],
        ticket["channel_label"],
        ticket["subject"]["path"],
        ticket["title"],
        description,
        ticket["address"],
        row["district"]["name"] if row["district"] else "",
        ticket["caller_name"],
        _phone(ticket["caller_phone"]),
        agencies,
        clock.get("stage_label", ""),
        _time(clock.get("due_at")),
        bool(clock.get("overdue")) if clock else "",
        clock.get("level_label", ""),
    ]


def search_table(user: User, tickets: QuerySet[Ticket]) -> tuple[Table, int, int]:
    """The first EXPORT_LIMIT tickets of a search as a table; also how many matched and how many were written."""
    total = tickets.count()
    body: list[list[Any]] = []
    for chunk in _chunks(search.with_row_data(user, tickets)[:EXPORT_LIMIT]):
        for row, ticket in zip(search.present(user, chunk), chunk, strict=True):
            body.append(_cells(row, shown_text(user, ticket.description)))
    written = len(body)
    if total > written:
        note = _(
            "Only the first %(limit)d of %(total)d matching tickets were exported. "
            "Narrow the search to export the rest."
        ) % {"limit": written, "total": total}
        body.append([note] + [""] * (len(headers()) - 1))
    return Table("tickets", _("Ticket search"), headers(), body), total, written
