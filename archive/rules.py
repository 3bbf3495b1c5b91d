"""The archive's rules, read from settings (README "Settings", docs/OPERATIONS.md "Archive"):

- ``ARCHIVE_DESTINATION``: where packages go - an ``http(s)://`` URL (POSTed as a tar of the bag, SSRF-checked)
  or an absolute folder (the bag copied in atomically). Empty: archiving is off.
- ``ARCHIVE_TRIGGER``: ``on_close`` (queued in the transaction that closes a ticket or an incident) or ``batch``
  (only the records office's batches, ``manage.py archive_batch`` or ``POST /api/archive/batches/``).
- ``ARCHIVE_CALLER_PHONES``: ``masked`` (default) or ``full``. A caller who asked for confidentiality is always
  masked, name withheld; with ``masked`` numbers in free text are masked too.
- ``ARCHIVE_RETENTION_YEARS``: retention period (保管期限) per category: an appeal type's code, ``incident``, or
  ``default``; a number of years or ``"permanent"`` (永久). Default: 10 years (定期10年), incidents 30 years
  (定期30年); e.g. ``{"complaint": 30}`` keeps complaints 30 years.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings

PERMANENT = "permanent"
DEFAULT_RETENTION: dict[str, Any] = {"default": 10, "incident": 30}


def _get(name: str, default: Any) -> Any:
    return settings.HOTLINE.get(name, default)


def destination() -> str:
    return str(_get("ARCHIVE_DESTINATION", "") or "").strip()


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def archives_on_close() -> bool:
    return bool(destination()) and _get("ARCHIVE_TRIGGER", "on_close") == "on_close"


def full_phones() -> bool:
    return _get("ARCHIVE_CALLER_PHONES", "masked") == "full"


def allow_private_network() -> bool:
    return bool(_get("ARCHIVE_ALLOW_PRIVATE_NETWORK", False))


def signing_secret() -> str:
    return str(_get("ARCHIVE_SIGNING_SECRET", "") or "")


def staging_dir() -> str:
    return str(_get("ARCHIVE_STAGING_DIR", "") or (settings.VAR_DIR / "archive-staging"))


@dataclass(frozen=True)
class Retention:
    years: int | None  # None: permanent (永久)

    def until(self, closed: dt.date) -> dt.date | None:
        """The last day of the period, counted from 1 January after the year of closing (the archive's way)."""
        if self.years is None:
            return None
        return dt.date(closed.year + self.years, 12, 31)


def retention_for(category: str) -> Retention:
    table = {**DEFAULT_RETENTION, **(_get("ARCHIVE_RETENTION_YEARS", {}) or {})}
    value = table.get(category, table["default"])
    if value == PERMANENT or value is None:
        return Retention(None)
    return Retention(int(value))
