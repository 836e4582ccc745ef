"""What the model needs before it runs: the checkpoint's layout and each entity's draws.

``Layout`` is the scenario's structure in index form (stages, lane pools, routes, which pools an
entity may join). ``draw_plan`` draws, for one replication and all at once with numpy, every
entity's service time at every stage, whether it visits optional stages (secondary inspection),
its extra checks, its patience and its balking draws. Drawing per entity and per purpose, from
named streams, keeps common random numbers aligned between scenario variants, and keeps numpy
out of the SimPy hot path.
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from .calendar import total_days
from .demand import Arrivals
from .scenario.impatience import Balking
from .scenario.rail_stages import station_of_stage, stations_on_route, train_class
from .scenario.schema import DIRECTIONS, Scenario
from .service import draw
from .staffing import booth_schedule
from .streams import stream
from .yard import RailLayout


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
    queue_capacity: list[int | None]         # per stage: tokens that may wait there at once (None: no cap)
    allow_leave: list[bool]                  # per stage: leaving allowed even when not a route's first stage
    defer: list[bool]                        # per class: a leaver comes back (once)...
    next_opening: list[bool]                 # ... at the stage's next opening (else the next day)
    patience_from_crossing: list[bool]       # per class: patience counts from arrival, not from each queue
    block: list[bool]                        # per stage: a full queue holds arrivals where they are (spill-back)
    balking: list[Balking | None]            # per stage: balking by queue length or announced wait
    jockeying: list[bool]                    # per stage: idle booths take waiting tokens from other pools
    impatient: bool                          # any of the above is used: the model's impatient methods run
    rail: RailLayout | None = None           # tracks and the interchange limit of the rail block (sim.yard)


def build_layout(scenario: Scenario) -> Layout:
    """Turn a validated scenario into index tables the model can use quickly."""
    class_names = list(scenario.classes)
    stage_names = list(scenario.stages)
    green_on = scenario.green_channel.enabled
    pool_names, pool_stage, priority_pool, schedules = [], [], [], []
    candidates: dict[tuple[int, int, bool], tuple[int, ...]] = {}
    days = total_days(scenario.calendar)
    rail_stages = set(station_of_stage(scenario.rail)) if scenario.rail is not None else set()
    rail_calendar = _rail_calendar(scenario)
    for stage_index, (stage_name, stage) in enumerate(scenario.stages.items()):
        first_pool = len(pool_names)
        for pool_name, pool in stage.pools.items():
            pool_names.append(f"{stage_name}/{pool_name}")
            pool_stage.append(stage_index)
            priority_pool.append(green_on and pool.green_channel == "priority")
            schedules.append(booth_schedule(pool, rail_calendar if stage_name in rail_stages else scenario.calendar,
                                            days, stage, scenario.crossing))
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
        cargo_classes=[i for i, c in enumerate(scenario.classes.values()) if c.cargo],
        queue_capacity=[stage.queue_capacity for stage in scenario.stages.values()],
        allow_leave=[stage.allow_leave for stage in scenario.stages.values()],
        defer=[c.on_leave != "lost" for c in scenario.classes.values()],
        next_opening=[c.on_leave == "next_opening" for c in scenario.classes.values()],
        patience_from_crossing=[c.patience_from == "crossing" for c in scenario.classes.values()],
        block=[stage.when_full == "block" and stage.queue_capacity is not None for stage in scenario.stages.values()],
        balking=[stage.balking for stage in scenario.stages.values()],
        jockeying=[stage.jockeying for stage in scenario.stages.values()],
        impatient=any(c.has_patience for c in scenario.classes.values())
        or any(stage.queue_capacity is not None or stage.balking is not None or stage.jockeying
               for stage in scenario.stages.values()),
        rail=_rail_layout(scenario, class_names, stage_names))


def _rail_calendar(scenario: Scenario):
    """The calendar of the rail stations: 24 h every day, whatever the road post's hours and
    closures (trains on closed days are cancelled or held by the timetable, sim.timetable)."""
    if scenario.rail is None:
        return None
    return scenario.calendar.model_copy(update={"opening_hours": "24h", "closed_dates": [], "closed_weekdays": [],
                                                "holidays": []})


def _rail_layout(scenario: Scenario, class_names: list[str], stage_names: list[str]) -> RailLayout | None:
    """The rail block's stations, tracks and interchange limit in index form (None without one)."""
    rail = scenario.rail
    if rail is None or not rail.stations:
        return None
    station_names = list(rail.stations)
    owner = station_of_stage(rail)
    quota = rail.interchange.trains_per_day if rail.interchange is not None else {}
    gate = []
    for direction in DIRECTIONS:
        on_route = stations_on_route(rail, direction)
        gate.append(station_names.index(on_route[0]) if on_route else -1)
    return RailLayout(station_names=station_names,
                      station_of_stage=[station_names.index(owner[s]) if s in owner else -1 for s in stage_names],
                      tracks=[station.tracks for station in rail.stations.values()], gate_station=gate,
                      trains_per_day=[quota.get(direction) for direction in DIRECTIONS],
                      train_classes=[class_names.index(train_class(t)) for t in rail.train_types])


