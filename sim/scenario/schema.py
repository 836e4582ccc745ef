"""The scenario schema: what a scenario file may say, with types, ranges and defaults.

Pydantic v2 models, frozen once validated. Durations are given with units in the file and held
in minutes here. Checks that span several fields (a route naming an unknown stage, a class no
lane serves) live in :mod:`sim.scenario.checks`, so that each problem gets its exact field path.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator

from .base import WEEKDAYS, Strict  # noqa: F401  (WEEKDAYS belongs to the schema: re-exported)
from .calibration import Calibration
from .distributions import (CV, CV_MAX, DIRECTIONS, VALUES_MAX, WEIGHT_MAX, Deterministic,  # noqa: F401  (re-exported)
                            Direction, Distribution, Duration, Empirical, Exponential, Gamma, LogNormal, Probability,
                            Weight,
                            _at_most, _non_negative, _number)
from .impatience import Balking
from .rail import Rail
from .staffing_targets import StaffingTargets


# Upper bounds (docs/scenario.md, "Limits"): they keep one replication within memory and a few
# minutes, and every number far from overflow. The expected arrivals of a replication are bounded
# in sim.scenario.checks (volume x days x factors).
MEASURED_DAYS_MAX = 366         # days after the warm-up: a year
WARMUP_DAYS_MAX = 60
DAYS_MAX = MEASURED_DAYS_MAX + WARMUP_DAYS_MAX
DRAIN_MAX_MINUTES = 31 * 1440.0  # a month
DAILY_VOLUME_MAX = 200_000       # entities a day at factor 1
FACTOR_MAX = 100.0               # weekday and seasonal demand factors
GROUP_SIZE_MAX = 200             # people carried by one entity (a train is several entities)
BOOTHS_MAX = 500                 # open booths of one pool
TRUCKS_PER_DAY_MAX = 10_000      # cargo quotas and acceptance
BACKLOG_MAX = 100_000            # trucks already queued at time zero
QUEUE_CAPACITY_MAX = 1_000_000   # tokens waiting at one stage
SEED_MAX = 2**63 - 1
CLASSES_MAX, STAGES_MAX, POOLS_MAX, RULES_MAX, SEASONS_MAX = 50, 50, 20, 100, 100
CLOSED_DATES_MAX, CHECKS_MAX, HOLIDAYS_MAX = 1000, 20, 100


def _booths(value: int) -> int:
    if value < 0:
        raise ValueError(f"expected a number of booths >= 0, got {value}")
    return value


NonNegative = Annotated[float, AfterValidator(_non_negative)]
Factor = Annotated[float, AfterValidator(_non_negative), _at_most(FACTOR_MAX, "a demand factor")]
Booths = Annotated[int, AfterValidator(_booths), _at_most(BOOTHS_MAX, "a number of booths")]
GroupSize = Annotated[int, Field(ge=1), _at_most(GROUP_SIZE_MAX, "a group size")]


def parse_utc_offset(value: object) -> int:
    """``"UTC+5"``, ``"UTC+05:00"``, ``"UTC-3:30"`` -> minutes east of UTC."""
    match = re.fullmatch(r"\s*UTC\s*([+-])\s*(\d{1,2})(?::(\d{2}))?\s*", str(value), flags=re.IGNORECASE)
    if not isinstance(value, str) or match is None:
        raise ValueError(f"expected a time zone 'UTC+H' or 'UTC+HH:MM' (e.g. 'UTC+5'), got {value!r}")
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes >= 60:
        raise ValueError(f"expected an offset between UTC-14:00 and UTC+14:00, got {value!r}")
    return (1 if sign == "+" else -1) * (60 * hours + minutes)


def format_utc_offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


UtcOffset = Annotated[int, BeforeValidator(parse_utc_offset), PlainSerializer(format_utc_offset)]
Side = Literal["KZ", "CN"]


class Crossing(Strict):
    """Who and where (metadata printed in reports), and the clocks of its two sides."""

    name: str
    kz_post: str
    cn_post: str
    countries: tuple[str, str] = ("Kazakhstan", "China")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    sources: list[str] = []
    notes: str = ""
    time_zones: dict[Side, UtcOffset] = {}  # minutes east of UTC per side; {}: one local clock for both
    clock: Side = "KZ"  # the side whose time zone is the model clock (with time_zones)

    def clock_shift(self, side: str) -> float:
        """Minutes to subtract from ``side``'s local clock time to get the model clock's."""
        if side not in self.time_zones or self.clock not in self.time_zones:
            return 0.0
        return float(self.time_zones[side] - self.time_zones[self.clock])

    def clock_label(self) -> str:
        """The model clock in words, e.g. 'UTC+05:00 (KZ local time)'."""
        if self.clock not in self.time_zones:
            return "local time (one clock for both sides)"
        return f"{format_utc_offset(self.time_zones[self.clock])} ({self.clock} local time)"


class OpeningHours(Strict):
    """Daily opening window in local time, e.g. open: "09:00", close: "18:00"."""

    open: str = "00:00"
    close: str = "24:00"

    @field_validator("open", "close")
    @classmethod
    def _clock(cls, value: str) -> str:
        try:
            hours, minutes = (int(part) for part in value.split(":"))
        except (ValueError, AttributeError):
            raise ValueError(f"expected a clock time 'HH:MM', got {value!r}") from None
        if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
            raise ValueError(f"expected a clock time between 00:00 and 24:00, got {value!r}")
        return value

    def minutes(self) -> tuple[float, float]:
        """(open, close) in minutes after midnight."""
        def to_minutes(clock: str) -> float:
            hours, minutes = (int(part) for part in clock.split(":"))
            return 60.0 * hours + minutes
        return to_minutes(self.open), to_minutes(self.close)


class Holiday(Strict):
    """A named public holiday of one country (``holidays`` package): a demand factor or a closure
    over its holiday period (see :mod:`sim.holidays`)."""

    country: Side
    name: str = Field(min_length=1)
    factor: Factor = 1.0   # demand multiplier on the period's days
    closed: bool = False   # the crossing is shut those days


class Displacement(Strict):
    """Demand of a closed date moved to the open days before and after the closure."""

    before: Probability = 0.0   # share of a closed day's demand moved to the days before the closure
    after: Probability = 0.0    # share moved to the days after it (the rest is lost)
    days: int = Field(default=1, ge=1, le=14)   # open days each share is spread over (evenly)


class Calendar(Strict):
    """When the simulated days are, and when the checkpoint is open."""

    start_date: dt.date = Field(ge=dt.date(1900, 1, 1), le=dt.date(2999, 12, 31))
    days: int = Field(ge=1, le=DAYS_MAX)
    warmup_days: int = Field(default=0, ge=0, le=WARMUP_DAYS_MAX)
    drain: Annotated[Duration, _at_most(DRAIN_MAX_MINUTES, "a drain (minutes)")] = 1440.0  # after the horizon, no new arrivals
    opening_hours: OpeningHours | Literal["24h"] = "24h"
    closed_dates: list[dt.date] = Field(default=[], max_length=CLOSED_DATES_MAX)
    closed_weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = []
    holidays: list[Holiday] = Field(default=[], max_length=HOLIDAYS_MAX)  # named public holidays (sim.holidays)
    displacement: Displacement | None = None  # a closed date's demand partly moved to the open days around it

    def years(self, days: int | None = None) -> tuple[int, ...]:
        """The calendar years that the first ``days`` simulated days (default: ``days``) touch."""
        last = self.start_date + dt.timedelta(days=max((self.days if days is None else days) - 1, 0))
        return tuple(range(self.start_date.year, last.year + 1))


class Run(Strict):
    """Defaults for a run; the command line may override them."""

    replications: int = Field(default=5, ge=1, le=10000)
    seed: int = Field(default=20250701, ge=0, le=SEED_MAX)


class DateWindow(Strict):
    """Which calendar days something applies to: some months and/or a date range (inclusive)."""

    months: list[int] = []
    from_date: dt.date | None = Field(default=None, alias="from")
    to_date: dt.date | None = Field(default=None, alias="to")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("months")
    @classmethod
    def _months(cls, months: list[int]) -> list[int]:
        bad = [m for m in months if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"expected month numbers 1-12, got {bad}")
        return months

    def covers_date(self, date: dt.date) -> bool:
        """Whether ``date`` is in the months (if any are given) and in the date range."""
        if self.months and date.month not in self.months:
            return False
        if self.from_date is not None and date < self.from_date:
            return False
        return self.to_date is None or date <= self.to_date


class SeasonalFactor(DateWindow):
    """Demand multiplier for some months, or for a date range (inclusive)."""

    factor: Factor


class Demand(Strict):
    """Arrivals: a non-homogeneous Poisson process with an hour x weekday x season profile."""

    daily_volume: Annotated[NonNegative, _at_most(DAILY_VOLUME_MAX, "a daily volume")]  # in `counts` a day, factor 1
    counts: Literal["entities", "persons", "vehicles"] = "entities"  # what daily_volume counts
    vehicle_classes: list[str] = []  # classes whose entities are vehicles (one each); the rest travel on foot
    hour_weights: list[Weight] = [1.0] * 24
    weekday_factors: list[Factor] = [1.0] * 7
    seasonal_factors: list[SeasonalFactor] = Field(default=[], max_length=SEASONS_MAX)
    # date -> volume that day, in the unit of `counts` (a forecast's P50): replaces daily_volume x factors
    daily_volumes: dict[dt.date, Annotated[NonNegative, _at_most(DAILY_VOLUME_MAX, "a daily volume")]] = \
        Field(default={}, max_length=DAYS_MAX)

    @field_validator("hour_weights")
    @classmethod
    def _hours(cls, weights: list[float]) -> list[float]:
        if len(weights) != 24:
            raise ValueError(f"expected 24 hour-of-day weights (00-01 ... 23-24), got {len(weights)}")
        if sum(weights) <= 0:
            raise ValueError("expected at least one positive hour weight")
        return weights

    @field_validator("weekday_factors")
    @classmethod
    def _weekdays(cls, factors: list[float]) -> list[float]:
        if len(factors) != 7:
            raise ValueError(f"expected 7 weekday factors (Monday first), got {len(factors)}")
        return factors

    def units_per_entity(self, classes: dict[str, TravelerClass]) -> float:
        """Mean units of ``counts`` per arriving entity over the class mix: 1 for entities, the
        share-weighted mean group size for persons, the share of vehicle classes for vehicles."""
        if self.counts == "entities":
            return 1.0
        if self.counts == "vehicles":
            return sum(c.share for name, c in classes.items() if name in self.vehicle_classes)
        return sum(c.share * mean_group_size(c.group_size) for c in classes.values())

    def entities_per_day(self, classes: dict[str, TravelerClass]) -> float:
        """``daily_volume`` converted to arriving entities a day (0 if the unit counts no one)."""
        return self.to_entities(self.daily_volume, classes)

    def to_entities(self, volume: float, classes: dict[str, TravelerClass]) -> float:
        """A volume in the unit of ``counts`` (``daily_volume``, a date of ``daily_volumes``) as
        arriving entities (0 if the unit counts no one)."""
        if self.counts == "entities":
            return volume
        units = self.units_per_entity(classes)
        return volume / units if units > 0 else 0.0


class GroupRange(Strict):
    """A group size drawn uniformly between min and max (inclusive)."""

    min: GroupSize
    max: GroupSize


def mean_group_size(size: int | GroupRange) -> float:
    """Expected people carried by one entity of a class."""
    return (size.min + size.max) / 2 if isinstance(size, GroupRange) else float(size)


class TravelerClass(Strict):
    """A kind of arrival: pedestrian, car, bus, truck..."""

    share: Probability  # of the daily volume
    directions: dict[Direction, Probability] = {"KZ_to_CN": 0.5, "CN_to_KZ": 0.5}
    group_size: GroupSize | GroupRange = 1  # people carried; each needs a document check at per-person stages
    green_channel_share: Probability = 0.0  # eligible: elderly, disabled, families with infants
    cargo: bool = False  # held by the cargo release quota before the checkpoint
    patience: Distribution | None = None  # how long one waits in a stage queue before leaving; None: forever
    patience_by_direction: dict[Direction, Distribution] = {}  # replaces `patience` for travellers of a direction
    patience_from: Literal["stage", "crossing"] = "stage"  # patience counts from joining each stage queue, or from arrival
    on_leave: Literal["lost", "defer", "next_opening"] = "lost"  # gives up, or comes back (once) the next day / at the stage's next opening

    @property
    def has_patience(self) -> bool:
        """Whether some traveller of the class may run out of patience (in some direction)."""
        return self.patience is not None or bool(self.patience_by_direction)


class HourRule(DateWindow):
    """Booths open in a window; later rules override earlier ones where they overlap."""

    booths: Booths
    hours: tuple[float, float] = (0, 24)  # [start, end) in hours of the day; [22, 6] wraps midnight
    days: Literal["all", "weekday", "weekend"] | list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = "all"

    @field_validator("hours")
    @classmethod
    def _hours(cls, hours: tuple[float, float]) -> tuple[float, float]:
        start, end = hours
        if not (0 <= start <= 24 and 0 <= end <= 24) or start == end:
            raise ValueError(f"expected [start, end] hours between 0 and 24, start != end, got {list(hours)}")
        return hours

    def covers(self, minute_of_day: float) -> bool:
        """Whether the rule's hours cover this minute of the day (windows may wrap midnight)."""
        start, end = 60.0 * self.hours[0], 60.0 * self.hours[1]
        if start < end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end


