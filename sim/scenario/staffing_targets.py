"""The optional ``staffing_targets`` block of a scenario: service levels, constraints, search settings.

The engine ignores the block; ``checkpoint-sim staff`` (:mod:`sim.staffing_planner`) reads it.
A *target* is a service level on the total checkpoint wait (or the wait at one stage) of some
entities, checked per hour of arrival or over the whole measured period::

    measure (wait_mean | wait_p50 | wait_p90 | wait_p95 | share_waiting | share_within | lost_share)
    of the entities of some classes, of one direction, at one stage (default: the whole crossing),
    arriving at some hours of the day, per hour of arrival or per day,
    at_most a limit (waits: a duration; shares: a fraction or "2 %"),
    or, for share_within, at_least a fraction served within a duration.

The *pools* are the ones free to change (``stage.pool``), each between a minimum and its
physical number of lanes, with an optional cost per booth-hour; the rest stay as written.
Booths change only at ``change_hours``, every run of equal booths lasts at least ``min_shift``,
and the roster is the same every day or one per day type (weekday, weekend).

:func:`staffing_problems` checks what the block says about the rest of the scenario (stages,
pools, classes that exist) when a staffing search starts, each problem with its field path.
"""
from __future__ import annotations

import math
import re
from typing import Annotated, Any, Iterator, Literal, Union

from pydantic import BeforeValidator, Field, PlainSerializer, field_validator, model_validator

from ..errors import did_you_mean
from .base import Strict
from .units import format_minutes, parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(format_minutes)]
Measure = Literal["wait_mean", "wait_p50", "wait_p90", "wait_p95", "share_waiting", "share_within", "lost_share"]
WAIT_MEASURES = ("wait_mean", "wait_p50", "wait_p90", "wait_p95")
SHARE_MEASURES = ("share_waiting", "share_within", "lost_share")
_POOL = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def parse_share(value: Any) -> float:
    """A fraction: a number in [0, 1] or a percentage such as ``"2 %"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a fraction (0.02) or a percentage ('2 %'), got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not text.endswith("%"):
            raise ValueError(f"expected a fraction (0.02) or a percentage ('2 %'), got {value!r}")
        try:
            value = float(text[:-1]) / 100.0
        except ValueError:
            raise ValueError(f"expected a percentage such as '2 %', got {text!r}") from None
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"expected a fraction between 0 and 1 (or 0 % to 100 %), got {value!r}")
    return float(value)


class ServiceTarget(Strict):
    """One service level: a measure of some entities' waits against a limit."""

    measure: Measure
    at_most: Union[str, float, None] = None     # waits: "60 min"; shares: 0.2 or "20 %"
    at_least: Union[str, float, None] = None    # share_within only: "80 %"
    within: Duration | None = None              # share_within only: "30 min"
    classes: list[str] = []                     # default: every class
    direction: Literal["KZ_to_CN", "CN_to_KZ"] | None = None
    stage: str | None = None                    # the wait at this stage only (default: the whole crossing)
    per: Literal["hour", "day"] = "hour"        # every hour of arrival, or all arrivals of a day type together
    hours: tuple[float, float] | None = None    # hours of arrival checked [from, to); default: the whole day
    source: str = ""                            # where the figure comes from, or ASSUMPTION

    @field_validator("hours")
    @classmethod
    def _hours(cls, hours: tuple[float, float] | None) -> tuple[float, float] | None:
        if hours is not None and not (0 <= hours[0] < hours[1] <= 24):
            raise ValueError(f"expected [from, to] hours with 0 <= from < to <= 24, got {list(hours)}")
        return hours

    @model_validator(mode="after")
    def _limit(self) -> "ServiceTarget":
        if self.measure == "share_within":
            if self.within is None or self.at_least is None or self.at_most is not None:
                raise ValueError("share_within needs 'within' (a duration) and 'at_least' (a share such as '80 %'), "
                                 "and no 'at_most'")
            parse_share(self.at_least)
            return self
        if self.within is not None or self.at_least is not None:
            raise ValueError(f"{self.measure} takes 'at_most' only ('within' and 'at_least' go with share_within)")
        if self.at_most is None:
            raise ValueError(f"{self.measure} needs 'at_most': "
                             + ("a duration such as '60 min'" if self.measure in WAIT_MEASURES
                                else "a share such as 0.2 or '20 %'"))
        if self.measure in WAIT_MEASURES:
            if not isinstance(self.at_most, str):
                raise ValueError(f"{self.measure} is a time: write at_most with units, e.g. '60 min' "
                                 f"(got the bare number {self.at_most!r})")
            if parse_duration(self.at_most) <= 0:
                raise ValueError(f"expected a positive at_most, got {self.at_most!r}")
        else:
            parse_share(self.at_most)
        return self

    @property
    def limit(self) -> float:
        """The limit in model units: minutes for waits, a fraction for shares."""
        if self.measure == "share_within":
            return parse_share(self.at_least)
        return parse_duration(self.at_most) if self.measure in WAIT_MEASURES else parse_share(self.at_most)

    @property
    def higher_is_better(self) -> bool:
        return self.measure == "share_within"

    @property
    def value_range(self) -> tuple[float, float]:
        """The values the measure can take (its CIs are bounded to them): a share 0 to 1, a wait >= 0."""
        return (0.0, 1.0) if self.measure in SHARE_MEASURES else (0.0, math.inf)

    def describe(self) -> str:
        """e.g. 'wait_p90 <= 60 min (car; KZ_to_CN; per hour 07-22 h)'."""
        if self.measure == "share_within":
            what = f"share served within {format_minutes(self.within).replace('.0 min', ' min')} >= {self.at_least}"
        else:
            what = f"{self.measure} <= {self.at_most}"
        where = [", ".join(self.classes), self.direction or "", f"at {self.stage}" if self.stage else "",
                 f"per {self.per}" + (f" {self.hours[0]:g}-{self.hours[1]:g} h" if self.hours else "")]
        return f"{what} ({'; '.join(part for part in where if part)})"


