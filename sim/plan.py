"""What the model needs before it runs: the checkpoint's layout and each entity's draws.

``Layout`` is the scenario's structure in index form (stages, lane pools, routes, which pools an
entity may join). ``draw_plan`` draws, for one replication and all at once with numpy, every
entity's service time at every stage, whether it visits optional stages (secondary inspection)
and its extra checks. Drawing per entity and per purpose, from named streams, keeps common
random numbers aligned between scenario variants, and keeps numpy out of the SimPy hot path.
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from .calendar import total_days
from .demand import Arrivals
from .scenario.schema import DIRECTIONS, Scenario
from .service import draw
from .staffing import booth_schedule
from .streams import stream


@dataclass(frozen=True)
class Layout:
    """Index form of a scenario's stages, pools and routes."""

    class_names: list[str]
    stage_names: list[str]
    pool_names: list[str]                    # "stage/pool"
    pool_stage: list[int]
    per_person: list[frozenset[int]]         # per stage: classes whose members are served one by one
    secondary: list[bool]
    routes: dict[tuple[int, int], tuple[int, ...]]              # (class, direction) -> stages
    candidates: dict[tuple[int, int, bool], tuple[int, ...]]    # (stage, class, green) -> pools
    priority_pool: list[bool]                # green-channel travelers go first in this pool
    schedules: list[tuple[np.ndarray, np.ndarray]]              # per pool: (times, booths)
    cargo_classes: list[int]


def build_layout(scenario: Scenario) -> Layout:
    """Turn a validated scenario into index tables the model can use quickly."""
    class_names = list(scenario.classes)
    stage_names = list(scenario.stages)
    green_on = scenario.green_channel.enabled
    pool_names, pool_stage, priority_pool, schedules = [], [], [], []
    candidates: dict[tuple[int, int, bool], tuple[int, ...]] = {}
    days = total_days(scenario.calendar)
    for stage_index, (stage_name, stage) in enumerate(scenario.stages.items()):
        first_pool = len(pool_names)
        for pool_name, pool in stage.pools.items():
            pool_names.append(f"{stage_name}/{pool_name}")
            pool_stage.append(stage_index)
            priority_pool.append(green_on and pool.green_channel == "priority")
            schedules.append(booth_schedule(pool, scenario.calendar, days))
        pools = list(stage.pools.values())
        for class_index, class_name in enumerate(class_names):
            serving = [first_pool + i for i, pool in enumerate(pools) if class_name in pool.serves]
            dedicated = [p for p in serving if green_on and pools[p - first_pool].green_channel == "dedicated"]
            ordinary = [p for p in serving if p not in dedicated]
            candidates[stage_index, class_index, False] = tuple(ordinary)
            candidates[stage_index, class_index, True] = tuple(dedicated or ordinary)
    routes = {}
    for class_index, class_name in enumerate(class_names):
        for direction_index, direction in enumerate(DIRECTIONS):
            route = scenario.routes.get(direction, [])
            routes[class_index, direction_index] = tuple(
                stage_names.index(s) for s in route
                if any(class_name in pool.serves for pool in scenario.stages[s].pools.values()))
    return Layout(
        class_names=class_names, stage_names=stage_names, pool_names=pool_names, pool_stage=pool_stage,
        per_person=[frozenset(class_names.index(c) for c in stage.per_person if c in class_names)
                    for stage in scenario.stages.values()],
        secondary=[stage.kind == "secondary" for stage in scenario.stages.values()],
        routes=routes, candidates=candidates, priority_pool=priority_pool, schedules=schedules,
        cargo_classes=[i for i, c in enumerate(scenario.classes.values()) if c.cargo])


@dataclass
class Plan:
    """One replication's draws, as compact arrays indexed by entity (or token) id."""

    service: list[array]           # per stage: service minutes per token (see token_offset)
    visits: list[bytearray | None]  # per stage: 1 if the entity visits it (None: everyone does)
    token_offset: np.ndarray       # entity e's tokens are token_offset[e] + 0..group_size-1;
                                   # a group served as one uses its first token only


def draw_plan(scenario: Scenario, layout: Layout, arrivals: Arrivals, seed: int, replication: int) -> Plan:
    """Draw service times, optional visits and extra checks for every entity and stage."""
    count = len(arrivals)
    token_offset = np.concatenate(([0], np.cumsum(arrivals.group_size)))
    service, visits = [], []
    for stage_name, stage in scenario.stages.items():
        times = np.zeros(int(token_offset[-1]))
        visit = np.ones(count, dtype=bool)
        for class_index, class_name in enumerate(layout.class_names):
            if class_name not in stage.service_time:
                continue
            members = np.flatnonzero(arrivals.class_index == class_index)
            if class_name in stage.per_person:
                sizes = arrivals.group_size[members]
                token_ids = np.repeat(token_offset[members], sizes) + _ranks(sizes)
            else:
                token_ids = token_offset[members]
            name = f"{stage_name}/{class_name}"
            times[token_ids] = draw(stage.service_time[class_name], stream(seed, replication, f"service/{name}"),
                                    len(token_ids))
            for check_name, check in stage.extra_checks.items():
                probability = check.probability.get(class_name, 0.0)
                if probability > 0:
                    rng = stream(seed, replication, f"check/{name}/{check_name}")
                    hit = rng.uniform(size=len(token_ids)) < probability
                    times[token_ids] += hit * draw(check.service_time, rng, len(token_ids))
            probability = stage.visit_probability.get(class_name, 1.0)
            if probability < 1.0:
                visit[members] = stream(seed, replication, f"visit/{name}").uniform(size=len(members)) < probability
        service.append(array("d", times.tobytes()))
        visits.append(None if visit.all() else bytearray(visit.tobytes()))
    return Plan(service=service, visits=visits, token_offset=token_offset)


def _ranks(sizes: np.ndarray) -> np.ndarray:
    """0, 1, ..., size-1 for each group, concatenated."""
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.arange(int(np.sum(sizes))) - starts
