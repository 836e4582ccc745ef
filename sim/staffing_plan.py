"""The staffing plan: what the staffing search (:mod:`sim.staffing_planner`) works on.

A *roster* gives, for every free pool of a scenario's ``staffing_targets``, its open booths in
each hour block between the change hours, one row per day type (every day alike, or weekdays and
weekends). This module holds rosters and their shift rule (every run of equal booths lasts the
minimum shift), the validated :class:`StaffingPlan` (targets, free pools, blocks, day types, the
pools each target's travellers visit), a roster as scenario booths and back, its booth-hours
and cost, and the queueing-theory start: per pool and hour, the Erlang-C (M/M/c, SIPP) minimum
that meets the pool's share of each target, a block taking its busiest hour's number.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import analytic
from .calendar import MINUTES_PER_DAY, day_dates, opening_window
from .demand import hourly_rates
from .errors import Problem, ScenarioError
from .plan import build_layout
from .scenario import Scenario, load_scenario, read_yaml
from .scenario.base import day_matches
from .scenario.schema import BoothSchedule, Deterministic, Empirical, mean_group_size
from .scenario.staffing_targets import ServiceTarget, StaffingTargets, staffing_problems
from .staffing import booth_minutes, booth_schedule, rule_applies


ALL_DAYS = "all"
DAY_TYPES = ("weekday", "weekend")


# --------------------------------------------------------------------------------------------
# rosters
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PoolInfo:
    name: str            # "stage.pool"
    stage: str
    pool: str
    index: int           # in the layout's pool list
    stage_index: int
    minimum: int
    maximum: int
    cost: float


Roster = dict[str, np.ndarray]     # pool name -> (day types, blocks) booths


def roster_key(roster: Roster) -> str:
    return json.dumps({name: levels.tolist() for name, levels in sorted(roster.items())})


def segments(levels: np.ndarray, blocks: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Runs of equal booths in one day's row: (first block, last block, hours), the runs at
    midnight joined when their booths are equal."""
    runs: list[list[int]] = []
    for index, level in enumerate(levels):
        if runs and levels[runs[-1][0]] == level:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    hours = [sum(blocks[i][1] - blocks[i][0] for i in range(a, b + 1)) for a, b in runs]
    if len(runs) > 1 and levels[0] == levels[-1]:
        hours[0] += hours[-1]
        hours[-1] = hours[0]
    return [(a, b, h) for (a, b), h in zip(runs, hours)]


def shift_ok(levels: np.ndarray, blocks: list[tuple[int, int]], min_shift_hours: float) -> bool:
    """Whether every run of equal booths lasts at least the minimum shift."""
    return all(h >= min_shift_hours - 1e-9 for _, _, h in segments(levels, blocks)) or len(set(levels.tolist())) == 1


def repair_shifts(levels: np.ndarray, blocks: list[tuple[int, int]], min_shift_hours: float) -> np.ndarray:
    """Raise booths (never lower them) until every run lasts the minimum shift: a short run
    below a neighbour is raised to the nearer higher neighbour; a short peak extends into the
    higher of its neighbours."""
    levels = levels.copy()
    while not shift_ok(levels, blocks, min_shift_hours):
        runs = segments(levels, blocks)
        for position, (first, last, hours) in enumerate(runs):
            if hours >= min_shift_hours - 1e-9:
                continue
            before = runs[position - 1] if position > 0 else runs[-1]
            after = runs[position + 1] if position + 1 < len(runs) else runs[0]
            own = levels[first]
            higher = [levels[r[0]] for r in (before, after) if levels[r[0]] > own]
            if higher:
                levels[first:last + 1] = min(higher)
            else:
                neighbour = before if levels[before[0]] >= levels[after[0]] else after
                levels[neighbour[0]:neighbour[1] + 1] = own
            break
    return levels


