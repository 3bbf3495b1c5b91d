"""Working-day arithmetic on China's official holiday schedule (including make-up working weekends).

Deadlines in working days end at midnight after the last working day, counting from the next working
day after the start. A date in a year the calendar does not know raises CalendarYearUnknown: a
deadline is never guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings

from dispatch.errors import DomainError

_DURATION = re.compile(r"^\s*(\d+)\s*(wd|h|m)\s*$")


class CalendarYearUnknown(DomainError):
    status = 409
    code = "calendar_year_unpublished"


class InvalidDuration(DomainError):
    code = "invalid_duration"


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def is_working_day(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        raise CalendarYearUnknown(
            f"The working calendar has no published schedule for {day.year}.", fields={"year": [str(day.year)]}
        ) from exc


def parse_duration(spec: str) -> tuple[int, str]:
    match = _DURATION.match(spec or "")
    if not match:
        raise InvalidDuration(f"Not a time limit: {spec!r}; use e.g. '15wd', '24h' or '30m'.")
    return int(match.group(1)), match.group(2)


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    local_start = start.astimezone(local_zone())
    day = local_start.date()
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=local_zone())
    return end_of_day


def deadline_after(start: dt.datetime, spec: str) -> dt.datetime:
    amount, unit = parse_duration(spec)
    if unit == "wd":
        return add_working_days(start, amount)
    if unit == "h":
        return start + dt.timedelta(hours=amount)
    return start + dt.timedelta(minutes=amount)