@dataclass
class Plan:
    """One replication's draws, as compact arrays indexed by entity (or token) id.

    A *token* is one service at one stage: entity ``e``'s tokens are ``token_offset[e]`` ...
    ``token_offset[e + 1] - 1``, one per stage it visits, in the order of its route (a group
    served per person at a stage has one token per member there). Only visited stages have
    tokens, so ``service`` holds one number per service the run can give.
    """

    service: array                 # service minutes per token
    visits: list[bytearray | None]  # per stage: 1 if the entity visits it (None: everyone does)
    token_offset: np.ndarray       # int64, entities + 1: where each entity's tokens start
    patience: array | None = None  # minutes per entity (inf: never leaves); None when no class has one
    balk_draw: dict[int, array] | None = None   # per stage with a by_queue balking curve: a uniform per entity


def draw_plan(scenario: Scenario, layout: Layout, arrivals: Arrivals, seed: int, replication: int) -> Plan:
    """Draw service times, optional visits and extra checks for every entity and stage.

    Each (stage, class) draws one number per member of the class (per group member at a
    per-person stage), in entity order, whatever the members' routes: the streams, and so the
    numbers, do not depend on which draws are used (common random numbers)."""
    visit = [_draw_visits(scenario, layout, arrivals, seed, replication, stage)
             for stage in range(len(layout.stage_names))]
    first = _first_tokens(scenario, layout, arrivals, visit)
    token_offset = first.pop()
    service = np.zeros(int(token_offset[-1]))
    for stage_index, (stage_name, stage) in enumerate(scenario.stages.items()):
        for class_index, class_name in enumerate(layout.class_names):
            if class_name not in stage.service_time:
                continue
            members = np.flatnonzero(arrivals.class_index == class_index)
            sizes = arrivals.group_size[members] if class_name in stage.per_person else np.ones(len(members), np.int64)
            name = f"{stage_name}/{class_name}"
            times = draw(stage.service_time[class_name], stream(seed, replication, f"service/{name}"), int(sizes.sum()))
            for check_name, check in stage.extra_checks.items():
                probability = check.probability.get(class_name, 0.0)
                if probability > 0:
                    rng = stream(seed, replication, f"check/{name}/{check_name}")
                    hit = rng.uniform(size=len(times)) < probability
                    times = times + hit * draw(check.service_time, rng, len(times))
            # where each drawn number goes: the member's first token at this stage + its rank (a
            # stage that a route lists twice serves the same numbers both times)
            ranks = _ranks(sizes)
            for visit_first in first[stage_index]:
                slots = np.repeat(visit_first[members], sizes) + ranks
                used = np.repeat(visit_first[members] >= 0, sizes)
                service[slots[used]] = times[used]
    return Plan(service=array("d", service.tobytes()), token_offset=token_offset,
                visits=[None if v.all() else bytearray(v.tobytes()) for v in visit],
                patience=_draw_patience(scenario, layout, arrivals, seed, replication),
                balk_draw=_draw_balking(scenario, layout, arrivals, seed, replication))


