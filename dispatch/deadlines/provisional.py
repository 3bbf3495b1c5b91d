"""The provisional working calendar of a year whose official holiday schedule is not published yet.

Each year the General Office of the State Council announces the next year's holiday arrangements (节假日安排)
late in the year before; the official schedule then adds bridge days and make-up working weekends (调休) around
the statutory holidays. Until it is published - in chinesecalendar or by an administrator (CalendarYear) -
deadlines must still run, so this module gives the days that are certain:

- Saturdays and Sundays are rest days (the five-day working week: 《国务院关于职工工作时间的规定》, art. 7).
- The statutory public holidays of 《全国年节及纪念日放假办法》 as amended by State Council Decree No. 793
  (2024-11-10, in force from 2025-01-01), art. 2: New Year's Day (1 January), the Spring Festival (lunar New
  Year's Eve and the first three days of the first lunar month), Qingming (the day of the Qingming solar term),
  Labour Day (1 and 2 May), the Dragon Boat Festival (5th day of the 5th lunar month), the Mid-Autumn Festival
  (15th day of the 8th lunar month) and National Day (1 to 3 October): 13 days in all.
- No make-up working days: those exist only in the published schedule. Substitute rest days for a holiday that
  falls on a weekend (art. 6) are left to the published schedule as well, which always arranges them together
  with the make-up days. Leaving both out keeps a provisional deadline on the early side, so publishing the
  year normally moves deadlines later, never earlier (dispatch/deadlines/actions.py).

Lunar dates and the Qingming solar term come from lunar_python (6tail's lunar calendar, MIT licence), not from
a table typed in here; the tests check them against a second, independent library.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

from django.utils.translation import gettext_lazy
from lunar_python import Lunar, Solar

#: Years the lunar library computes reliably; outside them no provisional calendar is offered.
FIRST_YEAR, LAST_YEAR = 1901, 2099

#: Names as the official schedule names them (chinesecalendar's holiday names), for the calendar screens.
HOLIDAY_NAMES = {
    "new_years_day": gettext_lazy("New Year's Day"),
    "spring_festival": gettext_lazy("Spring Festival"),
    "tomb_sweeping_day": gettext_lazy("Tomb-sweeping Day"),
    "labour_day": gettext_lazy("Labour Day"),
    "dragon_boat_festival": gettext_lazy("Dragon Boat Festival"),
    "mid_autumn_festival": gettext_lazy("Mid-autumn Festival"),
    "national_day": gettext_lazy("National Day"),
}


def _solar(solar: Solar) -> dt.date:
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


def _lunar(year: int, month: int, day: int) -> dt.date:
    # A positive month is the regular (not the leap, 闰) month of that number.
    return _solar(Lunar.fromYmd(year, month, day).getSolar())


def _qingming(year: int) -> dt.date:
    # The lunar year that contains 1 April of ``year`` began before it (the lunar new year falls between
    # 21 January and 20 February), so its Qingming term is the one in April of ``year``.
    table = Solar.fromYmd(year, 4, 1).getLunar().getJieQiTable()
    return _solar(table["清明"])


def covers(year: int) -> bool:
    return FIRST_YEAR <= year <= LAST_YEAR


@cache
def statutory_holidays(year: int) -> dict[dt.date, str]:
    """The statutory public holidays of ``year`` (date -> key of HOLIDAY_NAMES), by the rules above."""
    if not covers(year):
        raise ValueError(f"No provisional calendar for {year}.")
    new_year = _lunar(year, 1, 1)
    days = {
        dt.date(year, 1, 1): "new_years_day",
        new_year - dt.timedelta(days=1): "spring_festival",  # lunar New Year's Eve (除夕), the 29th or 30th
        new_year: "spring_festival",
        new_year + dt.timedelta(days=1): "spring_festival",
        new_year + dt.timedelta(days=2): "spring_festival",
        _qingming(year): "tomb_sweeping_day",
        dt.date(year, 5, 1): "labour_day",
        dt.date(year, 5, 2): "labour_day",
        _lunar(year, 5, 5): "dragon_boat_festival",
        dt.date(year, 10, 1): "national_day",
        dt.date(year, 10, 2): "national_day",
        dt.date(year, 10, 3): "national_day",
    }
    # The Mid-Autumn Festival can fall inside National Day (2028: 3 October); the day stays National Day's.
    days.setdefault(_lunar(year, 8, 15), "mid_autumn_festival")
    return dict(sorted(days.items()))


def is_working_day(day: dt.date) -> bool:
    """Working day on the provisional calendar: a weekday that is not a statutory holiday."""
    return day.weekday() < 5 and day not in statutory_holidays(day.year)


def holiday_name(day: dt.date) -> str:
    key = statutory_holidays(day.year).get(day)
    return str(HOLIDAY_NAMES[key]) if key else ""
