"""Working time on China's official holiday schedule (including make-up working weekends, 调休).

The official schedule comes from chinesecalendar; administrators override single dates (CalendarDay) and
publish whole years the package does not know yet (CalendarYear: weekdays work unless a CalendarDay says
otherwise). A year known to neither is *provisional*: weekends and the statutory holidays
(dispatch/deadlines/provisional.py), so that supervision never stops while the year waits to be published.
Deadlines that depend on such a year are marked provisional (provisional_years_between()) and are recomputed
when the year is published. Only a year outside the provisional calendar's range raises CalendarYearUnknown.

Optional working hours (WorkingPeriod rows, else settings.HOTLINE["WORKING_HOURS"], else off) give the
"working hours" limits ("8wh") and working_hours_between(). With working hours off, a working day counts
as 24 working hours.

Time limits: "15wd" ends at midnight after the 15th working day counted from the next working day after
the start; "8wh" is eight working hours; "24h" and "30m" are clock time.

The database part is cached per process and re-validated at most every CACHE_CHECK_SECONDS by one cheap
query (row counts and newest change), and dropped at once when this process commits a change.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import chinese_calendar
from django.conf import settings
from django.db.models import Count, Max
from django.utils.translation import gettext

from core.clock import local_zone
from core.errors import DomainError
from core.stamped_cache import StampedCache
from dispatch.deadlines import provisional

_DURATION = re.compile(r"^\s*(\d+)\s*(wd|wh|h|m)\s*$")
_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
CACHE_CHECK_SECONDS = 2.0
DAY = dt.timedelta(days=1)
#: A period covering the whole day: working time when working hours are off.
WHOLE_DAY: tuple[tuple[dt.time, dt.time | None], ...] = ((dt.time.min, None),)


class CalendarYearUnknown(DomainError):
    status = 409
    code = "calendar_year_unpublished"


class InvalidDuration(DomainError):
    code = "invalid_duration"


# --- the database part, cached ---------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarData:
    overrides: dict[dt.date, bool]
    published_years: frozenset[int]
    #: (start, end) pairs in local time, sorted; empty means working hours are off. end None = midnight.
    periods: tuple[tuple[dt.time, dt.time | None], ...]


def _stamp() -> object:
    from dispatch.models import CalendarDay, CalendarYear, WorkingPeriod

    days = CalendarDay.objects.aggregate(n=Count("id"), latest=Max("updated_at"), top=Max("id"))
    years = CalendarYear.objects.aggregate(n=Count("id"), latest=Max("published_at"), top=Max("id"))
    periods = WorkingPeriod.objects.aggregate(n=Count("id"), top=Max("id"))
    return (tuple(days.values()), tuple(years.values()), tuple(periods.values()))


def _settings_periods() -> tuple[tuple[dt.time, dt.time | None], ...]:
    result = []
    for spec in settings.HOTLINE.get("WORKING_HOURS", ()) or ():
        match = _PERIOD.match(spec)
        if not match:
            raise InvalidDuration(f"Not a working period: {spec!r}; use e.g. '08:30-12:00'.")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        result.append((dt.time(h1, m1), None if (h2, m2) == (24, 0) else dt.time(h2, m2)))
    return tuple(sorted(result))


def _load() -> CalendarData:
    from dispatch.models import CalendarDay, CalendarYear, WorkingPeriod

    overrides = dict(CalendarDay.objects.values_list("date", "is_working_day"))
    years = frozenset(CalendarYear.objects.values_list("year", flat=True))
    rows = tuple(WorkingPeriod.objects.order_by("start").values_list("start", "end"))
    periods: tuple[tuple[dt.time, dt.time | None], ...] = rows or _settings_periods()
    return CalendarData(overrides=overrides, published_years=years, periods=periods)


_cache = StampedCache(_load, _stamp, check_seconds=CACHE_CHECK_SECONDS)


def data() -> CalendarData:
    return _cache.get()


def invalidate() -> None:
    """Forget the cached calendar (called after this process commits a calendar change)."""
    _cache.invalidate()


# --- days ------------------------------------------------------------------------------------------


@functools.cache
def _official_year(year: int) -> bool:
    """chinesecalendar carries the year's official schedule (fixed for the installed package)."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def year_is_official(year: int) -> bool:
    """The year's schedule is official: in chinesecalendar or published by the administrators."""
    return year in data().published_years or _official_year(year)


def provisional_years_between(start: dt.datetime, end: dt.datetime) -> list[int]:
    """The years, among those whose days decide working time from ``start`` up to ``end``, that only the
    provisional calendar knows. A working-day deadline ends at midnight after its last day, so the day of
    ``end`` itself counts only when ``end`` is not midnight."""
    zone = local_zone()
    first = start.astimezone(zone).date().year
    last = (end.astimezone(zone) - dt.timedelta(microseconds=1)).date().year
    return [year for year in range(first, max(first, last) + 1) if not year_is_official(year)]


def is_working_day(day: dt.date) -> bool:
    calendar = data()
    override = calendar.overrides.get(day)
    if override is not None:
        return override
    if _official_year(day.year):
        return bool(chinese_calendar.is_workday(day))
    if day.year in calendar.published_years:
        return day.weekday() < 5
    if provisional.covers(day.year):
        return provisional.is_working_day(day)
    raise CalendarYearUnknown(f"The working calendar has no schedule for {day.year}.", fields={"year": [str(day.year)]})


