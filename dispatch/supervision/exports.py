"""Every table of the board as CSV (UTF-8 with BOM, so Excel reads Chinese) or XLSX (openpyxl).

Cells that a spreadsheet would run as a formula (text starting with = + - @, or a tab or carriage
return) are written with a leading apostrophe: an exported ticket title must never become a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from openpyxl import Workbook

from core.clock import local_zone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Table:
    name: str
    title: str
    headers: list[str]
    rows: list[list[Any]]


def safe_cell(value: Any) -> Any:
    """A value as a spreadsheet should show it: local times, text that cannot run as a formula."""
    if isinstance(value, Promise):
        value = str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cells(row: Sequence[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_cells(table.headers))
    for row in table.rows:
        writer.writerow(_cells(row))
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    workbook = Workbook(write_only=True)
    # Sheet titles may not hold []:*?/\ and are at most 31 characters.
    sheet = workbook.create_sheet(title="".join(c for c in table.title if c not in "[]:*?/\\")[:31] or "Sheet")
    sheet.append(_cells(table.headers))
    for row in table.rows:
        sheet.append(_cells(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
