"""Which time limit applies to a stage, and when a stage clock started now falls due."""

from __future__ import annotations

import datetime as dt

from callcenter.models import Ticket
from dispatch.calendar import CalendarYearUnknown, InvalidDuration, deadline_after

#: Used where a subject names no limit of its own (GLOSSARY.md's defaults).
DEFAULT_TIME_LIMITS: dict[str, dict[str, str]] = {
    "normal": {"sign": "1wd", "handle": "15wd", "review": "1wd", "revisit": "3wd"},
    "urgent": {"sign": "2h", "handle": "24h", "review": "4h", "revisit": "24h"},
    "emergency": {"sign": "30m", "handle": "2h", "review": "2h", "revisit": "24h"},
}


def time_limit(ticket: Ticket, stage: str) -> str:
    own = (ticket.subject.time_limits or {}).get(ticket.urgency, {})
    return own.get(stage) or DEFAULT_TIME_LIMITS[ticket.urgency][stage]


def due_for(ticket: Ticket, stage: str, started_at: dt.datetime) -> tuple[dt.datetime | None, str]:
    """The deadline, or None with the reason it could not be set (shown to supervisors)."""
    try:
        return deadline_after(started_at, time_limit(ticket, stage)), ""
    except CalendarYearUnknown:
        return None, CalendarYearUnknown.code
    except InvalidDuration:
        return None, InvalidDuration.code
