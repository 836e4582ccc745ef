"""The SimPy model: entities through stages, lane pools, priorities and truck quotas.

Entities are not processes. Each booth is a long-lived SimPy process that takes the next token
from its pool's queue, serves it for its pre-drawn service time and hands it on; arrivals come
from one process that walks the pre-drawn arrival times; staffing and the cargo gate are small
processes of their own. Routing happens in plain method calls between those events. This keeps
the per-event cost below a hand-written one-process-per-customer model.

Queue discipline: FIFO within a priority level; green-channel travelers go first in pools marked
``priority`` (non-preemptive). An entity joins, among the pools of a stage that serve its class,
the one with the fewest tokens per open booth (ties: the first listed; while all are closed, the
fewest tokens per booth it will open), and stays in it. Eligible travelers use dedicated
green-channel pools where a stage has them, and ordinary pools while every dedicated pool there
is closed and an ordinary one is open.

Shift changes: when a pool's open booths drop, the highest-numbered booths finish the service
they have started and then close; when they rise, closed booths reopen at once.
"""
from __future__ import annotations

import gc
from array import array
from collections import deque

import numpy as np
import simpy
from simpy.core import URGENT

from .calendar import MINUTES_PER_DAY, open_days, total_days
from .demand import Arrivals, generate_arrivals
from .plan import Layout, Plan, build_layout, draw_plan
from .records import Records, VisitLog
from .scenario.schema import DIRECTIONS, Scenario


# After a run this large, collect the model's reference cycles at once so that the metrics that
# follow do not stack on top of it (peak memory); a collection costs ~40 ms whatever the run size.
LARGE_RUN_VISITS = 100_000


class Pool:
    """A set of identical booths serving one queue (two priority levels)."""

    def __init__(self, checkpoint: "Checkpoint", index: int, service: array, times: np.ndarray, booths: np.ndarray):
        self.checkpoint = checkpoint
        self.env = checkpoint.env
        self.index = index
        self.stage = checkpoint.layout.pool_stage[index]
        self.service = service
        self.priority = checkpoint.layout.priority_pool[index]
        self.queues = (deque(), deque())    # (green-channel priority, everyone else)
        self.staffed = int(booths[0])
        self.in_service = 0
        self.sleeping: dict[int, simpy.Event] = {}
        self.capacity = int(max(booths))
        for booth in range(self.capacity):
            self.env.process(self.booth(booth))
        if len(times) > 1:
            self.env.process(self.shifts(times, booths))

    def queued(self) -> int:
        return len(self.queues[0]) + len(self.queues[1])

    def put(self, entity: int, token: int, green: bool) -> None:
        """A token joins the queue; an idle open booth, if any, is woken."""
        self.queues[0 if (green and self.priority) else 1].append((entity, token, self.env.now))
        for booth, event in self.sleeping.items():
            if booth < self.staffed:
                del self.sleeping[booth]
                event.succeed()
                return

    def booth(self, booth: int):
        """One booth: serve the next token while open, sleep when idle or closed."""
        env, first, rest = self.env, self.queues[0], self.queues[1]
        log, service, stage, pool = self.checkpoint.log, self.service, self.stage, self.index
        done = self.checkpoint.stage_done
        while True:
            if booth < self.staffed and (first or rest):
                entity, token, arrived = (first or rest).popleft()
                start = env.now
                duration = service[token]
                log.entity.append(entity)
                log.pool.append(pool)
                log.booth.append(booth)
                log.arrive.append(arrived)
                log.start.append(start)
                log.end.append(start + duration)
                self.in_service += 1
                yield env.timeout(duration)
                self.in_service -= 1
                done(stage, entity)
            else:
                event = self.sleeping[booth] = env.event()
                yield event

    def shifts(self, times: np.ndarray, booths: np.ndarray):
        """Change the number of open booths at the schedule's change points, before anything else
        that happens at the same instant (a service ending exactly then sees the new count)."""
        env = self.env
        for time, count in zip(times[1:].tolist(), booths[1:].tolist()):
            yield _urgent_timeout(env, time - env.now)
            self.staffed = count
            for booth in [b for b in self.sleeping if b < count]:
                self.sleeping.pop(booth).succeed()


