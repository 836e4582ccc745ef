"""The simulated calendar: which day is which, and when the checkpoint is open.

Time inside the model is minutes since midnight of ``calendar.start_date``. Day ``d`` covers
``[1440 d, 1440 (d + 1))``.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from .scenario.schema import WEEKDAYS, Calendar

MINUTES_PER_DAY = 1440.0


def day_dates(calendar: Calendar, days: int) -> list[dt.date]:
    """The dates of the first ``days`` simulated days."""
    return [calendar.start_date + dt.timedelta(days=d) for d in range(days)]


def open_days(calendar: Calendar, days: int) -> np.ndarray:
    """Boolean per day: False on closure dates and closed weekdays."""
    closed_dates = set(calendar.closed_dates)
    closed_weekdays = {WEEKDAYS.index(name) for name in calendar.closed_weekdays}
    return np.array([date not in closed_dates and date.weekday() not in closed_weekdays
                     for date in day_dates(calendar, days)], dtype=bool)


def opening_window(calendar: Calendar) -> tuple[float, float]:
    """(open, close) in minutes after midnight; (0, 1440) when open 24 h."""
    if calendar.opening_hours == "24h":
        return 0.0, MINUTES_PER_DAY
    return calendar.opening_hours.minutes()


def total_days(calendar: Calendar) -> int:
    """Days simulated including the drain after the horizon (whole days, rounded up)."""
    return calendar.days + int(np.ceil(calendar.drain / MINUTES_PER_DAY))
