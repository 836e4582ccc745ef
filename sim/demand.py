"""Arrival streams: an hour x weekday x season profile, sampled as a non-homogeneous Poisson process.

Each class arrives as its own Poisson process whose rate is constant within each hour:
``entities_per_day * share * weekday_factor * seasonal_factor * holiday_factor * hour_weight / sum(hour_weights)``,
where ``entities_per_day`` is ``daily_volume`` converted from the unit it counts (``demand.counts``:
entities as is; persons divided by the mean group size of the class mix; vehicles divided by the
share of the vehicle classes).
A date listed in ``daily_volumes`` (a forecast) has that volume, in the same unit, instead of
``daily_volume * weekday_factor * seasonal_factor``.
Arrivals are drawn exactly (no thinning): given the integrated rate Lambda over the horizon, the
count is Poisson(Lambda) and the points are uniform order statistics on [0, Lambda], mapped back
through the inverse of the piecewise-linear cumulative rate.

There is no demand on closure dates, closed holidays and closed weekdays (travelers know them);
with ``calendar.displacement``, shares of a closed date's demand arrive on the open days before
and after the closure instead. Arrivals in hours outside the daily opening hours, if the hour
weights allow them, wait for the opening.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calendar import closed_dates, day_dates, displace, holiday_factors, weekday_open
from .scenario.schema import DIRECTIONS, Demand, GroupRange, Scenario
from .scenario.rail_stages import train_class, unit_of
from .streams import stream
from .timetable import train_arrivals


def seasonal_factor(demand: Demand, date) -> float:
    """Product of the seasonal factors that apply on ``date``."""
    factor = 1.0
    for season in demand.seasonal_factors:
        if season.covers_date(date):
            factor *= season.factor
    return factor


def daily_volumes(scenario: Scenario) -> np.ndarray:
    """Expected arriving entities (all classes) on each day of the horizon."""
    demand, calendar = scenario.demand, scenario.calendar
    days = calendar.days
    volume = demand.entities_per_day(scenario.classes)
    daily = np.array([demand.to_entities(demand.daily_volumes[date], scenario.classes) if date in demand.daily_volumes
                      else volume * demand.weekday_factors[date.weekday()] * seasonal_factor(demand, date)
                      for date in day_dates(calendar, days)])
    would_open = weekday_open(calendar, days)     # open but for a closure date or closed holiday
    shut = closed_dates(calendar, days) & would_open
    return displace(daily * holiday_factors(calendar, days) * would_open, shut, would_open & ~shut, calendar)


def hourly_rates(scenario: Scenario) -> np.ndarray:
    """Expected arrivals (all classes) in each hour of the horizon."""
    weights = np.asarray(scenario.demand.hour_weights) / np.sum(scenario.demand.hour_weights)
    return (daily_volumes(scenario)[:, None] * weights[None, :]).ravel()


def poisson_arrivals(rates_per_hour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exact arrival times (minutes, sorted) of a Poisson process with hourly-constant rates."""
    cumulative = np.concatenate(([0.0], np.cumsum(rates_per_hour)))
    count = rng.poisson(cumulative[-1])
    points = np.sort(rng.uniform(0.0, cumulative[-1], count))
    hour = np.searchsorted(cumulative, points, side="right") - 1
    hour = np.minimum(hour, len(rates_per_hour) - 1)
    return 60.0 * (hour + (points - cumulative[hour]) / rates_per_hour[hour])


@dataclass(frozen=True)
class Arrivals:
    """Every entity of one replication, sorted by arrival time (index = entity id)."""

    time: np.ndarray        # minutes
    class_index: np.ndarray
    direction_index: np.ndarray
    group_size: np.ndarray
    green: np.ndarray       # eligible for the green channel
    wagons: np.ndarray | None = None       # per entity: a train's wagons, 0 for others (None: no rail block)
    containers: np.ndarray | None = None   # per entity: a train's containers, 0 for others

    def __len__(self) -> int:
        return len(self.time)