class BoothSchedule(Strict):
    """Open booths: a default, changed by rules (hour of day, weekday/weekend, season)."""

    default: Booths
    rules: list[HourRule] = Field(default=[], max_length=RULES_MAX)


class LanePool(Strict):
    """Identical booths serving some classes from one queue."""

    serves: list[str]
    booths: Booths | BoothSchedule = 1
    green_channel: Literal["none", "dedicated", "priority"] = "none"


class ExtraCheck(Strict):
    """A further check at the same booth with some probability (full unload, device check)."""

    probability: dict[str, Probability]
    service_time: Distribution


class Stage(Strict):
    """One control point on a route: lane pools, service times, inspection intensity."""

    side: Literal["KZ", "CN"]
    kind: Literal["primary", "secondary"] = "primary"
    per_person: list[str] = []  # classes whose members (bus passengers) are each checked on their own
    service_time: dict[str, Distribution]
    visit_probability: dict[str, Probability] = {}  # default 1 for every class served
    extra_checks: dict[str, ExtraCheck] = Field(default={}, max_length=CHECKS_MAX)
    pools: dict[str, LanePool] = Field(max_length=POOLS_MAX)
    queue_capacity: Annotated[int, Field(ge=0), _at_most(QUEUE_CAPACITY_MAX, "a queue capacity")] | None = None  # tokens waiting at once; None: no cap
    allow_leave: bool = False  # travellers may balk or renege here even if it is not their route's first stage
    when_full: Literal["balk", "block"] = "balk"  # at queue_capacity: arrivals balk, or wait where they are (spill-back)
    balking: Balking | None = None  # balking by queue length (probability) or by the announced wait
    jockeying: bool = False  # a booth falling idle with an empty queue takes a waiting token from another pool
    opening_hours: OpeningHours | Literal["24h"] = "24h"  # in the local time of the stage's side


