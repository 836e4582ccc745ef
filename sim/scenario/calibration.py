"""The optional ``calibration`` block of a scenario: free parameters, targets and fit settings.

The engine ignores the block; ``checkpoint-sim calibrate`` (:mod:`sim.fitting`) reads it. A
*parameter* is a number or a duration somewhere in the scenario, named by its dotted field path,
with bounds. A *target* is one general measurement with filters and an acceptable band::

    measure (throughput | arrivals | wait_mean | wait_p50 | wait_p90 | share_wait_over_60min
             | share_wait_between: the share whose wait lies in ``waits: [low, high]``)
    of the entities of some classes and directions, at some hours of the day, on some days,
    between two dates, per open day or in total, counting entities or persons,
    compared with a band [low, high] or a value +- tolerance,
    or, with ``above_rest``, as the difference "selection minus the rest of the measured days".

A distribution target says "most pedestrians wait 30-90 min": ``measure: share_wait_between``,
``waits: ["30 min", "90 min"]``, ``band: [0.5, null]`` (with ``count: persons``, each traveller
counts, not each vehicle). A cumulative target is a count with ``per: total`` and ``from``/``to``.

Pydantic checks each field's type here. Two functions check the meaning, each problem with its
exact field path, as the cross-field checks of :mod:`sim.scenario.checks` do:

- :func:`calibration_problems`, when any scenario is loaded: the block on its own (bounds, bands
  and units that fit the measure, filters);
- :func:`reference_problems`, when a calibration starts: what the block says about the rest of
  the scenario (parameter paths that resolve to numbers or durations, classes that exist, dates
  the calendar simulates). These are not load-time errors, so that a variant or a sweep point
  that reshapes a pool or shortens the calendar still loads with an inherited block.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Iterator, Literal, Union

from pydantic import ConfigDict, Field

from ..errors import did_you_mean
from .base import Strict, day_matches
from .units import clock_text, parse_duration

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Measure = Literal["throughput", "arrivals", "wait_mean", "wait_p50", "wait_p90", "share_wait_over_60min",
                  "share_wait_between"]
Direction = Literal["KZ_to_CN", "CN_to_KZ"]
Raw = Union[int, float, str]     # a plain number, or a duration with units ("30 min"), or "5%"

WAIT_MEASURES = ("wait_mean", "wait_p50", "wait_p90")
COUNT_MEASURES = ("throughput", "arrivals")
SHARE_MEASURES = ("share_wait_over_60min", "share_wait_between")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class Parameter(Strict):
    """A free parameter: one number or duration (or several tied together), and its bounds."""

    path: str | list[str]            # dotted field path(s); several paths take the same value
    bounds: tuple[Raw, Raw]          # numbers, or durations with units for duration fields
    integer: bool = False            # whole numbers only (booth counts)
    source: str = ""                 # why this parameter is free, where the bounds come from

    @property
    def paths(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)

    @property
    def is_duration(self) -> bool:
        return isinstance(self.bounds[0], str)

    @property
    def unit(self) -> str:
        """The unit the bounds are written in ("" for plain numbers): fitted values are written in it."""
        if not self.is_duration:
            return ""
        return re.sub(r"^[\s0-9.eE+-]*", "", str(self.bounds[0])).strip()

    def limits(self) -> tuple[float, float]:
        """(low, high) in model units (minutes for durations)."""
        return to_number(self.bounds[0]), to_number(self.bounds[1])

    def label(self) -> str:
        """The path, or tied paths written compactly: ``stages.x.service_time.{pedestrian,bus}.mean``."""
        split = [path.split(".") for path in self.paths]
        if len(split) > 1 and len({len(parts) for parts in split}) == 1:
            differing = [i for i in range(len(split[0])) if len({parts[i] for parts in split}) > 1]
            if len(differing) == 1:
                parts = list(split[0])
                parts[differing[0]] = "{" + ",".join(p[differing[0]] for p in split) + "}"
                return ".".join(parts)
        return ", ".join(self.paths)


class Target(Strict):
    """A stated figure the model should reproduce, with its source."""

    source: str = Field(min_length=1)          # where the figure comes from
    measure: Measure
    count: Literal["entities", "persons"] = "entities"  # counts and shares: vehicles/people on foot, or people carried
    per: Literal["day", "total"] = "day"       # counts: per open day, or the total over the dates
    classes: list[str] = []                    # default: every class
    directions: list[Direction] = []           # default: both directions
    waits: tuple[Raw, Raw] | None = None       # share_wait_between: the waits [low, high] counted in
    hours: tuple[float, float] | None = None   # hours of the day [start, end) of the event
    days: Literal["all", "weekday", "weekend"] | list[Weekday] = "all"
    from_date: dt.date | None = Field(default=None, alias="from")   # inclusive
    to_date: dt.date | None = Field(default=None, alias="to")       # inclusive
    above_rest: bool = False                   # measure the selection minus the rest
    value: Raw | None = None                   # with tolerance: value +- tolerance
    tolerance: Raw | None = None               # absolute, or relative "5%"
    band: tuple[Raw | None, Raw | None] | None = None   # [low, high]; null = open side

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def has_time_filter(self) -> bool:
        return self.hours is not None or self.days != "all" or self.from_date is not None or self.to_date is not None

    @property
    def needs_whole_range(self) -> bool:
        """A total over dates needs the calendar to cover all of them."""
        return self.measure in COUNT_MEASURES and self.per == "total"

    def wait_limits(self) -> tuple[float, float]:
        """share_wait_between: the waits (minutes) [low, high] that count."""
        return to_number(self.waits[0]), to_number(self.waits[1])

    def limits(self) -> tuple[float, float]:
        """(low, high) of the acceptable band in model units; -inf/inf for an open side.

        ``above_rest`` without a band or value means "above": (0, inf), with 0 itself not enough.
        """
        if self.band is not None:
            low, high = self.band
            return (-math.inf if low is None else to_number(low)), (math.inf if high is None else to_number(high))
        if self.value is not None:
            centre = to_number(self.value)
            text = str(self.tolerance).strip()
            spread = abs(centre) * float(text[:-1]) / 100 if text.endswith("%") else to_number(self.tolerance)
            return centre - spread, centre + spread
        return 0.0, math.inf

    @property
    def strictly_above(self) -> bool:
        """True for the default band of an ``above_rest`` target: the difference must be > 0."""
        return self.above_rest and self.band is None and self.value is None


class FitSettings(Strict):
    """How to fit: replications and seed (common random numbers), a shorter horizon, a budget."""

    replications: int = Field(default=3, ge=1, le=1000)
    seed: int | None = Field(default=None, ge=0)       # default: run.seed
    days: int | None = Field(default=None, ge=1)       # simulated days while fitting (default: calendar.days)
    max_evaluations: int = Field(default=30, ge=1, le=10000)
    method: Literal["powell", "nelder-mead"] = "powell"
    check_replications: int | None = Field(default=None, ge=1, le=10000)  # final check on the full calendar
    sensitivity: bool = True      # after the fit: each target's change with each parameter and with +-10 % demand


class Calibration(Strict):
    """Free parameters, targets with their sources, and fit settings."""

    parameters: list[Parameter] = Field(min_length=1)
    targets: dict[str, Target] = Field(min_length=1)
    fit: FitSettings = FitSettings()


def to_number(raw: Raw) -> float:
    """A band value, tolerance or bound in model units: durations to minutes, numbers as they are."""
    if isinstance(raw, str):
        return parse_duration(raw)
    return float(raw)


# --------------------------------------------------------------------------------------------
# checks across fields: (dotted path, message), like sim.scenario.checks
# --------------------------------------------------------------------------------------------
def calibration_problems(scenario: Any) -> Iterator[tuple[str, str]]:
    """Problems of ``scenario.calibration`` on its own (checked whenever a scenario loads)."""
    calibration: Calibration | None = scenario.calibration
    if calibration is None:
        return
    for index, parameter in enumerate(calibration.parameters):
        yield from _bounds(parameter, f"calibration.parameters.{index}")
    for name, target in calibration.targets.items():
        yield from _target(name, target)


def reference_problems(scenario: Any) -> Iterator[tuple[str, str]]:
    """Problems of what ``scenario.calibration`` says about the scenario (checked before fitting)."""
    calibration: Calibration | None = scenario.calibration
    if calibration is None:
        return
    data = scenario.model_dump(mode="json", by_alias=True)
    yield from _parameters(calibration, data)
    known = list(scenario.classes)
    for name, target in calibration.targets.items():
        for index, class_name in enumerate(target.classes):
            if class_name not in scenario.classes:
                yield (f"calibration.targets.{name}.classes.{index}",
                       f"unknown class {class_name!r}{did_you_mean(class_name, known)}")
        yield from _coverage(target, f"calibration.targets.{name}", scenario)
    fit = calibration.fit
    if fit.days is not None and fit.days <= scenario.calendar.warmup_days:
        yield ("calibration.fit.days",
               f"expected more fitting days than calendar.warmup_days ({scenario.calendar.warmup_days}), got {fit.days}")


def resolve_path(data: Any, dotted: str) -> tuple[Any, str | None]:
    """The value at ``a.b.0.c`` in nested dicts/lists, or (None, why not) when it is not there."""
    node, walked = data, []
    for part in dotted.split("."):
        if isinstance(node, dict):
            if part not in node:
                where = ".".join(walked) or "the top level"
                return None, f"no field {part!r} under {where}{did_you_mean(part, list(node))}"
            node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return None, f"{'.'.join(walked)} is a list of {len(node)}: expected an index 0-{len(node) - 1}, got {part!r}"
            node = node[int(part)]
        else:
            return None, f"{'.'.join(walked)} is a single value ({node!r}): it has no field {part!r}"
        walked.append(part)
    return node, None


def value_kind(value: Any) -> str:
    """'duration', 'integer' or 'number' for a value of the dumped scenario; else a description."""
    if isinstance(value, bool):
        return "a true/false switch"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        try:
            parse_duration(value)
        except ValueError:
            return f"a text ({value!r})"
        return "duration"
    if isinstance(value, dict):
        return f"a mapping ({', '.join(value)}): point at one number inside it"
    if isinstance(value, list):
        return f"a list of {len(value)}: point at one element by its index"
    return "empty (null)"


def _parameters(calibration: Calibration, data: dict) -> Iterator[tuple[str, str]]:
    seen: dict[str, str] = {}
    for index, parameter in enumerate(calibration.parameters):
        base = f"calibration.parameters.{index}"
        kinds = []
        for number, dotted in enumerate(parameter.paths):
            where = f"{base}.path" + (f".{number}" if isinstance(parameter.path, list) else "")
            if not _PATH.match(dotted):
                yield where, f"expected a dotted field path such as 'stages.passport.pools.foot.booths', got {dotted!r}"
                continue
            if dotted.split(".")[0] in ("calibration", "name", "crossing"):
                yield where, f"{dotted!r} cannot be a free parameter (it does not change the simulation)"
                continue
            if dotted in seen:
                yield where, f"{dotted!r} is already a free parameter ({seen[dotted]})"
                continue
            seen[dotted] = where
            value, problem = resolve_path(data, dotted)
            if problem:
                yield where, problem
                continue
            kind = value_kind(value)
            if kind not in ("duration", "integer", "number"):
                yield where, f"{dotted} is {kind}; a free parameter must be a number or a duration"
                continue
            kinds.append((dotted, kind))
        if not list(_bounds(parameter, base)):
            yield from _kinds(parameter, base, kinds)


def _bounds(parameter: Parameter, base: str) -> Iterator[tuple[str, str]]:
    low_raw, high_raw = parameter.bounds
    if isinstance(low_raw, str) != isinstance(high_raw, str):
        yield f"{base}.bounds", "expected both bounds as durations with units, or both as plain numbers"
        return
    for position, raw in enumerate(parameter.bounds):
        if isinstance(raw, str):
            try:
                parse_duration(raw)
            except ValueError as error:
                yield f"{base}.bounds.{position}", str(error)
                return
    low, high = parameter.limits()
    if not low < high:
        yield f"{base}.bounds", f"expected low < high, got {list(parameter.bounds)}"
        return
    if parameter.integer and math.ceil(low) > math.floor(high):
        yield f"{base}.bounds", f"no whole number between {low:g} and {high:g}"
    if parameter.integer and parameter.is_duration:
        yield f"{base}.integer", "'integer: true' applies to counts, not to durations"


def _kinds(parameter: Parameter, base: str, kinds: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """The bounds must be written like the fields they bound (durations with units, counts whole)."""
    for dotted, kind in kinds:
        if kind == "duration" and not parameter.is_duration:
            yield f"{base}.bounds", f"{dotted} is a duration: give the bounds with units, e.g. ['30 s', '2 min']"
        elif kind != "duration" and parameter.is_duration:
            yield f"{base}.bounds", f"{dotted} is a plain number: give the bounds without units"
        elif kind == "integer" and not parameter.integer:
            yield f"{base}.integer", f"{dotted} is a whole number: add 'integer: true'"


def _target(name: str, target: Target) -> Iterator[tuple[str, str]]:
    base = f"calibration.targets.{name}"
    if not _NAME.match(name):
        yield base, f"expected a target name of letters, digits, '_' and '-', got {name!r}"
    if target.measure not in COUNT_MEASURES:
        for field, default in (("count", "entities"), ("per", "day")):
            if getattr(target, field) != default and not (field == "count" and target.measure in SHARE_MEASURES):
                yield f"{base}.{field}", f"'{field}' applies to counts (throughput, arrivals), not to {target.measure}"
    yield from _waits(target, base)
    if target.hours is not None and not 0 <= target.hours[0] < target.hours[1] <= 24:
        yield f"{base}.hours", f"expected [start, end] hours with 0 <= start < end <= 24, got {list(target.hours)}"
    if target.from_date and target.to_date and target.from_date > target.to_date:
        yield f"{base}.to", f"expected 'to' on or after 'from' ({target.from_date}), got {target.to_date}"
    if target.above_rest and not target.has_time_filter:
        yield f"{base}.above_rest", "'above the rest' needs hours, days or from/to to say what the selection is"
    yield from _band(target, base)


def _waits(target: Target, base: str) -> Iterator[tuple[str, str]]:
    """``waits`` goes with share_wait_between, as two durations low < high."""
    if target.measure != "share_wait_between":
        if target.waits is not None:
            yield f"{base}.waits", f"'waits' goes with measure share_wait_between, not {target.measure}"
        return
    if target.waits is None:
        yield f"{base}.waits", "share_wait_between needs 'waits: [low, high]', e.g. ['30 min', '90 min']"
        return
    for position, raw in enumerate(target.waits):
        message = _unit_problem("wait_mean", raw, relative_allowed=False)
        if message:
            yield f"{base}.waits.{position}", message.replace("wait_mean is a time", "a wait is a time")
            return
    low, high = target.wait_limits()
    if not low < high:
        yield f"{base}.waits", f"expected waits [low, high] with low < high, got {list(target.waits)}"


def _band(target: Target, base: str) -> Iterator[tuple[str, str]]:
    """A value with a tolerance, or a band, in the unit the measure needs."""
    if target.band is not None and target.value is not None:
        yield f"{base}.band", "give either a band or a value with a tolerance, not both"
        return
    if target.band is None and target.value is None:
        if not target.above_rest:
            yield base, "missing the figure: give 'band: [low, high]' or 'value' with 'tolerance'"
        return
    if target.value is not None and target.tolerance is None:
        yield f"{base}.tolerance", "a value needs a tolerance, absolute or relative ('5%')"
        return
    if target.band is not None and target.tolerance is not None:
        yield f"{base}.tolerance", "a tolerance goes with 'value'; a band already says low and high"
        return
    entries = ([("band.0", target.band[0]), ("band.1", target.band[1])] if target.band is not None
               else [("value", target.value), ("tolerance", target.tolerance)])
    if target.band is not None and target.band[0] is None and target.band[1] is None:
        yield f"{base}.band", "expected at least one bound (null leaves one side open)"
        return
    for field, raw in entries:
        if raw is None:
            continue
        message = _unit_problem(target.measure, raw, relative_allowed=field == "tolerance")
        if message:
            yield f"{base}.{field}", message
            return
    low, high = target.limits()
    if not low < high:
        yield f"{base}.band" if target.band is not None else f"{base}.tolerance", \
            f"expected a band with low < high, got [{low:g}, {high:g}]"


def _unit_problem(measure: str, raw: Raw, relative_allowed: bool) -> str | None:
    text = str(raw).strip()
    if relative_allowed and isinstance(raw, str) and text.endswith("%"):
        try:
            number = float(text[:-1])
        except ValueError:
            return f"expected a relative tolerance such as '5%', got {text!r}"
        return None if number > 0 else f"expected a positive tolerance, got {text!r}"
    if measure in WAIT_MEASURES:
        if not isinstance(raw, str):
            return f"{measure} is a time: write it with units, e.g. '30 min' (got the bare number {raw!r})"
        try:
            parse_duration(raw)
        except ValueError as error:
            return str(error)
        return None
    if isinstance(raw, str):
        return f"{measure} is a plain number, not a duration: got {raw!r}"
    return None


def measured_dates(calendar: Any, days: int) -> list[dt.date]:
    """The dates of the measurement window [warm-up, days) of a run of ``days`` days."""
    return [calendar.start_date + dt.timedelta(days=d) for d in range(calendar.warmup_days, days)]


def day_selected(target: Target, date: dt.date) -> bool:
    """Whether ``date`` passes the target's day filters (weekday/weekend/list, from/to)."""
    if target.from_date is not None and date < target.from_date:
        return False
    if target.to_date is not None and date > target.to_date:
        return False
    return day_matches(target.days, date)