def _draw_patience(scenario: Scenario, layout: Layout, arrivals: Arrivals, seed: int,
                   replication: int) -> array | None:
    """Each entity's patience (minutes), one draw per member of a class from ``patience/<class>``
    in entity order, and for a direction with its own (``patience_by_direction``) one per member
    of that direction from ``patience/<class>/<direction>``: a variant with another patience, in
    one direction or all, changes no other draw."""
    if not any(c.has_patience for c in scenario.classes.values()):
        return None
    patience = np.full(len(arrivals), np.inf)
    for class_index, (class_name, traveler_class) in enumerate(scenario.classes.items()):
        of_class = arrivals.class_index == class_index
        if traveler_class.patience is not None:
            members = np.flatnonzero(of_class)
            patience[members] = draw(traveler_class.patience, stream(seed, replication, f"patience/{class_name}"),
                                     len(members))
        for direction, distribution in traveler_class.patience_by_direction.items():
            members = np.flatnonzero(of_class & (arrivals.direction_index == DIRECTIONS.index(direction)))
            patience[members] = draw(distribution, stream(seed, replication, f"patience/{class_name}/{direction}"),
                                     len(members))
    return array("d", patience.tobytes())


def _draw_balking(scenario: Scenario, layout: Layout, arrivals: Arrivals, seed: int,
                  replication: int) -> dict[int, array] | None:
    """Per stage with a ``balking.by_queue`` curve, one uniform per entity, drawn per class served
    there from ``balk/<stage>/<class>`` in entity order: an arrival balks when its draw is below the
    curve's probability. Other variants of balking change no other draw."""
    draws = {}
    for stage_index, (stage_name, stage) in enumerate(scenario.stages.items()):
        if stage.balking is None or not stage.balking.by_queue:
            continue
        uniform = np.ones(len(arrivals))            # 1: never below a probability
        for class_index, class_name in enumerate(layout.class_names):
            if class_name in stage.service_time:
                members = np.flatnonzero(arrivals.class_index == class_index)
                uniform[members] = stream(seed, replication, f"balk/{stage_name}/{class_name}").uniform(size=len(members))
        draws[stage_index] = array("d", uniform.tobytes())
    return draws or None


def _draw_visits(scenario: Scenario, layout: Layout, arrivals: Arrivals, seed: int, replication: int,
                 stage_index: int) -> np.ndarray:
    """Whether each entity visits the stage (optional stages: visit probability by class)."""
    stage_name = layout.stage_names[stage_index]
    stage = scenario.stages[stage_name]
    visit = np.ones(len(arrivals), dtype=bool)
    for class_index, class_name in enumerate(layout.class_names):
        if class_name not in stage.service_time:
            continue
        probability = stage.visit_probability.get(class_name, 1.0)
        if probability < 1.0:
            members = np.flatnonzero(arrivals.class_index == class_index)
            visit[members] = stream(seed, replication, f"visit/{stage_name}/{class_name}").uniform(
                size=len(members)) < probability
    return visit


def _first_tokens(scenario: Scenario, layout: Layout, arrivals: Arrivals,
                  visit: list[np.ndarray]) -> list[list[np.ndarray] | np.ndarray]:
    """Per stage, a list with, for each time a route passes it, each entity's first token there
    (-1 if it does not visit it); last in the result, the entities' token offsets (entities + 1).
    Tokens follow the route order."""
    count, stages = len(arrivals), len(layout.stage_names)
    used = np.zeros(count, dtype=np.int64)                 # tokens per entity
    placed = []                                            # (stage, pass, members, offset in the entity's tokens)
    for (class_index, direction_index), route in layout.routes.items():
        members = np.flatnonzero((arrivals.class_index == class_index) & (arrivals.direction_index == direction_index))
        if not len(members):
            continue
        class_name = layout.class_names[class_index]
        for index, stage in enumerate(route):
            per_person = class_name in scenario.stages[layout.stage_names[stage]].per_person
            tokens = arrivals.group_size[members] if per_person else np.ones(len(members), np.int64)
            visiting = visit[stage][members]
            placed.append((stage, route[:index].count(stage), members[visiting], used[members[visiting]]))
            used[members] += tokens * visiting
    token_offset = np.concatenate(([0], np.cumsum(used))).astype(np.int64)
    first: list[list[np.ndarray]] = [[] for _ in range(stages)]
    for stage, passage, members, offset in placed:
        while len(first[stage]) <= passage:
            first[stage].append(np.full(count, -1, dtype=np.int64))
        first[stage][passage][members] = token_offset[members] + offset
    return first + [token_offset]


def _ranks(sizes: np.ndarray) -> np.ndarray:
    """0, 1, ..., size-1 for each group, concatenated."""
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.arange(int(np.sum(sizes))) - starts
