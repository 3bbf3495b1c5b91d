"""Bulk import of reference data from CSV or XLSX: reading the table, and the plan of what a file would change.

Every import is planned first: each row is checked and compared with what is stored, giving per row the action
("create", "update", "unchanged") and each changed field before and after. A dry run returns the plan and writes
nothing; a real run writes the same plan through the actions (audited), all or nothing. A file with any bad row
is refused whole, each problem named by its line (the header is line 1).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from core.errors import InvalidInput

MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"

Row = tuple[int, dict[str, str]]


@dataclass
class RowPlan:
    line: int
    key: str
    action: str  # "create", "update", "unchanged", "delete"
    changes: dict[str, list[Any]] = field(default_factory=dict)  # field -> [before, after]

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "key": self.key, "action": self.action, "changes": self.changes}


@dataclass
class ImportPlan:
    kind: str
    rows: list[RowPlan] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dry_run: bool = True

    def counts(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "unchanged": 0, "delete": 0}
        for row in self.rows:
            counts[row.action] = counts.get(row.action, 0) + 1
        return counts

    def refuse_if_invalid(self) -> None:
        if self.errors:
            raise InvalidInput(_("The file was not imported: correct the rows named."), fields={"rows": self.errors})

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dry_run": self.dry_run,
            "applied": not self.dry_run,
            "counts": self.counts(),
            "rows": [row.as_dict() for row in self.rows],
        }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets store codes typed as numbers as floats
    return str(value).strip()


def read_table(data: bytes, filename: str = "") -> tuple[list[str], list[Row]]:
    """The header and the rows (with their line numbers) of a CSV (UTF-8, or GB18030 as Excel saves it in China)
    or XLSX file (its first sheet). Refuses an unreadable, empty or oversized file with a 400."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(_("The file is too large."), fields={"file": [_("At most 5 MB.")]})
    if data.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        header, rows = _read_xlsx(data)
    else:
        header, rows = _read_csv(data)
    header = [h.strip().lower() for h in header]
    if not any(header):
        raise InvalidInput(_("The file has no header row."), fields={"file": [_("The first row names the columns.")]})
    if len(rows) > MAX_ROWS:
        raise InvalidInput(_("Too many rows."), fields={"file": [_("At most %(n)d rows.") % {"n": MAX_ROWS}]})
    table = []
    for line, values in rows:
        if not any(values):
            continue
        table.append((line, {name: (values[i] if i < len(values) else "") for i, name in enumerate(header) if name}))
    return header, table


def _read_csv(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput(_("The file is neither UTF-8 nor GB18030 text."), fields={"file": [_("Unreadable.")]})
    try:
        lines = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise InvalidInput(_("The CSV file cannot be read."), fields={"file": [str(error)]}) from None
    if not lines:
        return [], []
    return lines[0], [(n, [_cell(v) for v in row]) for n, row in enumerate(lines[1:], start=2)]


def _read_xlsx(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise InvalidInput(_("The XLSX file cannot be read."), fields={"file": [_("Unreadable.")]}) from None
    try:
        sheet = book.worksheets[0]
        rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 2)]
    finally:
        book.close()
    if not rows:
        return [], []
    return rows[0], list(enumerate(rows[1:], start=2))


def changes_of(current: dict[str, Any] | None, wanted: dict[str, Any]) -> dict[str, list[Any]]:
    """The fields whose value would change ([before, after]); every field for a new row ([None, after])."""
    if current is None:
        return {name: [None, value] for name, value in wanted.items()}
    return {name: [current.get(name), value] for name, value in wanted.items() if current.get(name) != value}


def flag(value: str, line: int, name: str, errors: list[str]) -> bool | None:
    """A yes/no cell: true/false, yes/no, 1/0, 是/否 (None when empty)."""
    lowered = value.strip().lower()
    if not lowered:
        return None
    if lowered in ("1", "true", "yes", "y", "是"):
        return True
    if lowered in ("0", "false", "no", "n", "否"):
        return False
    errors.append(line_problem(line, _("%(name)s is not yes or no: %(value)s") % {"name": name, "value": value}))
    return None


def line_problem(line: int, problem: str) -> str:
    """A bad row's problem (already translated) as the refusal names it: "line 7: ..." in the active language."""
    return _("line %(line)d: %(problem)s") % {"line": line, "problem": problem}


def unknown_column_problems(header: Iterable[str], known: Iterable[str]) -> list[str]:
    """One translated problem per column of the file that the import does not know."""
    return [_("unknown column %(column)s") % {"column": name} for name in unknown_columns(header, known)]


def split_codes(value: str) -> list[str]:
    return [code.strip() for code in value.replace(",", "|").split("|") if code.strip()]


def unknown_columns(header: Iterable[str], known: Iterable[str]) -> list[str]:
    return [name for name in header if name and name not in set(known)]