# --------------------------------------------------------------------------------------------
# the plan: targets, free pools, day types, checks (everything the search needs, validated)
# --------------------------------------------------------------------------------------------
@dataclass
class StaffingPlan:
    scenario: Scenario                  # as written (full calendar)
    search_scenario: Scenario           # the horizon of the search
    spec: StaffingTargets
    source: Path | None
    pools: list[PoolInfo]
    blocks: list[tuple[int, int]]
    day_types: tuple[str, ...]
    open_blocks: list[bool]             # blocks the checkpoint is open in (the others keep the minimum)
    target_pools: dict[str, list[int]]  # target -> positions in ``pools`` its travellers visit
    target_stages: dict[str, int]       # target -> most stages with a free pool on one of its routes
    seed: int

    @property
    def min_shift_hours(self) -> float:
        return self.spec.min_shift / 60.0

    def with_roster(self, roster: Roster, scenario: Scenario | None = None) -> Scenario:
        """``scenario`` (default: the search's) with the free pools' booths set by ``roster``."""
        overrides = {f"stages.{p.stage}.pools.{p.pool}.booths": booth_rules(roster[p.name], self.blocks, self.day_types)
                     for p in self.pools}
        return load_scenario(scenario or self.search_scenario, overrides)


def booth_rules(levels: np.ndarray, blocks: list[tuple[int, int]], day_types: tuple[str, ...]) -> dict[str, Any]:
    """A pool's booths as the schema writes them: a default and hour rules (adjacent equal
    blocks joined), one set per day type."""
    default = int(np.bincount(levels.ravel()).argmax())
    rules = []
    for row, day_type in zip(levels, day_types):
        start = None
        for index, level in enumerate(row.tolist() + [None]):
            if start is not None and (level != row[start]):
                rule: dict[str, Any] = {"hours": [blocks[start][0], blocks[index - 1][1]], "booths": int(row[start])}
                if day_type != ALL_DAYS:
                    rule["days"] = day_type
                rules.append(rule)
                start = None
            if level is not None and level != default and start is None:
                start = index
    return {"default": default, "rules": rules}


def current_roster(plan: StaffingPlan, scenario: Scenario | None = None) -> Roster:
    """The booths each free pool has in each block as written (at the block's first minute, on
    the first measured day of each day type)."""
    scenario = scenario or plan.scenario
    calendar = scenario.calendar
    dates = day_dates(calendar, calendar.days)[calendar.warmup_days:]
    roster = {}
    for info in plan.pools:
        pool = scenario.stages[info.stage].pools[info.pool]
        schedule = pool.booths if isinstance(pool.booths, BoothSchedule) else BoothSchedule(default=pool.booths)
        levels = np.zeros((len(plan.day_types), len(plan.blocks)), dtype=int)
        for row, day_type in enumerate(plan.day_types):
            date = next((d for d in dates if day_matches(day_type, d)), dates[0])
            for column, (start, _) in enumerate(plan.blocks):
                booths = schedule.default
                for rule in schedule.rules:
                    if rule_applies(rule, date) and rule.covers(60.0 * start):
                        booths = rule.booths
                levels[row, column] = booths
        roster[info.name] = levels
    return roster