class Checkpoint:
    """The whole crossing for one replication."""

    def __init__(self, scenario: Scenario, layout: Layout, plan: Plan, arrivals: Arrivals):
        self.env = simpy.Environment()
        self.scenario, self.layout, self.plan, self.arrivals = scenario, layout, plan, arrivals
        self.log = VisitLog()
        count = len(arrivals)
        self.green = arrivals.green.tolist()
        self.class_of = arrivals.class_index.tolist()
        self.group_size = arrivals.group_size.tolist()
        self.token_offset = plan.token_offset.tolist()
        route_keys = list(layout.routes)
        route_index = {key: i for i, key in enumerate(route_keys)}
        self.route_table = [layout.routes[key] for key in route_keys]
        self.route_of = [route_index[c, d] for c, d in zip(self.class_of, arrivals.direction_index.tolist())]
        self.position = [0] * count
        self.remaining = [0] * count
        self.exit_time = [np.nan] * count
        self.release_time = [np.nan] * count
        self.exited = 0
        self.all_done = self.env.event()
        self.pools = [Pool(self, index, plan.service[layout.pool_stage[index]], times, booths)
                      for index, (times, booths) in enumerate(layout.schedules)]
        self.candidates = {key: [self.pools[p] for p in pools] for key, pools in layout.candidates.items()}
        self.per_person = layout.per_person
        self.visits = plan.visits
        self.backlog = [deque() for _ in DIRECTIONS]
        self.env.process(self.arrive())
        if scenario.cargo is not None and layout.cargo_classes:
            for direction_index, direction in enumerate(DIRECTIONS):
                if direction in scenario.cargo.daily_release_quota:
                    self.env.process(self.cargo_gate(direction_index, direction))
        if count == 0:
            self.all_done.succeed()

    # --- processes -------------------------------------------------------------------------
    def arrive(self):
        """Walk the pre-drawn arrival times; cargo joins the backlog, others the first stage."""
        env, advance = self.env, self.advance
        cargo = set(self.layout.cargo_classes)
        directions = self.arrivals.direction_index.tolist()
        for entity, time in enumerate(self.arrivals.time.tolist()):
            if time > env.now:
                yield env.timeout(time - env.now)
            if cargo and self.class_of[entity] in cargo:
                self.backlog[directions[entity]].append(entity)
            else:
                advance(entity)

    def cargo_gate(self, direction_index: int, direction: str):
        """Release backlogged trucks at evenly spaced slots, up to the day's quota."""
        cargo, calendar, env = self.scenario.cargo, self.scenario.calendar, self.env
        per_day = cargo.daily_release_quota[direction]
        if direction in cargo.accepted_per_day:
            per_day = min(per_day, cargo.accepted_per_day[direction])
        if per_day <= 0:
            return
        start, end = (60.0 * hour for hour in cargo.release_hours)
        spacing = (end - start) / per_day
        backlog = self.backlog[direction_index]
        days = total_days(calendar)
        for day, is_open in enumerate(open_days(calendar, days).tolist()):
            if not is_open:
                continue
            for slot in range(per_day):
                time = day * MINUTES_PER_DAY + start + (slot + 0.5) * spacing
                yield env.timeout(time - env.now)
                if backlog:
                    entity = backlog.popleft()
                    self.release_time[entity] = env.now
                    self.advance(entity)

    # --- routing (plain calls, no events) ----------------------------------------------------
    def advance(self, entity: int) -> None:
        """Send ``entity`` to the next stage it visits on its route, or out."""
        route = self.route_table[self.route_of[entity]]
        position = self.position[entity]
        while position < len(route):
            stage = route[position]
            position += 1
            visits = self.visits[stage]
            if visits is None or visits[entity]:
                self.position[entity] = position
                self.enter(stage, entity)
                return
        self.position[entity] = position
        self.exit_time[entity] = self.env.now
        self.exited += 1
        if self.exited == len(self.exit_time):
            self.all_done.succeed()

    def enter(self, stage: int, entity: int) -> None:
        green = self.green[entity]
        pools = self.candidates[stage, self.class_of[entity], green]
        if green and not any(pool.staffed for pool in pools):     # green lanes closed: ordinary lanes if open
            ordinary = self.candidates[stage, self.class_of[entity], False]
            if any(pool.staffed for pool in ordinary):
                pools = ordinary
        pool = pools[0] if len(pools) == 1 else min(pools, key=_load)
        first = self.token_offset[entity]
        if self.class_of[entity] in self.per_person[stage]:
            size = self.group_size[entity]
            self.remaining[entity] = size
            for token in range(first, first + size):
                pool.put(entity, token, green)
        else:
            self.remaining[entity] = 1
            pool.put(entity, first, green)

    def stage_done(self, stage: int, entity: int) -> None:
        self.remaining[entity] -= 1
        if not self.remaining[entity]:
            self.advance(entity)

    # --- running -----------------------------------------------------------------------------
    def run(self, replication: int) -> Records:
        calendar = self.scenario.calendar
        horizon_end = calendar.days * MINUTES_PER_DAY + calendar.drain
        self.env.run(until=self.env.any_of([self.env.timeout(horizon_end), self.all_done]))
        end_time = self.env.now
        for pool in self.pools:                      # tokens still queued: never started
            for queue in pool.queues:
                for entity, _token, arrived in queue:
                    for column, value in ((self.log.entity, entity), (self.log.pool, pool.index),
                                          (self.log.booth, -1),
                                          (self.log.arrive, arrived), (self.log.start, np.nan),
                                          (self.log.end, np.nan)):
                        column.append(value)
        return Records(replication=replication, arrivals=self.arrivals, visits=self.log.columns(self.layout.pool_stage),
                       exit_time=np.array(self.exit_time), release_time=np.array(self.release_time),
                       end_time=end_time)


def _urgent_timeout(env: simpy.Environment, delay: float) -> simpy.Event:
    """A timeout processed before the ordinary events scheduled for the same time."""
    event = simpy.Event(env)
    event._ok, event._value = True, None
    env.schedule(event, URGENT, delay)
    return event


def _load(pool: Pool) -> tuple[bool, float]:
    """What a traveler choosing a lane sees: open lanes first, then the fewest tokens per booth
    (per open booth; for a closed pool, per booth it has)."""
    return not pool.staffed, (pool.queued() + pool.in_service) / (pool.staffed or pool.capacity or 1)


def simulate(scenario: Scenario, seed: int, replication: int, layout: Layout | None = None) -> Records:
    """Run one replication of ``scenario`` and return its raw records."""
    layout = layout or build_layout(scenario)
    arrivals = generate_arrivals(scenario, seed, replication)
    plan = draw_plan(scenario, layout, arrivals, seed, replication)
    checkpoint = Checkpoint(scenario, layout, plan, arrivals)
    records = checkpoint.run(replication)
    del checkpoint, plan
    if len(records.visits["entity"]) > LARGE_RUN_VISITS:
        gc.collect()        # the model's processes and pools refer to each other: free them now
    return records