class GreenChannel(Strict):
    """Dedicated lanes or priority for eligible travelers; off = those lanes serve everyone."""

    enabled: bool = True


class Cargo(Strict):
    """Daily truck releases (Kazakhstan's electronic queue) and the other side's acceptance."""

    daily_release_quota: dict[Direction, Annotated[int, _at_most(TRUCKS_PER_DAY_MAX, "trucks a day")]]
    accepted_per_day: dict[Direction, Annotated[int, _at_most(TRUCKS_PER_DAY_MAX, "trucks a day")]] = {}
    release_hours: tuple[float, float] = (0, 24)
    initial_backlog: dict[Direction, Annotated[int, _at_most(BACKLOG_MAX, "an initial backlog")]] = {}

    @field_validator("daily_release_quota", "accepted_per_day", "initial_backlog")
    @classmethod
    def _counts(cls, counts: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in counts.items() if v < 0}
        if bad:
            raise ValueError(f"expected counts >= 0, got {bad}")
        return counts


class Scenario(Strict):
    """A whole crossing: demand, stages, staffing, routes. Immutable once loaded."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    crossing: Crossing
    calendar: Calendar
    run: Run = Run()
    demand: Demand
    classes: dict[str, TravelerClass] = Field(min_length=1, max_length=CLASSES_MAX)
    stages: dict[str, Stage] = Field(min_length=1, max_length=STAGES_MAX)
    routes: dict[Direction, list[str]]
    green_channel: GreenChannel = GreenChannel()
    cargo: Cargo | None = None
    calibration: Calibration | None = None  # free parameters and targets for `checkpoint-sim calibrate`
    staffing_targets: StaffingTargets | None = None  # service levels and constraints for `checkpoint-sim staff`
    rail: Rail | None = None  # trains by timetable through border stations (docs/rail.md); None: no rail model