def generate_arrivals(scenario: Scenario, seed: int, replication: int) -> Arrivals:
    """Draw all arrivals of a replication, class by class, each class from its own streams."""
    base_rates = hourly_rates(scenario)
    parts = []
    cargo_classes = [name for name, c in scenario.classes.items() if c.cargo]
    for class_index, (name, traveler_class) in enumerate(scenario.classes.items()):
        times = poisson_arrivals(base_rates * traveler_class.share, stream(seed, replication, f"arrivals/{name}"))
        backlog = 0
        if cargo_classes and name == cargo_classes[0] and scenario.cargo is not None:
            # the initial electronic-queue backlog is made of the first cargo class
            backlog = sum(count for direction, count in scenario.cargo.initial_backlog.items()
                          if traveler_class.directions.get(direction, 0) > 0)
            times = np.concatenate((np.zeros(backlog), times))
        marks = stream(seed, replication, f"attributes/{name}")
        count = len(times)
        shares = np.array([traveler_class.directions.get(direction, 0.0) for direction in DIRECTIONS])
        direction = np.searchsorted(np.cumsum(shares) / shares.sum(), marks.uniform(size=count), side="right")
        direction = np.minimum(direction, len(DIRECTIONS) - 1)
        if backlog:
            direction[:backlog] = _backlog_directions(scenario, traveler_class)
        size = traveler_class.group_size
        if isinstance(size, GroupRange):
            group = marks.integers(size.min, size.max + 1, size=count)
        else:
            group = np.full(count, size)
        green = marks.uniform(size=count) < traveler_class.green_channel_share
        parts.append((times, np.full(count, class_index), direction, group, green))
    if scenario.rail is not None and scenario.rail.stations:
        return _with_trains(scenario, parts, seed, replication)
    time = np.concatenate([p[0] for p in parts])
    order = np.argsort(time, kind="stable")
    columns = [np.concatenate([p[i] for p in parts])[order] for i in range(5)]
    return Arrivals(columns[0], columns[1].astype(np.int64), columns[2].astype(np.int64),
                    columns[3].astype(np.int64), columns[4].astype(bool))


def _with_trains(scenario: Scenario, parts: list, seed: int, replication: int) -> Arrivals:
    """The arrivals with the rail block's trains (sim.timetable) added, one entity per train,
    of class ``train_<type>``; its group size is its count of units (containers if a station
    transships it, else wagons; at least 1), its tokens at the unit-level gauge-change stages."""
    rail, names = scenario.rail, list(scenario.classes)
    trains = train_arrivals(rail, scenario.calendar, seed, replication)
    types = list(rail.train_types)
    class_index = np.array([names.index(train_class(t)) for t in types], dtype=np.int64)[trains.train_type]
    by_containers = np.array([unit_of(rail, t) == "containers" for t in types], dtype=bool)[trains.train_type]
    units = np.maximum(np.where(by_containers, trains.containers, trains.wagons), 1)
    count = len(trains)
    parts = [(*p, np.zeros(len(p[0]), np.int64), np.zeros(len(p[0]), np.int64)) for p in parts]
    parts.append((trains.time, class_index, trains.direction, units, np.zeros(count, bool), trains.wagons,
                  trains.containers))
    time = np.concatenate([p[0] for p in parts])
    order = np.argsort(time, kind="stable")
    columns = [np.concatenate([p[i] for p in parts])[order] for i in range(7)]
    return Arrivals(columns[0], columns[1].astype(np.int64), columns[2].astype(np.int64),
                    columns[3].astype(np.int64), columns[4].astype(bool), columns[5].astype(np.int64),
                    columns[6].astype(np.int64))


def _backlog_directions(scenario: Scenario, traveler_class) -> np.ndarray:
    """Directions of the trucks already waiting in the electronic queue at time zero."""
    return np.concatenate([np.full(count, DIRECTIONS.index(direction))
                           for direction, count in scenario.cargo.initial_backlog.items()
                           if traveler_class.directions.get(direction, 0) > 0]).astype(np.int64)