def load_plan(source: str | os.PathLike | Scenario, replications: int | None = None,
              max_evaluations: int | None = None) -> StaffingPlan:
    """Read a scenario with a ``staffing_targets`` block and check the block against it
    (``replications`` and ``max_evaluations`` replace the block's search settings)."""
    path = None if isinstance(source, Scenario) else Path(source)
    scenario = source if isinstance(source, Scenario) else load_scenario(path)
    label = str(path) if path else "<scenario>"
    if scenario.staffing_targets is None:
        raise ScenarioError(Problem(label, "staffing_targets", "missing: `checkpoint-sim staff` needs a "
                                    "staffing_targets block (targets, pools; see docs/staffing.md)"))
    problems = list(staffing_problems(scenario))
    if problems:
        lines = read_yaml(path)[1] if path else {}
        raise ScenarioError([Problem(label, dotted, message, _line(lines, dotted)) for dotted, message in problems])
    spec = scenario.staffing_targets
    if replications is not None:
        spec = spec.model_copy(update={"search": spec.search.model_copy(
            update={"replications": replications, "max_replications": max(replications, spec.search.max_replications)})})
    if max_evaluations is not None:
        spec = spec.model_copy(update={"search": spec.search.model_copy(update={"max_evaluations": max_evaluations})})
    layout = build_layout(scenario)
    pools = []
    for name, free in spec.pools.items():
        stage, pool = name.split(".")
        index = layout.pool_names.index(f"{stage}/{pool}")
        pools.append(PoolInfo(name, stage, pool, index, layout.stage_names.index(stage), free.min, free.max, free.cost))
    blocks = spec.blocks()
    opening, closing = opening_window(scenario.calendar)
    open_blocks = [60.0 * a < closing and 60.0 * b > opening for a, b in blocks]
    day_types = (ALL_DAYS,) if spec.roster == "same" else DAY_TYPES
    target_pools = {name: _pools_of(target, scenario, layout, pools) for name, target in spec.targets.items()}
    for name, positions in target_pools.items():
        if not positions:
            raise ScenarioError(Problem(label, f"staffing_targets.targets.{name}", "no free pool serves the travellers "
                                        "of this target: add one of their pools under staffing_targets.pools"))
    target_stages = {name: 1 if target.stage else max(
        len({plan_pool.stage for plan_pool in (pools[p] for p in target_pools[name])} & set(route))
        for route in scenario.routes.values()) or 1 for name, target in spec.targets.items()}
    search_days = spec.search.days
    search_scenario = load_scenario(scenario, {"calendar.days": search_days}) if search_days else scenario
    seed = spec.search.seed if spec.search.seed is not None else scenario.run.seed
    return StaffingPlan(scenario, search_scenario, spec, path, pools, blocks, day_types, open_blocks,
                        target_pools, target_stages, seed)


def _line(lines: dict, dotted: str) -> int | None:
    """The line of a field path, whose pool names ('stage.pool') hold a dot themselves."""
    parts = dotted.split(".")
    for key in (tuple(parts), tuple(parts[:2]) + (".".join(parts[2:4]),) + tuple(parts[4:])):
        if key in lines:
            return lines[key][1]
    return None


def _pools_of(target: ServiceTarget, scenario: Scenario, layout, pools: list[PoolInfo]) -> list[int]:
    classes = target.classes or list(scenario.classes)
    directions = [target.direction] if target.direction else list(scenario.routes)
    stages = {stage for direction in directions for stage in scenario.routes.get(direction, [])}
    if target.stage:
        stages &= {target.stage}
    return [position for position, info in enumerate(pools)
            if info.stage in stages and any(c in scenario.stages[info.stage].pools[info.pool].serves for c in classes)]


# --------------------------------------------------------------------------------------------
# queueing theory: the start
# --------------------------------------------------------------------------------------------
def _mean(distribution) -> float:
    if isinstance(distribution, Deterministic):
        return distribution.value
    if isinstance(distribution, Empirical):
        weights = np.asarray(distribution.weights or [1.0] * len(distribution.values))
        return float(np.dot(distribution.values, weights) / weights.sum())
    return distribution.mean


def pool_hourly_load(plan: StaffingPlan, info: PoolInfo) -> tuple[np.ndarray, float]:
    """(visits per minute by day type and hour of day, mean service minutes) of one pool."""
    scenario = plan.scenario
    stage = scenario.stages[info.stage]
    pool = stage.pools[info.pool]
    calendar = scenario.calendar
    rates = hourly_rates(scenario).reshape(calendar.days, 24)[calendar.warmup_days:]
    dates = day_dates(calendar, calendar.days)[calendar.warmup_days:]
    per_minute = np.zeros((len(plan.day_types), 24))
    work = weight = 0.0
    for class_name, traveler in scenario.classes.items():
        if class_name not in pool.serves or class_name not in stage.service_time:
            continue
        sharing = sum(1 for p in stage.pools.values() if class_name in p.serves)
        directions = sum(share for direction, share in traveler.directions.items()
                         if info.stage in scenario.routes.get(direction, []))
        tokens = mean_group_size(traveler.group_size) if class_name in stage.per_person else 1
        share = traveler.share * directions * stage.visit_probability.get(class_name, 1.0) * tokens / sharing
        service = _mean(stage.service_time[class_name]) + sum(
            check.probability.get(class_name, 0.0) * _mean(check.service_time) for check in stage.extra_checks.values())
        for row, day_type in enumerate(plan.day_types):
            chosen = [i for i, d in enumerate(dates) if day_matches(day_type, d)] or list(range(len(dates)))
            per_minute[row] += share * rates[chosen].mean(axis=0) / 60.0
        work += share * service
        weight += share
    return per_minute, (work / weight if weight else 1.0)