def _coverage(target: Target, base: str, scenario: Any) -> Iterator[tuple[str, str]]:
    """The dates a target measures must be simulated (and measured) in the fit and in the check."""
    calendar, fit = scenario.calendar, scenario.calibration.fit
    runs = [("calendar.days", calendar.days)]
    if fit.days is not None and fit.days != calendar.days:
        runs.append(("calibration.fit.days", fit.days))
    for label, days in runs:
        if days <= calendar.warmup_days:
            continue
        dates = measured_dates(calendar, days)
        window = (f"the measured days are {dates[0]} to {dates[-1]} (calendar.start_date {calendar.start_date}, "
                  f"warmup_days {calendar.warmup_days}, {label} {days})")
        if target.needs_whole_range:
            first, last = target.from_date or dates[0], target.to_date or dates[-1]
            if first < dates[0] or last > dates[-1]:
                yield (f"{base}.from" if first < dates[0] else f"{base}.to",
                       f"a total from {first} to {last} needs the calendar to cover every one of those days, but "
                       f"{window}: start the calendar earlier (before the warm-up) or simulate more days")
                return
        selected = [date for date in dates if day_selected(target, date)]
        if not selected:
            yield base, f"selects no measured day: {window}"
            return
        if target.above_rest and target.hours is None and len(selected) == len(dates):
            yield base, f"the selection covers every measured day, so there is no rest to compare with: {window}"
            return


