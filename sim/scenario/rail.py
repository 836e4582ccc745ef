"""The ``rail`` block of a scenario (``Scenario.rail``): train types and their composition, the
timetable of train paths, the border stations and the daily interchange limit (docs/rail.md).

``train_types``, ``timetable``, ``daily_paths`` and ``on_closed_days`` are read by
:mod:`sim.timetable` to produce train arrivals; ``stations`` are expanded into ordinary classes,
stages and routes by :mod:`sim.scenario.rail_stages`; tracks and ``interchange`` are run by
:mod:`sim.yard`. The distribution and direction types come from
:mod:`sim.scenario.distributions`, which the schema shares (no import cycle).

Clock times are in the scenario's model time (minutes after midnight of ``calendar.start_date``
on ``crossing.clock``'s side).
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from .base import DaySelection, Strict
from .distributions import Direction, Distribution

UNITS_PER_TRAIN_MAX = 500        # wagons or containers of one train (a 1520 mm train is ~57-71 wagons)
PATHS_PER_DAY_MAX = 200          # train paths of one timetable line a day
LINES_MAX, TIMES_MAX, TRAIN_TYPES_MAX, STATIONS_MAX = 100, 200, 20, 10
CRANES_MAX, TRACKS_MAX = 100, 100


def _minutes_of_clock(value: str, allow_midnight_end: bool) -> float:
    try:
        hours, minutes = (int(part) for part in value.split(":"))
    except (ValueError, AttributeError):
        raise ValueError(f"expected a clock time 'HH:MM', got {value!r}") from None
    last = 24 if allow_midnight_end else 23
    if not (0 <= hours <= last and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ValueError(f"expected a clock time between 00:00 and {'24:00' if allow_midnight_end else '23:59'}, "
                         f"got {value!r}")
    return 60.0 * hours + minutes


def clock_minutes(value: str) -> float:
    """Minutes after midnight of a clock time 'HH:MM' (00:00-23:59)."""
    return _minutes_of_clock(value, allow_midnight_end=False)


# --------------------------------------------------------------------------------------------
# counts per train: wagons, containers
# --------------------------------------------------------------------------------------------
UnitCount = Annotated[int, Field(ge=0, le=UNITS_PER_TRAIN_MAX)]


class FixedCount(Strict):
    dist: Literal["fixed"]
    value: UnitCount


class UniformCount(Strict):
    """A whole number drawn uniformly between min and max (inclusive)."""

    dist: Literal["uniform"]
    min: UnitCount
    max: UnitCount

    @model_validator(mode="after")
    def _ordered(self) -> "UniformCount":
        if self.max < self.min:
            raise ValueError(f"expected max >= min, got min {self.min} and max {self.max}")
        return self


class EmpiricalCount(Strict):
    """One of ``values``, with probabilities proportional to ``weights`` (equal if omitted)."""

    dist: Literal["empirical"]
    values: list[UnitCount] = Field(min_length=1, max_length=1000)
    weights: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _weights(self) -> "EmpiricalCount":
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(f"expected one weight per value ({len(self.values)}), got {len(self.weights)}")
            if sum(self.weights) <= 0:
                raise ValueError("expected at least one positive weight")
        return self


Count = Annotated[Union[FixedCount, UniformCount, EmpiricalCount], Field(discriminator="dist")]


class TrainType(Strict):
    """A kind of train (China-Europe container train, bulk, empty return) and its composition."""

    wagons: Count
    containers: Count | None = None     # per train; None for trains that carry no containers (bulk)
    teu_per_container: float = Field(default=2.0, gt=0, le=3)   # 40 ft = 2 TEU


# --------------------------------------------------------------------------------------------
# the timetable
# --------------------------------------------------------------------------------------------
class Line(Strict):
    """What every group of train paths states: which trains, which way, on which days, how late."""

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")  # names its random streams
    train_type: str
    direction: Direction
    days: DaySelection = "all"
    delay: Distribution | None = None   # added to every scheduled time; None: on time


class TimetableLine(Line):
    """Train paths at fixed clock times every day (the arrival at the border station)."""

    times: list[str] = Field(min_length=1, max_length=TIMES_MAX)

    @field_validator("times")
    @classmethod
    def _times(cls, times: list[str]) -> list[str]:
        for value in times:
            clock_minutes(value)
        return times


class Window(Strict):
    """Part of the day, start inclusive and end exclusive ('00:00'-'24:00')."""

    start: str = "00:00"
    end: str = "24:00"

    @model_validator(mode="after")
    def _ordered(self) -> "Window":
        start, end = (_minutes_of_clock(v, allow_midnight_end=True) for v in (self.start, self.end))
        if end <= start:
            raise ValueError(f"expected end after start, got {self.start}-{self.end}")
        return self

    def minutes(self) -> tuple[float, float]:
        return tuple(_minutes_of_clock(v, allow_midnight_end=True) for v in (self.start, self.end))


class DailyPaths(Line):
    """A number of train paths a day agreed between the railways, spread over a window of the day:
    ``even`` (path k of n at start + k (end - start) / n), ``random`` (uniform, the count fixed) or
    ``poisson`` (a Poisson count with mean ``per_day``, uniform: a Poisson process in the window,
    what an M/D/c check of the yard needs)."""

    per_day: int = Field(ge=0, le=PATHS_PER_DAY_MAX)
    window: Window = Window()
    spread: Literal["even", "random", "poisson"] = "even"


# --------------------------------------------------------------------------------------------
# the border station (expanded by sim.scenario.rail_stages, run by sim.yard)
# --------------------------------------------------------------------------------------------
class Method(Strict):
    """Which trains a gauge-change method applies to (default: every direction and train type)."""

    directions: list[Direction] | None = None
    train_types: list[str] | None = None

    def applies(self, direction: str, train_type: str) -> bool:
        return ((self.directions is None or direction in self.directions)
                and (self.train_types is None or train_type in self.train_types))


class Transshipment(Method):
    """Gauge change by lifting every container from a wagon of one gauge to one of the other."""

    method: Literal["transshipment"]
    cranes: int = Field(ge=1, le=CRANES_MAX)           # gantry cranes and reach stackers working at once
    move_time: Distribution                            # one container, one crane


class PerWagon(Method):
    """Gauge change wagon by wagon on a number of lines: bogie exchange, or a bulk load moved
    into a wagon of the other gauge (``wagon_reload``)."""

    method: Literal["bogie_exchange", "wagon_reload"]
    lines: int = Field(ge=1, le=TRACKS_MAX)
    per_wagon: Distribution


class LocomotiveChange(Method):
    """Same gauge on both sides: only the locomotive (and crew) changes."""

    method: Literal["locomotive_change"]
    time: Distribution


GaugeChange = Annotated[Union[Transshipment, PerWagon, LocomotiveChange], Field(discriminator="method")]


class Station(Strict):
    """A border station: its arrival/departure tracks, documents and inspection, gauge change.

    A train holds a track from its arrival until it leaves; one that finds every track taken waits
    outside (reported). ``gauge_change`` lists methods; a train gets the first that applies to its
    direction and type, and one that matches none is only inspected (its gauge is changed on the
    other side of the border)."""

    side: Literal["KZ", "CN"]
    directions: list[Direction] = Field(min_length=1)
    tracks: int = Field(ge=1, le=TRACKS_MAX)           # receiving/departure tracks: one train each
    documents: Distribution                            # documents, border guards, customs per train
    gauge_change: list[GaugeChange] = Field(default=[], max_length=10)
    opening_hours: Literal["24h"] = "24h"              # per-stage hours come with the calendar's


class Interchange(Strict):
    """Trains handed over between the railways a day, per direction; the rest wait (backlog)."""

    trains_per_day: dict[Direction, Annotated[int, Field(ge=0, le=PATHS_PER_DAY_MAX)]]


class Rail(Strict):
    """The rail block: train types, their paths, the border stations and the interchange limit."""

    train_types: dict[str, TrainType] = Field(min_length=1, max_length=TRAIN_TYPES_MAX)
    timetable: list[TimetableLine] = Field(default=[], max_length=LINES_MAX)
    daily_paths: list[DailyPaths] = Field(default=[], max_length=LINES_MAX)
    on_closed_days: Literal["cancelled", "held"] = "cancelled"   # held: run at the next open day's start
    stations: dict[str, Station] = Field(default={}, max_length=STATIONS_MAX)
    interchange: Interchange | None = None

    @model_validator(mode="after")
    def _lines(self) -> "Rail":
        for line in self.lines():
            if line.train_type not in self.train_types:
                raise ValueError(f"train_type {line.train_type!r} is not one of the train_types "
                                 f"({', '.join(self.train_types)})")
        for name, station in self.stations.items():
            for method in station.gauge_change:
                unknown = sorted(set(method.train_types or []) - set(self.train_types))
                if unknown:
                    raise ValueError(f"stations.{name}.gauge_change names unknown train types {', '.join(unknown)}")
                stray = sorted(set(method.directions or []) - set(station.directions))
                if stray:
                    raise ValueError(f"stations.{name}.gauge_change covers directions the station does not "
                                     f"serve: {', '.join(stray)}")
        names = self.line_names()
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"timetable line names must differ, got {', '.join(duplicates)} twice")
        return self

    def lines(self) -> list[Line]:
        """Every group of paths: the timetable lines, then the daily paths."""
        return [*self.timetable, *self.daily_paths]

    def line_names(self) -> list[str]:
        """The name of each line (as :meth:`lines`); unnamed lines are called
        ``<timetable|daily>.<direction>.<train_type>.<k>`` (k counting the unnamed lines of that kind
        and pair), so that adding a line elsewhere leaves a line's random streams alone."""
        names, counts = [], {}
        for line in self.lines():
            if line.name is not None:
                names.append(line.name)
                continue
            kind = "timetable" if isinstance(line, TimetableLine) else "daily"
            key = f"{kind}.{line.direction}.{line.train_type}"
            counts[key] = counts.get(key, 0) + 1
            names.append(f"{key}.{counts[key]}")
        return names
