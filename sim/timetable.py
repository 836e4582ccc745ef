"""Timetabled train arrivals: train paths by clock time or by a number a day, with delays and
compositions, over the scenario's calendar.

A rail scenario's ``rail`` block (:mod:`sim.scenario.rail`) lists groups of train paths ("lines"):
fixed clock times every selected day, or a daily number of paths spread evenly or at random over a
window of the day. Each path's arrival at the border station is its scheduled time plus a delay
drawn from the line's distribution (any service-time distribution, :mod:`sim.service`). Paths on
closure dates and closed weekdays are cancelled, or (``on_closed_days: held``) run at the start of
the next open day plus their delay; a held path with no open day left in the horizon is cancelled.

Common random numbers: every line draws from its own named streams (``rail/delay/<line>``,
``rail/spread/<line>``, ``rail/wagons/<line>``, ``rail/containers/<line>``), one draw per path of
every day of the horizon in schedule order, closed days included, so that changing one line, the
closures or the delay of another line leaves a path's draws alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calendar import MINUTES_PER_DAY, day_dates, open_days
from .scenario.base import day_matches
from .scenario.rail import Count, DailyPaths, EmpiricalCount, FixedCount, Line, Rail, TimetableLine, clock_minutes
from .scenario.schema import DIRECTIONS, Calendar
from .service import draw
from .streams import stream


@dataclass(frozen=True)
class TrainArrivals:
    """Every train of one replication, sorted by arrival time (ties by line, then schedule)."""

    time: np.ndarray            # minutes from the start of the horizon: scheduled + delay
    scheduled: np.ndarray       # minutes: the path's time (the next open day's start if held)
    delay: np.ndarray           # minutes
    line: np.ndarray            # index into Rail.lines()
    train_type: np.ndarray      # index into Rail.train_types
    direction: np.ndarray       # index into DIRECTIONS
    wagons: np.ndarray          # per train
    containers: np.ndarray      # per train (0 for a train type without containers)

    def __len__(self) -> int:
        return len(self.time)


def draw_count(count: Count, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` whole numbers (wagons or containers per train) from ``count``."""
    if isinstance(count, FixedCount):
        return np.full(size, count.value, dtype=np.int64)
    if isinstance(count, EmpiricalCount):
        weights = None if count.weights is None else np.asarray(count.weights) / np.sum(count.weights)
        return rng.choice(np.asarray(count.values, dtype=np.int64), size=size, p=weights)
    return rng.integers(count.min, count.max + 1, size=size, dtype=np.int64)


def scheduled_times(line: Line, calendar: Calendar, rng_spread: np.random.Generator) -> np.ndarray:
    """The line's path times (minutes from the horizon start, in schedule order) on every selected
    day of the horizon, closed days included."""
    days = [d for d, date in enumerate(day_dates(calendar, calendar.days)) if day_matches(line.days, date)]
    if isinstance(line, TimetableLine):
        clock = np.sort([clock_minutes(value) for value in line.times])
        per_day = np.broadcast_to(clock, (len(days), len(clock)))
    elif isinstance(line, DailyPaths):
        start, end = line.window.minutes()
        if line.spread == "even":
            offsets = start + (end - start) * np.arange(line.per_day) / max(line.per_day, 1)
            per_day = np.broadcast_to(offsets, (len(days), line.per_day))
        elif line.spread == "random":
            per_day = np.sort(rng_spread.uniform(start, end, (len(days), line.per_day)), axis=1)
        else:                                   # poisson: a count a day, then its points
            counts = rng_spread.poisson(line.per_day, len(days))
            points = rng_spread.uniform(start, end, int(counts.sum()))
            day_of = np.repeat(np.asarray(days, dtype=float), counts)
            order = np.lexsort((points, day_of))
            return MINUTES_PER_DAY * day_of[order] + points[order]
    else:
        raise TypeError(f"unknown line {line!r}")
    return (MINUTES_PER_DAY * np.asarray(days, dtype=float)[:, None] + per_day).ravel()


def train_arrivals(rail: Rail, calendar: Calendar, seed: int, replication: int) -> TrainArrivals:
    """Draw every train of a replication: paths, delays, compositions, closures applied."""
    is_open = open_days(calendar, calendar.days)
    open_day_starts = MINUTES_PER_DAY * np.flatnonzero(is_open).astype(float)
    type_names = list(rail.train_types)
    parts = []
    for index, (line, name) in enumerate(zip(rail.lines(), rail.line_names())):
        scheduled = scheduled_times(line, calendar, stream(seed, replication, f"rail/spread/{name}"))
        count = len(scheduled)
        delay = (np.zeros(count) if line.delay is None
                 else draw(line.delay, stream(seed, replication, f"rail/delay/{name}"), count))
        train_type = rail.train_types[line.train_type]
        wagons = draw_count(train_type.wagons, stream(seed, replication, f"rail/wagons/{name}"), count)
        containers = (np.zeros(count, dtype=np.int64) if train_type.containers is None
                      else draw_count(train_type.containers, stream(seed, replication, f"rail/containers/{name}"), count))
        day = (scheduled // MINUTES_PER_DAY).astype(np.int64)
        keep = is_open[day]
        if rail.on_closed_days == "held":
            later = np.searchsorted(open_day_starts, MINUTES_PER_DAY * day[~keep], side="left")
            movable = later < len(open_day_starts)
            moved = np.flatnonzero(~keep)[movable]
            scheduled = scheduled.copy()
            scheduled[moved] = open_day_starts[later[movable]]
            keep = keep.copy()
            keep[moved] = True
        parts.append((scheduled[keep], delay[keep], np.full(int(keep.sum()), index),
                      np.full(int(keep.sum()), type_names.index(line.train_type)),
                      np.full(int(keep.sum()), DIRECTIONS.index(line.direction)), wagons[keep], containers[keep]))
    if not parts:
        empty = np.zeros(0)
        return TrainArrivals(empty, empty, empty, *(np.zeros(0, dtype=np.int64),) * 5)
    scheduled, delay, line, train_type, direction, wagons, containers = (np.concatenate(columns) for columns in zip(*parts))
    time = scheduled + delay
    order = np.lexsort((np.arange(len(time)), time))     # stable: ties keep line, then schedule order
    return TrainArrivals(time=time[order], scheduled=scheduled[order], delay=delay[order], line=line[order].astype(np.int64),
                         train_type=train_type[order].astype(np.int64), direction=direction[order].astype(np.int64),
                         wagons=wagons[order], containers=containers[order])
