"""Booth schedules turned into capacity changes over time.

A lane pool's open booths are a step function of time: the pool's default, changed by rules
(hours of the day, weekday/weekend or named weekdays, months, date ranges; later rules win), and
zero whenever the checkpoint is closed (outside opening hours, closure dates, closed holidays,
closed weekdays) and outside its stage's own opening hours. A stage's hours are in the local time
of its side (``crossing.time_zones``) and are moved onto the model clock (``crossing.clock``):
a Chinese stage open 09:00-18:00 (UTC+8) is open 06:00-15:00 on a UTC+5 clock; a window moved
across midnight is open on both sides of it. Rule hours, the crossing's opening hours and the
hour weights are on the model clock. Rule hours may wrap midnight ([22, 6]); a rule's day and
season are those of the calendar day each part falls on.

A booth that closes at a shift change finishes the service it has started; it takes no one new.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from .calendar import MINUTES_PER_DAY, day_dates, open_days, opening_window
from .scenario.base import day_matches
from .scenario.schema import BoothSchedule, Calendar, Crossing, HourRule, LanePool, Stage


def rule_applies(rule: HourRule, date: dt.date) -> bool:
    """Whether a booth rule holds on ``date``: its days (weekdays, weekend, named days) and its
    months and date ranges; its hours are checked apart (:meth:`HourRule.covers`)."""
    return day_matches(rule.days, date) and rule.covers_date(date)


def stage_windows(stage: Stage | None, crossing: Crossing | None) -> list[tuple[float, float]]:
    """A stage's daily opening hours on the model clock, as windows ``[start, end)`` in minutes
    relative to midnight of a model-clock day (they may start before 0 or end after 1440 when the
    side's clock differs); ``[]`` for a stage open 24 h."""
    if stage is None or stage.opening_hours == "24h":
        return []
    opening, closing = stage.opening_hours.minutes()
    shift = crossing.clock_shift(stage.side) if crossing is not None else 0.0
    return [(opening - shift + offset, closing - shift + offset) for offset in (-MINUTES_PER_DAY, 0.0, MINUTES_PER_DAY)]


def booth_schedule(pool: LanePool, calendar: Calendar, days: int, stage: Stage | None = None,
                   crossing: Crossing | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Change points of a pool's open booths over ``days`` days (of ``stage``, whose opening
    hours also apply, on ``crossing``'s model clock).

    Returns ``(times, booths)``: booths ``booths[i]`` are open from ``times[i]`` (minutes) until
    ``times[i + 1]``; ``times[0] == 0`` and consecutive values differ.
    """
    schedule = pool.booths if isinstance(pool.booths, BoothSchedule) else BoothSchedule(default=pool.booths)
    opening, closing = opening_window(calendar)
    windows = stage_windows(stage, crossing)
    is_open = open_days(calendar, days)
    times: list[float] = []
    booths: list[int] = []
    for day, date in enumerate(day_dates(calendar, days)):
        rules = [rule for rule in schedule.rules if rule_applies(rule, date)]
        edges = {0.0, MINUTES_PER_DAY, opening, closing}
        edges.update(60.0 * hour for rule in rules for hour in rule.hours)
        edges.update(edge for window in windows for edge in window if 0.0 < edge < MINUTES_PER_DAY)
        edges = sorted(edges)
        for start, end in zip(edges[:-1], edges[1:]):
            middle = (start + end) / 2
            count = schedule.default
            for rule in rules:
                if rule.covers(middle):
                    count = rule.booths
            if not is_open[day] or not opening <= middle < closing:
                count = 0
            if windows and not any(low <= middle < high for low, high in windows):
                count = 0
            if not booths or booths[-1] != count:
                times.append(day * MINUTES_PER_DAY + start)
                booths.append(count)
    return np.array(times), np.array(booths, dtype=int)


def booth_minutes(times: np.ndarray, booths: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Open booth-minutes in each bin between consecutive ``edges`` (minutes).

    The open booth-minutes since time 0 grow linearly between change points, so they are known
    exactly at the change points and interpolated at the edges (the last value holds after them).
    """
    at_changes = np.concatenate(([0.0], np.cumsum(booths[:-1] * np.diff(times))))
    last = times[-1]
    cumulative = np.where(np.asarray(edges) <= last, np.interp(edges, times, at_changes),
                          at_changes[-1] + booths[-1] * (np.asarray(edges) - last))
    return np.diff(cumulative)