def holiday_name(day: dt.date) -> str:
    """The name of the day's holiday or make-up day: the database's, the official or the provisional one."""
    from dispatch.models import CalendarDay

    own = CalendarDay.objects.filter(date=day).values_list("name", flat=True).first()
    if own is not None:
        return own
    try:
        _on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        if day.year in data().published_years or not provisional.covers(day.year):
            return ""
        return provisional.holiday_name(day)
    # chinesecalendar names holidays in English; the catalogue has the names (provisional.HOLIDAY_NAMES).
    return gettext(str(name)) if name else ""


def working_periods() -> tuple[tuple[dt.time, dt.time | None], ...]:
    """Office hours of a working day; empty when working hours are off."""
    return data().periods


def parse_duration(spec: str) -> tuple[int, str]:
    match = _DURATION.match(spec or "")
    if not match:
        raise InvalidDuration(f"Not a time limit: {spec!r}; use e.g. '15wd', '8wh', '24h' or '30m'.")
    return int(match.group(1)), match.group(2)


# --- working time ----------------------------------------------------------------------------------


def _segments(
    start: dt.datetime, periods: tuple[tuple[dt.time, dt.time | None], ...]
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Working-time segments (local, aware) from ``start`` on, in order, without end."""
    zone = local_zone()
    local = start.astimezone(zone)
    day = local.date()
    while True:
        if is_working_day(day):
            for begin, end in periods:
                seg_start = dt.datetime.combine(day, begin, tzinfo=zone)
                seg_end = (
                    dt.datetime.combine(day + DAY, dt.time.min, tzinfo=zone)
                    if end is None
                    else dt.datetime.combine(day, end, tzinfo=zone)
                )
                if seg_end <= local:
                    continue
                yield max(seg_start, local), seg_end
        day += DAY


def add_working_time(
    start: dt.datetime, amount: dt.timedelta, periods: tuple[tuple[dt.time, dt.time | None], ...] = WHOLE_DAY
) -> dt.datetime:
    """The moment when ``amount`` of working time has passed since ``start``."""
    remaining = amount
    for seg_start, seg_end in _segments(start, periods):
        length = seg_end - seg_start
        if remaining <= length:
            if remaining == dt.timedelta(0):
                return seg_start if seg_start > start else start.astimezone(local_zone())
            return seg_start + remaining
        remaining -= length
    raise AssertionError("unreachable")  # pragma: no cover - _segments never ends


def working_time_between(
    start: dt.datetime, end: dt.datetime, periods: tuple[tuple[dt.time, dt.time | None], ...] = WHOLE_DAY
) -> dt.timedelta:
    if end <= start:
        return dt.timedelta(0)
    total = dt.timedelta(0)
    for seg_start, seg_end in _segments(start, periods):
        if seg_start >= end:
            break
        total += min(seg_end, end) - seg_start
    return total


def working_hours_between(start: dt.datetime, end: dt.datetime) -> float:
    """Working hours between two moments: office hours of working days, or whole working days when working
    hours are off. Raises CalendarYearUnknown for a date in an unpublished year."""
    periods = working_periods() or WHOLE_DAY
    return working_time_between(start, end, periods).total_seconds() / 3600


def start_of_next_working_day(moment: dt.datetime) -> dt.datetime:
    """The beginning of working time on the first working day after ``moment``'s day."""
    zone = local_zone()
    day = moment.astimezone(zone).date() + DAY
    while not is_working_day(day):
        day += DAY
    periods = working_periods()
    begin = periods[0][0] if periods else dt.time.min
    return dt.datetime.combine(day, begin, tzinfo=zone)


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """Midnight after the ``days``-th working day counted from the day after ``start``."""
    zone = local_zone()
    day = start.astimezone(zone).date()
    counted = 0
    while counted < days:
        day += DAY
        if is_working_day(day):
            counted += 1
    return dt.datetime.combine(day + DAY, dt.time.min, tzinfo=zone)


def deadline_after(start: dt.datetime, spec: str, *, from_next_working_day: bool = False) -> dt.datetime:
    """When a limit started at ``start`` runs out. Working-day limits always count from the next working
    day; ``from_next_working_day`` makes hour and minute limits start there too."""
    amount, unit = parse_duration(spec)
    if unit == "wd":
        return add_working_days(start, amount)
    if from_next_working_day:
        start = start_of_next_working_day(start)
    if unit == "wh":
        return add_working_time(start, dt.timedelta(hours=amount), working_periods() or WHOLE_DAY)
    if unit == "h":
        return start + dt.timedelta(hours=amount)
    return start + dt.timedelta(minutes=amount)


def fraction_point(start: dt.datetime, due: dt.datetime, spec: str, fraction: float) -> dt.datetime:
    """The moment ``fraction`` of the limit's own kind of time (working or clock) has passed."""
    _amount, unit = parse_duration(spec)
    if unit in {"h", "m"}:
        return start + (due - start) * fraction
    periods = WHOLE_DAY if unit == "wd" else (working_periods() or WHOLE_DAY)
    used = working_time_between(start, due, periods) * fraction
    return add_working_time(start, used, periods)


def after_working_days(moment: dt.datetime, days: int) -> dt.datetime:
    """The same point of working time ``days`` whole working days later (for "N working days overdue")."""
    return add_working_time(moment, dt.timedelta(days=days), WHOLE_DAY)