def theory_booths(rate: float, service: float, target: ServiceTarget, stages: int) -> int:
    """The Erlang-C minimum of one pool in one hour for its share (1 / ``stages``) of a target."""
    if rate <= 0:
        return 0
    mu = 1.0 / service
    c = math.floor(rate / mu) + 1
    for _ in range(1000):
        if _theory_met(rate, mu, c, target, stages):
            return c
        c += 1
    return c


def _theory_met(rate: float, mu: float, c: int, target: ServiceTarget, stages: int) -> bool:
    limit = target.limit
    if target.measure == "wait_mean":
        return analytic.mmc_wait_mean(rate, mu, c) <= limit / stages
    if target.measure in ("wait_p50", "wait_p90", "wait_p95"):
        q = {"wait_p50": 0.5, "wait_p90": 0.9, "wait_p95": 0.95}[target.measure]
        return analytic.mmc_wait_quantile(rate, mu, c, q) <= limit / stages
    if target.measure == "share_waiting":
        return analytic.mmc_wait_probability(rate, mu, c) <= limit / stages
    if target.measure == "share_within":
        return analytic.mmc_wait_tail(rate, mu, c, target.within / stages) <= (1 - limit) / stages
    return True          # lost_share: a stable queue is the start


def theory_roster(plan: StaffingPlan) -> Roster:
    """Per pool and block, the largest hourly Erlang-C minimum over the targets its travellers
    have (SIPP), within the pool's bounds and the shift rule."""
    roster = {}
    for position, info in enumerate(plan.pools):
        per_minute, service = pool_hourly_load(plan, info)
        needed = np.zeros((len(plan.day_types), 24), dtype=int)
        for name, target in plan.spec.targets.items():
            if position not in plan.target_pools[name]:
                continue
            stages = plan.target_stages[name]
            for row in range(len(plan.day_types)):
                for hour in range(24):
                    needed[row, hour] = max(needed[row, hour], theory_booths(per_minute[row, hour], service, target, stages))
        levels = np.zeros((len(plan.day_types), len(plan.blocks)), dtype=int)
        for column, (a, b) in enumerate(plan.blocks):
            levels[:, column] = needed[:, a:b].max(axis=1) if plan.open_blocks[column] else 0
        levels = np.clip(levels, info.minimum, info.maximum)
        roster[info.name] = np.array([repair_shifts(row, plan.blocks, plan.min_shift_hours) for row in levels])
    return roster



def booth_hours_per_day(plan: StaffingPlan, scenario: Scenario) -> dict[str, float]:
    """Open booth-hours per measured day of each free pool, as the scenario schedules them."""
    calendar = scenario.calendar
    edges = np.array([calendar.warmup_days, calendar.days]) * MINUTES_PER_DAY
    days = calendar.days - calendar.warmup_days
    result = {}
    for info in plan.pools:
        times, booths = booth_schedule(scenario.stages[info.stage].pools[info.pool], calendar, calendar.days)
        result[info.name] = float(booth_minutes(times, booths, edges)[0] / 60.0 / days)
    return result


def weighted_cost(plan: StaffingPlan, hours: dict[str, float]) -> float:
    return sum(info.cost * hours[info.name] for info in plan.pools)


__all__ = ["ALL_DAYS", "DAY_TYPES", "PoolInfo", "Roster", "StaffingPlan", "booth_hours_per_day", "booth_rules",
           "current_roster", "load_plan", "pool_hourly_load", "repair_shifts", "roster_key", "segments", "shift_ok",
           "theory_booths", "theory_roster", "weighted_cost"]