def describe_selection(target: Target) -> str:
    """A short human description of a target's filters, e.g. 'car, bus; 07-10 h; weekend'."""
    parts = [", ".join(target.classes) if target.classes else ""]
    if target.directions:
        parts.append(", ".join(target.directions))
    if target.measure == "share_wait_between" and target.waits is not None:
        parts.append(f"waits {target.waits[0]}-{target.waits[1]}" + (" (persons)" if target.count == "persons" else ""))
    if target.hours is not None:
        parts.append(f"{clock_text(target.hours[0])}-{clock_text(target.hours[1])}")
    if target.days != "all":
        parts.append(target.days if isinstance(target.days, str) else ", ".join(target.days))
    if target.from_date or target.to_date:
        parts.append(f"{target.from_date or '...'} to {target.to_date or '...'}")
    return "; ".join(part for part in parts if part)


def unit_of(target: Target) -> str:
    """The unit of a target's values, for tables."""
    if target.measure in WAIT_MEASURES:
        return "min"
    if target.measure in SHARE_MEASURES:
        return "fraction"
    counted = "persons" if target.count == "persons" else "entities"
    return f"{counted}/day" if target.per == "day" else counted


__all__ = ["Calibration", "FitSettings", "Parameter", "Target", "calibration_problems", "day_selected",
           "describe_selection", "measured_dates", "reference_problems", "resolve_path", "to_number", "unit_of",
           "value_kind"]