class FreePool(Strict):
    """A pool the planner may change: its booths stay between ``min`` and ``max`` (the lanes)."""

    min: int = Field(default=1, ge=0, le=500)
    max: int = Field(ge=1, le=500)          # the physical number of lanes or desks
    cost: float = Field(default=1.0, gt=0)  # per booth-hour, in any unit (default: every booth-hour alike)
    source: str = ""

    @model_validator(mode="after")
    def _range(self) -> "FreePool":
        if self.min > self.max:
            raise ValueError(f"expected min <= max, got min {self.min} and max {self.max}")
        return self


class StaffingSearch(Strict):
    """How to search: replications (more where a target is close), a shorter horizon, a budget."""

    replications: int = Field(default=4, ge=2, le=1000)        # first look at every roster
    max_replications: int = Field(default=16, ge=2, le=10000)   # where a CI still straddles a limit
    days: int | None = Field(default=None, ge=1)                # simulated days while searching (default: calendar.days)
    max_evaluations: int = Field(default=40, ge=1, le=10000)    # rosters simulated
    start: Literal["theory", "current"] = "theory"              # Erlang C / SIPP per pool and hour, or the roster as written
    seed: int | None = Field(default=None, ge=0)                # default: run.seed

    @model_validator(mode="after")
    def _replications(self) -> "StaffingSearch":
        if self.max_replications < self.replications:
            raise ValueError(f"expected max_replications >= replications ({self.replications}), "
                             f"got {self.max_replications}")
        return self


class StaffingTargets(Strict):
    """Service levels, the pools free to change and their constraints, and search settings."""

    targets: dict[str, ServiceTarget] = Field(min_length=1, max_length=50)
    pools: dict[str, FreePool] = Field(min_length=1, max_length=100)
    change_hours: list[int] = list(range(24))       # booths change only at these hours of the day
    min_shift: Duration = 60.0                      # every run of equal booths lasts at least this
    roster: Literal["same", "day_type"] = "same"    # one roster every day, or one for weekdays and one for weekends
    search: StaffingSearch = StaffingSearch()

    @field_validator("change_hours")
    @classmethod
    def _change_hours(cls, hours: list[int]) -> list[int]:
        bad = [h for h in hours if not 0 <= h <= 23]
        if bad or not hours:
            raise ValueError(f"expected hours of the day 0-23 (at least one), got {hours}")
        if len(set(hours)) != len(hours):
            raise ValueError(f"expected each change hour once, got {hours}")
        return sorted(hours)

    @field_validator("pools")
    @classmethod
    def _pool_names(cls, pools: dict[str, FreePool]) -> dict[str, FreePool]:
        for name in pools:
            if not _POOL.match(name):
                raise ValueError(f"expected pools named 'stage.pool' (e.g. 'kz_passport_exit.foot'), got {name!r}")
        return pools

    def blocks(self) -> list[tuple[int, int]]:
        """The hour blocks [start, end) between change hours, 0 to 24 (0 is always a boundary)."""
        edges = sorted({0, *self.change_hours}) + [24]
        return list(zip(edges[:-1], edges[1:]))


def staffing_problems(scenario: Any) -> Iterator[tuple[str, str]]:
    """(dotted path, message) for what ``staffing_targets`` says about the scenario: stages,
    pools and classes that exist, pools that serve a target's entities, bounds of booths."""
    block: StaffingTargets | None = scenario.staffing_targets
    if block is None:
        return
    for name, pool in block.pools.items():
        stage, pool_name = name.split(".")
        where = f"staffing_targets.pools.{name}"
        if stage not in scenario.stages:
            yield where, f"unknown stage {stage!r}{did_you_mean(stage, list(scenario.stages))}"
            continue
        pools = scenario.stages[stage].pools
        if pool_name not in pools:
            yield where, f"stage {stage} has no pool {pool_name!r}{did_you_mean(pool_name, list(pools))}"
    for name, target in block.targets.items():
        where = f"staffing_targets.targets.{name}"
        for index, class_name in enumerate(target.classes):
            if class_name not in scenario.classes:
                yield (f"{where}.classes.{index}",
                       f"unknown class {class_name!r}{did_you_mean(class_name, list(scenario.classes))}")
        if target.stage is not None and target.stage not in scenario.stages:
            yield f"{where}.stage", f"unknown stage {target.stage!r}{did_you_mean(target.stage, list(scenario.stages))}"
        if target.measure == "lost_share" and not any(c.has_patience for c in scenario.classes.values()):
            yield f"{where}.measure", "lost_share needs impatience: no class has a 'patience' distribution"
    if block.min_shift > 24 * 60:
        yield "staffing_targets.min_shift", f"expected at most 24 h, got {block.min_shift:g} min"
    days = block.search.days
    if days is not None and days <= scenario.calendar.warmup_days:
        yield ("staffing_targets.search.days",
               f"expected more days than calendar.warmup_days ({scenario.calendar.warmup_days}), got {days}")


__all__ = ["FreePool", "ServiceTarget", "StaffingSearch", "StaffingTargets", "parse_share", "staffing_problems"]
