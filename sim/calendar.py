"""The simulated calendar: which day is which, when the checkpoint is open, and its holidays.

Time inside the model is minutes since midnight of ``calendar.start_date`` on the model clock
(``crossing.clock``: one side's time zone, or one local clock for both sides when the crossing
states no time zones). Day ``d`` covers ``[1440 d, 1440 (d + 1))``. Closure dates, closed
weekdays and closed holidays shut the whole crossing for that model-clock day.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from . import holidays as public_holidays
from .scenario.schema import WEEKDAYS, Calendar

MINUTES_PER_DAY = 1440.0


def day_dates(calendar: Calendar, days: int) -> list[dt.date]:
    """The dates of the first ``days`` simulated days."""
    return [calendar.start_date + dt.timedelta(days=d) for d in range(days)]


def holiday_dates(calendar: Calendar, days: int) -> list[set[dt.date]]:
    """Per entry of ``calendar.holidays``: the dates of its holiday period(s) in the simulated years."""
    years = calendar.years(days)
    return [set(public_holidays.holiday_period(h.country, h.name, years)) for h in calendar.holidays]


def closed_dates(calendar: Calendar, days: int) -> np.ndarray:
    """Boolean per day: True on closure dates and on the days of closed holidays."""
    shut = set(calendar.closed_dates)
    for holiday, dates in zip(calendar.holidays, holiday_dates(calendar, days)):
        if holiday.closed:
            shut |= dates
    return np.array([date in shut for date in day_dates(calendar, days)], dtype=bool)


def weekday_open(calendar: Calendar, days: int) -> np.ndarray:
    """Boolean per day: False on closed weekdays."""
    closed_weekdays = {WEEKDAYS.index(name) for name in calendar.closed_weekdays}
    return np.array([date.weekday() not in closed_weekdays for date in day_dates(calendar, days)], dtype=bool)


def open_days(calendar: Calendar, days: int) -> np.ndarray:
    """Boolean per day: False on closure dates, closed holidays and closed weekdays."""
    return weekday_open(calendar, days) & ~closed_dates(calendar, days)


def holiday_factors(calendar: Calendar, days: int) -> np.ndarray:
    """Per day: the product of the demand factors of the holidays whose period covers it."""
    factors = np.ones(days)
    for holiday, dates in zip(calendar.holidays, holiday_dates(calendar, days)):
        if holiday.factor != 1.0:
            factors *= np.array([holiday.factor if date in dates else 1.0 for date in day_dates(calendar, days)])
    return factors


def displace(volumes: np.ndarray, closed: np.ndarray, is_open: np.ndarray, calendar: Calendar) -> np.ndarray:
    """Move shares of the demand ``volumes`` (per day, as if open) of each run of ``closed`` days
    to the open days around it: ``displacement.before`` of it spread evenly over the
    ``displacement.days`` open days before the run, ``after`` over those after it (days outside
    the horizon take their share with them). Closed days then have no demand."""
    moved = np.where(is_open, volumes, 0.0)
    rule = calendar.displacement
    if rule is None or not closed.any():
        return moved
    day = 0
    while day < len(closed):
        if not closed[day]:
            day += 1
            continue
        end = day
        while end < len(closed) and closed[end]:
            end += 1
        lost = volumes[day:end].sum()
        before = [d for d in range(day - 1, -1, -1) if is_open[d]][:rule.days]
        after = [d for d in range(end, len(closed)) if is_open[d]][:rule.days]
        for share, targets in ((rule.before, before), (rule.after, after)):
            for target in targets:
                moved[target] += lost * share / rule.days
        day = end
    return moved


def opening_window(calendar: Calendar) -> tuple[float, float]:
    """(open, close) in minutes after midnight; (0, 1440) when open 24 h."""
    if calendar.opening_hours == "24h":
        return 0.0, MINUTES_PER_DAY
    return calendar.opening_hours.minutes()


def total_days(calendar: Calendar) -> int:
    """Days simulated including the drain after the horizon (whole days, rounded up)."""
    return calendar.days + int(np.ceil(calendar.drain / MINUTES_PER_DAY))
