"""The SimPy model: entities through stages, lane pools, priorities and truck quotas.

Entities are not processes, nor are booths: a booth's service is one scheduled event whose
callback hands the token on and takes the next token from its pool's queue; arrivals come
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

Impatience (only when a class has a ``patience`` or a stage a ``queue_capacity``, ``balking`` or
``jockeying``; otherwise the plain methods run and the results are those of a model without it):
where leaving is allowed (a route's first stage, or a stage with ``allow_leave``), an entity
balks by the stage's balking rules (its own up-front uniform draw against a probability that
rises with the queue; an announced wait above its threshold or remaining patience) or at a full
queue that balks, and a token whose wait would exceed its entity's patience (from joining the
queue, or from arrival at the crossing) reneges. Reneging is found lazily: a booth about to serve
a token whose patience ran out skips it and records it as gone at its deadline. In a FIFO queue
this is exact, since whether a token is served before its patience runs out is decided when it
would start. Until then it still counts in the queue that lane choice and the queue cap see (not
in the queue-length metrics, which end its wait when it left). A leaver is lost, or (once) joins
the same stage again the next day at the clock time it first joined (``on_leave: defer``), or at
the stage's next opening (``next_opening``). Stages with a queue cap or a balking curve keep a
count of the tokens in their queues (``Checkpoint.waiting``), so that an arrival's check does not
add up the lanes.

Spill-back (``when_full: block``): an entity whose tokens do not fit in a full stage waits, first
come first served, where it is: holding the booth that just served it (the booth serves nobody
until the entity enters: ``held_until`` in the visit records), in the approach at a route's
first stage, or in the cargo backlog for a truck from the gate. Space freed at the stage (a
token starts service or leaves, a booth falls idle) lets them in; their wait there counts from
when they were ready (``arrive``), ``entered`` says when they got in. With ``jockeying``, a booth
falling idle with an empty queue takes the longest-waiting token it may serve from another pool
of its stage. Only the booths of stages before a stage that blocks use the end-of-service callback
that can hold them; the others, and every scenario without blocking, use the plain one. Likewise
the rail yard's check (:mod:`sim.yard`) is bound in place of ``advance`` only with a rail block,
and, with impatience, the impatient methods only where they can matter: a pool serves with the
plain ``_next`` where no token can renege, wait outside, be counted, jockey, hold its booth or
post its wait on a wait-time board; a stage is entered with the plain ``enter`` (``entry``, per
stage; ``_join`` where its queue is counted) where an arrival can neither balk, nor be blocked,
nor find its patience run out before it joins (patience from the crossing, or a negative draw);
the end of a service, an arrival and the cargo gate move the entity on without the check for a
token that left where none can have left; and a token's patience is tested inline,
:meth:`Checkpoint.waited` being asked only about one that reneges or waited outside.
"""
from __future__ import annotations

import gc
import sys
from array import array
from collections import deque
from heapq import heappush

import numpy as np
import simpy
from simpy.core import NORMAL, URGENT

from .calendar import MINUTES_PER_DAY, open_days, total_days
from .demand import Arrivals, generate_arrivals
from .plan import Layout, Plan, build_layout, draw_plan
from .records import BALKED, RENEGED, Records, VisitLog
from .scenario.schema import DIRECTIONS, Scenario
from .yard import Yard


# After a run this large, collect the model's reference cycles at once so that the metrics that
# follow do not stack on top of it (peak memory); a collection costs ~40 ms whatever the run size.
LARGE_RUN_VISITS = 100_000


class Pool:
    """A set of identical booths serving one queue (two priority levels).

    Booths are not SimPy processes: a booth's service is one scheduled event whose callback
    (:meth:`_end`) hands the token on and takes the next one (:meth:`_next`). An idle booth is
    only a number in ``sleeping``; see :meth:`Checkpoint.wake` for how it is woken.
    """

    def __init__(self, checkpoint: "Checkpoint", index: int, service: array, times: np.ndarray, booths: np.ndarray,
                 first_booth: int):
        self.checkpoint = checkpoint
        self.env = checkpoint.env
        self.index = index
        self.stage = checkpoint.layout.pool_stage[index]
        self.service = service
        self.priority = checkpoint.layout.priority_pool[index]
        self.queues = (deque(), deque())    # (green-channel priority, everyone else)
        self.staffed = int(booths[0])
        self.in_service = 0
        self.capacity = int(max(booths))
        self.first_booth = first_booth      # booth b of this pool is booth first_booth + b of the checkpoint
        # Idle booths in the order they fell idle (a dict keeps insertion order), and the open ones
        # among them (booth < staffed) in the same order: who serves the next token is the first
        # open idle booth, found without walking past closed ones.
        self.sleeping: dict[int, None] = dict.fromkeys(range(self.capacity))
        self.idle: deque[int] = deque(range(min(self.staffed, self.capacity)))
        self.serving = [0] * self.capacity  # entity in service at each booth
        end_callback = self._end_callback
        self.move_on = checkpoint.advance   # what the end of a service calls once the entity's tokens are done
        if checkpoint.layout.impatient:
            # the visit row of the service at each booth, kept only where a booth may be held
            self.rows = [0] * self.capacity if checkpoint.may_hold[self.stage] else None
            # tokens may have waited outside the stage (Checkpoint.ready) only where it blocks
            self.ready = checkpoint.ready if checkpoint.layout.block[self.stage] else {}
            self.position = checkpoint.position
            # a token may renege here only if its entity's route position is at most this (0: never)
            self.renege_position = checkpoint.leave_position[self.stage] if checkpoint.patience is not None else 0
            if not self.renege_position:    # no token of a visit here left: the route walk without the check
                self.move_on = checkpoint._move
            self.jockeys = checkpoint.layout.jockeying[self.stage]
            self.board = checkpoint.boards[self.stage]          # the stage's wait-time board, if any
            self.outside = checkpoint.blocked[self.stage]       # who waits outside the full stage
            if checkpoint.may_hold[self.stage]:
                end_callback = self._end_callback_holding
            self.counted = checkpoint.counted[self.stage]      # keeps Checkpoint.waiting for the stage
            if (self.rows is not None or checkpoint.layout.block[self.stage] or self.renege_position or self.jockeys
                    or self.board is not None or self.counted):
                self._next = self._next_impatient               # else none of its steps applies here
        self.calls = [_Call(end_callback(booth)) for booth in range(self.capacity)]
        log = checkpoint.log
        self.log_rows = log.token
        self.log_token, self.log_booth = log.token.append, log.booth.append
        self.log_arrive, self.log_start = log.arrive.append, log.start.append
        if len(times) > 1:
            self.env.process(self.shifts(times, booths))

    def queued(self) -> int:
        return len(self.queues[0]) + len(self.queues[1])

    def put(self, entity: int, token: int, green: bool) -> None:
        """A token joins the queue; the first open idle booth, if any, is woken."""
        self.queues[0 if (green and self.priority) else 1].append((entity, token, self.env._now))
        if self.idle:
            booth = self.idle.popleft()
            del self.sleeping[booth]
            self.checkpoint.wake(self, booth)

    def _next(self, booth: int) -> None:
        """A free booth: serve the next token while open, else fall idle."""
        first, rest = self.queues
        if booth < self.staffed and (first or rest):
            self._start(booth, *(first or rest).popleft())
        else:
            self.sleeping[booth] = None
            if booth < self.staffed:
                self.idle.append(booth)

    def _next_impatient(self, booth: int) -> None:
        """:meth:`_next` skipping tokens that reneged while they waited; with jockeying, a booth
        whose queue is empty takes the longest-waiting token it may serve from another pool of the
        stage; a token that waited outside a full stage counts its wait from when it was ready.
        Space freed at a full stage lets in whoever waits outside it. :meth:`Checkpoint.waited`
        is asked only about a token that may have waited outside, or may renege here and whose
        patience ran out (:meth:`Checkpoint._deadline`, inlined)."""
        checkpoint = self.checkpoint
        started = False
        if booth < self.staffed:
            first, rest = self.queues
            ready, position, renege_position = self.ready, self.position, self.renege_position
            now = self.env._now
            while True:
                if first or rest:
                    entity, token, arrived = (first or rest).popleft()
                    if self.counted:
                        checkpoint.waiting[self.stage] -= 1
                elif self.jockeys and (item := checkpoint.jockey(self)) is not None:
                    entity, token, arrived = item
                else:
                    break
                if (ready and token in ready) or (renege_position and position[entity] <= renege_position and (
                        checkpoint.patience_start[entity] if checkpoint.from_crossing[entity] else arrived)
                        + checkpoint.patience[entity] < now):
                    arrived = checkpoint.waited(self, entity, token, arrived, now)
                    if arrived is None:
                        continue
                if self.board is not None:
                    self.board.post(now - arrived)
                if self.rows is not None:
                    self.rows[booth] = len(self.log_rows)
                self._start(booth, entity, token, arrived)
                started = True
                break
        if not started:
            self.sleeping[booth] = None
            if booth < self.staffed:
                self.idle.append(booth)
        if self.outside:
            checkpoint.admit(self.stage)

    def _start(self, booth: int, entity: int, token: int, arrived: float) -> None:
        """Start serving ``token`` at ``booth``."""
        env = self.env
        now = env._now
        self.log_token(token)
        self.log_booth(self.first_booth + booth)
        self.log_arrive(arrived)
        self.log_start(now)
        self.in_service += 1
        self.serving[booth] = entity
        # the end of the service: the booth's own event object, re-armed (it is out of the heap:
        # it was just processed, or never scheduled); SimPy's Timeout(duration) would schedule
        # the same (time, priority, id)
        call = self.calls[booth]
        call.callbacks = call.armed
        heappush(env._queue, (now + self.service[token], NORMAL, next(env._eid), call))

    def _end_callback(self, booth: int):
        """The callback that ends a service at ``booth`` (one per booth, made once)."""
        checkpoint, serving, next_token = self.checkpoint, self.serving, self._next
        remaining, advance, pending, flush = checkpoint.remaining, self.move_on, checkpoint.pending, checkpoint.flush

        def end(_event) -> None:
            self.in_service -= 1
            entity = serving[booth]
            remaining[entity] -= 1           # Checkpoint.stage_done, inlined
            if not remaining[entity]:
                advance(entity)
            next_token(booth)
            if pending:
                flush()
        return end

    def _end_callback_holding(self, booth: int):
        """:meth:`_end_callback` at a stage before one that blocks (spill-back): a token whose next
        stage is full holds its booth, which then serves nobody until :meth:`Checkpoint.release`
        frees it. The booth is offered to :meth:`Checkpoint._hold` in ``Checkpoint.holding``."""
        checkpoint, serving, next_token = self.checkpoint, self.serving, self._next
        remaining, advance, pending, flush = checkpoint.remaining, self.move_on, checkpoint.pending, checkpoint.flush
        holding, holder = checkpoint.holding, (self, booth)

        def end(_event) -> None:
            entity = serving[booth]
            remaining[entity] -= 1
            if not remaining[entity]:
                holding[0] = holder
                advance(entity)
                held = holding[0] is HELD
                holding[0] = None
                if held:
                    if pending:
                        flush()
                    return
            self.in_service -= 1
            next_token(booth)
            if pending:
                flush()
        return end

    def shifts(self, times: np.ndarray, booths: np.ndarray):
        """Change the number of open booths at the schedule's change points, before anything else
        that happens at the same instant (a service ending exactly then sees the new count).

        Every idle booth below the new count is woken (in the order it fell idle): it serves a
        waiting token or falls idle again, now behind the closed ones."""
        env, checkpoint = self.env, self.checkpoint
        changes = list(zip(times[1:].tolist(), booths[1:].tolist()))
        event = _urgent_timeout(env, changes[0][0] - env._now)
        for index, (_time, count) in enumerate(changes):
            yield event
            self.staffed = count
            woken = [b for b in self.sleeping if b < count]
            for booth in woken:
                del self.sleeping[booth]
            self.idle.clear()
            for booth in woken:
                checkpoint.wake(self, booth)
            if index + 1 < len(changes):
                event = _urgent_timeout(env, changes[index + 1][0] - env._now)
            checkpoint.flush()


class Checkpoint:
    """The whole crossing for one replication."""

    def __init__(self, scenario: Scenario, layout: Layout, plan: Plan, arrivals: Arrivals):
        self.env = simpy.Environment()
        self.scenario, self.layout, self.plan, self.arrivals = scenario, layout, plan, arrivals
        self.log = VisitLog()
        self.pending: list[tuple[Pool, int]] = []   # booths woken during the current step (see wake)
        count = len(arrivals)
        # Per-entity state in compact typed sequences (bytes / array: 1 to 8 bytes an entity
        # instead of a list's 8-byte pointer plus a boxed int or float).
        self.green = _small_ints(arrivals.green)
        self.class_of = _small_ints(arrivals.class_index)
        self.group_size = _small_ints(arrivals.group_size)
        self.next_token = array("q", plan.token_offset[:-1].astype(np.int64).tobytes())   # each entity's next token
        route_keys = list(layout.routes)            # (class, direction) -> route number
        self.route_table = [layout.routes[key] for key in route_keys]
        route_number = np.zeros((max(len(layout.class_names), 1), len(DIRECTIONS)), dtype=np.int64)
        for number, (class_index, direction_index) in enumerate(route_keys):
            route_number[class_index, direction_index] = number
        self.route_of = _small_ints(route_number[arrivals.class_index, arrivals.direction_index])
        self.position = bytearray(count) if len(layout.stage_names) < 256 else array("i", bytes(4 * count))
        self.remaining = _mutable_small_ints(count, int(arrivals.group_size.max()) if count else 0)
        self.exit_time = array("d", np.full(count, np.nan).tobytes())
        self.release_time = array("d", np.full(count, np.nan).tobytes())
        self.exited = 0
        self.all_done = self.env.event()
        self.yard = None
        if layout.rail is not None:                 # trains wait for tracks and the interchange
            self.yard = Yard(self, layout.rail, count, _urgent_timeout)
            self.advance = self._advance_rail
        self._move = self.advance           # the route walk (for an entity none of whose tokens left)
        self.entry = [self.enter] * len(layout.stage_names)     # how an entity enters each stage
        if layout.impatient:
            self._impatience_state(count)
        self.pools: list[Pool] = []
        for index, (times, booths) in enumerate(layout.schedules):
            first_booth = sum(pool.capacity for pool in self.pools)
            self.pools.append(Pool(self, index, plan.service, times, booths, first_booth))
        self.candidates = {key: [self.pools[p] for p in pools] for key, pools in layout.candidates.items()}
        self.stage_pools = [[pool for pool in self.pools if pool.stage == stage] for stage in range(len(layout.stage_names))]
        self.per_person = layout.per_person
        self.visits = plan.visits
        self.backlog = [deque() for _ in DIRECTIONS]
        if self.yard is not None:
            self.env.process(self.yard.days(int(np.ceil((scenario.calendar.days * MINUTES_PER_DAY
                                                         + scenario.calendar.drain) / MINUTES_PER_DAY))))
        self.env.process(self.arrive())
        if scenario.cargo is not None and layout.cargo_classes:
            for direction_index, direction in enumerate(DIRECTIONS):
                if direction in scenario.cargo.daily_release_quota:
                    self.env.process(self.cargo_gate(direction_index, direction))
        if count == 0:
            self.all_done.succeed()

    # --- waking idle booths ------------------------------------------------------------------
    def wake(self, pool: Pool, booth: int) -> None:
        """Wake an idle ``booth`` of ``pool``: it serves the next token, or falls idle again.

        A SimPy model would trigger a wake-up event, processed after every event already due at
        this instant, and before anything scheduled later. When nothing else is due now, that is
        right after the current step, so the booth is instead put on ``pending`` and served by
        :meth:`flush` at the end of the step: the same order of events (and of visit records) as
        with the event, without the event. When something else is due now, a real event keeps
        the order exact.
        """
        env = self.env
        queue = env._queue      # SimPy's event heap of (time, priority, id, event)
        if queue and queue[0][0] == env._now:
            heappush(queue, (env._now, NORMAL, next(env._eid), _Call(lambda _event: self._serve_woken(pool, booth))))
        else:
            self.pending.append((pool, booth))

    def _serve_woken(self, pool: Pool, booth: int) -> None:
        """A woken booth's event: it serves (or falls idle); booths woken meanwhile (a stage that
        lets in travellers held outside it, with impatience) are served in the same step."""
        pool._next(booth)
        if self.pending:
            self.flush()

    def flush(self) -> None:
        """Serve the booths woken during this step, in the order they were woken. Called by every
        step that can put tokens into queues, as its last action."""
        pending = self.pending
        for pool, booth in pending:
            pool._next(booth)
        pending.clear()

    # --- processes -------------------------------------------------------------------------
    def arrive(self):
        """Walk the pre-drawn arrival times; cargo joins the backlog, others the first stage."""
        env, advance, flush, pending = self.env, self._move, self.flush, self.pending
        cargo = set(self.layout.cargo_classes)
        directions = _small_ints(self.arrivals.direction_index)
        times = array("d", self.arrivals.time.astype(np.float64).tobytes())   # yields Python floats
        for entity, time in enumerate(times):
            if time > env._now:
                event = env.timeout(time - env._now)
                if pending:
                    flush()
                yield event
            if cargo and self.class_of[entity] in cargo:
                self.backlog[directions[entity]].append(entity)
            else:
                advance(entity)
        flush()

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
                event = env.timeout(time - env._now)
                self.flush()
                yield event
                if backlog:
                    entity = backlog.popleft()
                    self.release_time[entity] = env._now
                    self._move(entity)
        self.flush()

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
                self.entry[stage](stage, entity)
                return
        self.position[entity] = position
        self.exit_time[entity] = self.env._now
        self.exited += 1
        if self.exited == len(self.exit_time):
            self.all_done.succeed()

    def _advance_rail(self, entity: int) -> None:
        """:meth:`advance`, unless the train must wait for a track or the interchange (:mod:`sim.yard`;
        bound in place of advance when the scenario has a rail block)."""
        if not self.yard.holds(entity, self.route_table[self.route_of[entity]], self.position[entity]):
            Checkpoint.advance(self, entity)

    def enter(self, stage: int, entity: int) -> None:
        """Put the entity's tokens for ``stage`` into the lane it chooses."""
        green = self.green[entity]
        class_of = self.class_of[entity]
        pools = self.candidates[stage, class_of, green]
        if green and not any(pool.staffed for pool in pools):     # green lanes closed: ordinary lanes if open
            ordinary = self.candidates[stage, class_of, False]
            if any(pool.staffed for pool in ordinary):
                pools = ordinary
        pool = pools[0] if len(pools) == 1 else min(pools, key=_load)
        first = self.next_token[entity]
        if class_of in self.per_person[stage]:
            size = self.group_size[entity]
            self.remaining[entity] = size
            self.next_token[entity] = first + size
            for token in range(first, first + size):
                pool.put(entity, token, green)
        else:
            self.remaining[entity] = 1
            self.next_token[entity] = first + 1
            pool.put(entity, first, green)

    # --- impatience (bound in place of advance and enter when the scenario has it) -------------
    def _impatience_state(self, count: int) -> None:
        """Per-entity state of leaving; route through the impatient versions of advance and enter."""
        layout, stages = self.layout, len(self.layout.stage_names)
        self.patience = self.plan.patience           # None: nobody reneges (queue caps only)
        self.outcome = bytearray(count)              # BALKED / RENEGED once a token of the visit left
        self.leave_time = array("d", np.full(count, np.nan).tobytes())
        self.joined = array("d", bytes(8 * count))   # when the visit being left joined its queue
        self.deferred_stage = array("i", np.full(count, -1, dtype=np.int32).tobytes())
        self.came_back = bytearray(count)
        # patience_from: crossing counts from here: arrival, or coming back after a deferral
        self.patience_start = array("d", self.arrivals.time.astype(np.float64).tobytes())
        # per entity: its patience counts from the crossing (its class's patience_from_crossing)
        self.from_crossing = np.asarray(layout.patience_from_crossing, dtype=np.uint8)[self.arrivals.class_index].tobytes()
        self.blocked: list[deque] = [deque() for _ in range(stages)]   # (entity, holder, ready) outside a full stage
        self.ready: dict[int, float] = {}            # token -> since when it waited for its stage, if held outside
        self.holding: list = [None]                  # the (pool, booth) whose service just ended, or HELD (spill-back)
        self.boards = [None if b is None or b.by_announced_wait is None else
                       _Board(b.by_announced_wait.last) for b in layout.balking]
        self.cargo_set = frozenset(layout.cargo_classes)
        self.openings: dict[tuple[int, int], np.ndarray] = {}
        if any(layout.jockeying):
            self.serves = {(stage, class_index, green): frozenset(layout.candidates[stage, class_index, False]) |
                           (frozenset(layout.candidates[stage, class_index, True]) if green else frozenset())
                           for stage, class_index, green in layout.candidates}
        # tokens in the queues of each stage, counted where a queue cap or balking rule looks at it
        self.waiting = [0] * stages
        self.counted = [capacity is not None or (balking is not None and bool(balking.by_queue))
                        for capacity, balking in zip(layout.queue_capacity, layout.balking)]
        self.balks_when_full = [capacity is not None and not block for capacity, block in zip(layout.queue_capacity, layout.block)]
        # stages whose booths a served token may hold: those before a stage that blocks on a route
        self.may_hold = [False] * stages
        for route in layout.routes.values():
            for position, stage in enumerate(route):
                if any(layout.block[later] for later in route[position + 1:]):
                    self.may_hold[stage] = True
        # per stage: the largest route position (from 1) at which an entity may leave there: any at
        # a stage that allows leaving, 1 at a route's first stage, else 0 (see may_leave)
        first_stages = {route[0] for route in layout.routes.values() if route}
        self.leave_position = [sys.maxsize if allow else int(stage in first_stages)
                               for stage, allow in enumerate(layout.allow_leave)]
        # whether an entity may find at a stage's entry that its patience (from the crossing) ran out
        self.late_at_entry = self.patience is not None and (
            any(layout.patience_from_crossing) or bool((np.frombuffer(self.patience) < 0).any()))
        # the plain enter (or _join) where an arrival can neither balk, nor be late, nor be blocked
        self.entry = [self._enter_impatient if block or (leave and (balking is not None or balks or self.late_at_entry))
                      else self._join if counted else self.entry[stage]
                      for stage, (block, leave, balking, balks, counted) in enumerate(zip(
                          layout.block, self.leave_position, layout.balking, self.balks_when_full, self.counted))]
        self.advance, self.enter = self._advance_impatient, self._enter_impatient

    def may_leave(self, stage: int, entity: int) -> bool:
        """Leaving is allowed at the first stage of the entity's route, or where the stage says so."""
        return self.position[entity] <= self.leave_position[stage]

    def _deadline(self, entity: int, joined: float) -> float:
        """When the entity's patience runs out for a visit that began waiting at ``joined``."""
        return (self.patience_start[entity] if self.from_crossing[entity] else joined) + self.patience[entity]

    def waited(self, pool: Pool, entity: int, token: int, arrived: float, now: float) -> float | None:
        """A token taken from ``pool``'s queue at ``now`` (to start service, or still queued when
        the run stops): since when it has waited, or None if its patience ran out meanwhile (it is
        then logged as gone at its deadline and its entity leaves). A token that first waited
        outside the full stage counts its wait from when it was ready (``arrived`` is then when it
        entered the waiting space, logged as ``entered``)."""
        ready = self.ready
        if ready and token in ready:
            self.log.entered(arrived)
            arrived = ready.pop(token)
        if self.position[entity] > pool.renege_position:
            return arrived                  # nobody reneges, or not here (may_leave, inlined)
        deadline = self._deadline(entity, arrived)
        if deadline >= now:
            return arrived
        self.log.left(token, pool.index, arrived, max(deadline, arrived))
        self._mark_left(entity, RENEGED, max(deadline, arrived), arrived)
        self.remaining[entity] -= 1
        if not self.remaining[entity]:
            self.advance(entity)
        return None

    def _mark_left(self, entity: int, outcome: int, at: float, joined: float) -> None:
        """Record the first token of a visit to leave (a group leaves with its first leaver)."""
        if not self.outcome[entity]:
            self.outcome[entity], self.leave_time[entity], self.joined[entity] = outcome, at, joined

    def _advance_impatient(self, entity: int) -> None:
        """:meth:`advance`, unless a token of the visit just ended left its queue."""
        if self.outcome[entity]:
            self._leave(entity)
        else:
            self._move(entity)

    def _enter_impatient(self, stage: int, entity: int) -> None:
        """:meth:`enter`, unless the entity balks (where it may leave: by the stage's balking rules,
        or at a full queue that balks), or waits outside a full stage that blocks."""
        layout = self.layout
        if self.position[entity] <= self.leave_position[stage]:      # may_leave, inlined
            now = self.env._now
            if self.late_at_entry and self._deadline(entity, now) < now:
                self._turn_away(stage, entity, RENEGED, now)     # patience from the crossing ran out before
                return
            balking = layout.balking[stage]
            if (balking is not None and self._balks(stage, entity, balking)) or (
                    self.balks_when_full[stage] and self._over(stage, entity, self._tokens_at(stage, entity))):
                self._turn_away(stage, entity, BALKED, now)
                return
        # (a group's size bounds its tokens: while even that fits, the entity is not blocked)
        if layout.block[stage] and (self.blocked[stage] or
                                    self.waiting[stage] + self.group_size[entity] > layout.queue_capacity[stage]):
            tokens = self._tokens_at(stage, entity)
            if self.blocked[stage] or (self.waiting[stage] + tokens > layout.queue_capacity[stage]
                                       and self._full(stage, entity, tokens)):
                self._hold(stage, entity)
                return
        Checkpoint.enter(self, stage, entity)               # _join, inlined
        if self.counted[stage]:
            self.waiting[stage] += self.remaining[entity]

    def _join(self, stage: int, entity: int) -> None:
        """:meth:`enter`, keeping the count of the tokens queued at a stage that counts them."""
        Checkpoint.enter(self, stage, entity)
        if self.counted[stage]:
            self.waiting[stage] += self.remaining[entity]       # the tokens just queued

    def _balks(self, stage: int, entity: int, balking) -> bool:
        """Whether the arrival turns away by the stage's ``balking`` rules: its own uniform draw
        below the curve's probability for the queue it sees, or an announced wait above its
        threshold (its remaining patience, without one)."""
        if balking.by_queue:
            if self.plan.balk_draw[stage][entity] < balking.probability(self.waiting[stage]):
                return True
        board = balking.by_announced_wait
        if board is None:
            return False
        limit = board.threshold
        if limit is None:
            if self.patience is None:
                return False
            limit = self._deadline(entity, self.env._now) - self.env._now
        return self.boards[stage].announced() > limit

    def _over(self, stage: int, entity: int, tokens: int) -> bool:
        """Whether more tokens than the stage's ``queue_capacity`` would wait at ``stage`` once the
        entity's ``tokens`` joined: those queued in all its pools, plus the entity's own beyond the
        idle open booths of the lanes it may take."""
        queued, capacity = self.waiting[stage], self.layout.queue_capacity[stage]
        if queued + tokens <= capacity:
            return False                    # fits even if no booth is idle
        free = sum(len(pool.idle) for pool in self.candidates[stage, self.class_of[entity], self.green[entity]])
        return queued + max(tokens - free, 0) > capacity

    def _full(self, stage: int, entity: int, tokens: int) -> bool:
        """Whether the entity's ``tokens`` do not fit in the stage's waiting space (a group larger
        than the whole space fits once nothing waits there)."""
        if not self._over(stage, entity, tokens):
            return False
        return not (tokens > max(self.layout.queue_capacity[stage], 1) and not self.waiting[stage])

    def _tokens_at(self, stage: int, entity: int) -> int:
        """How many tokens the entity has at ``stage``: its group's size at a per-person stage, else 1."""
        return self.group_size[entity] if self.class_of[entity] in self.per_person[stage] else 1

    def _turn_away(self, stage: int, entity: int, outcome: int, joined: float, at: float | None = None,
                   holder: tuple | None = None) -> None:
        """The entity leaves before it got into ``stage`` (BALKED or RENEGED; waiting for it since
        ``joined``, until ``at``, default ``joined``): its tokens are logged as gone, the booth it
        held, if any, is freed."""
        at = joined if at is None else at
        pool, tokens = self._outside(stage, entity)
        for token in tokens:
            self.log.left(token, pool, joined, at)
        self.next_token[entity] = tokens.stop
        self._mark_left(entity, outcome, at, joined)
        if holder is not None:
            self.release(holder)
        self._leave(entity)

    def _outside(self, stage: int, entity: int) -> tuple[int, range]:
        """The pool (the first lane it may take) where the tokens of an entity not yet in ``stage``
        are logged, and those tokens."""
        first = self.next_token[entity]
        return (self.candidates[stage, self.class_of[entity], self.green[entity]][0].index,
                range(first, first + self._tokens_at(stage, entity)))

    # --- spill-back: waiting outside a full stage --------------------------------------------
    def _hold(self, stage: int, entity: int) -> None:
        """The entity cannot enter the full ``stage``: it waits where it is, holding the booth whose
        service it just finished (if any), or in the approach; a truck from the cargo gate stays in
        the backlog (``ready`` None: its release is when it enters)."""
        holder = self.holding[0]
        if holder is HELD:                  # the booth is taken already
            holder = None
        elif holder is not None:
            pool, booth = holder
            holder, self.holding[0] = (pool, booth, pool.rows[booth]), HELD
        ready = self.env._now
        if holder is None and self._from_cargo_gate(stage, entity):
            ready = None
            self.release_time[entity] = np.nan
        self.blocked[stage].append((entity, holder, ready))

    def _from_cargo_gate(self, stage: int, entity: int) -> bool:
        """Whether a truck entering ``stage`` comes straight from the cargo gate (its first stage)."""
        if self.class_of[entity] not in self.cargo_set or self.came_back[entity]:
            return False
        route = self.route_table[self.route_of[entity]][:self.position[entity] - 1]
        return all(self.visits[s] is not None and not self.visits[s][entity] for s in route)

    def admit(self, stage: int) -> None:
        """Space may have freed at ``stage``: let in, first come first served, who waits outside and
        fits (or renege, where they may leave, if their patience ran out while they waited)."""
        blocked, now = self.blocked[stage], self.env._now
        while blocked:
            entity, holder, ready = blocked[0]
            deadline = self._outside_deadline(stage, entity, ready)
            if deadline >= now and self._full(stage, entity, self._tokens_at(stage, entity)):
                return
            blocked.popleft()
            if deadline < now:
                self._turn_away(stage, entity, RENEGED, ready, max(deadline, ready), holder)
                continue
            first = self.next_token[entity]
            self._join(stage, entity)
            if ready is None:
                self.release_time[entity] = now
            elif ready < now:
                for token in range(first, self.next_token[entity]):
                    self.ready[token] = ready
            if holder is not None:
                self.release(holder)

    def _outside_deadline(self, stage: int, entity: int, ready: float | None) -> float:
        """When an entity waiting outside ``stage`` since ``ready`` gives up (inf: it may not)."""
        if ready is None or self.patience is None or not self.may_leave(stage, entity):
            return np.inf
        return self._deadline(entity, ready)

    def release(self, holder: tuple) -> None:
        """Free a booth held by a token that has now entered its next stage (or left)."""
        pool, booth, row = holder
        self.log.held(row, self.env._now)
        pool.in_service -= 1
        pool._next(booth)

    # --- jockeying ---------------------------------------------------------------------------
    def jockey(self, pool: Pool) -> tuple[int, int, float] | None:
        """The longest-waiting token, among the other pools of ``pool``'s stage, that ``pool`` may
        serve (its class served there; a dedicated green-channel pool only for eligible
        travellers), taken from its queue; None if there is none."""
        best = None
        for other in self.stage_pools[pool.stage]:
            if other is pool:
                continue
            for queue in other.queues:
                for index, (entity, _token, arrived) in enumerate(queue):
                    if pool.index in self.serves[pool.stage, self.class_of[entity], self.green[entity]]:
                        if best is None or arrived < best[2]:
                            best = (queue, index, arrived)
                        break
        if best is None:
            return None
        queue, index, _ = best
        item = queue[index]
        del queue[index]
        if pool.counted:
            self.waiting[pool.stage] -= 1
        return item

    # --- leaving -----------------------------------------------------------------------------
    def _leave(self, entity: int) -> None:
        """The entity has left a queue: it comes back (once, if its class defers) the next day at
        the clock time it joined, or at the stage's next opening; else it is lost."""
        stage = self.route_table[self.route_of[entity]][self.position[entity] - 1]
        class_of = self.class_of[entity]
        if self.layout.defer[class_of] and self.deferred_stage[entity] < 0:
            if self.layout.next_opening[class_of]:
                when = self._next_opening(stage, class_of, self.leave_time[entity])
            else:
                when = self.joined[entity] + MINUTES_PER_DAY
            self.deferred_stage[entity] = stage
            self.outcome[entity], self.leave_time[entity] = 0, np.nan
            self.next_token[entity] -= self._tokens_at(stage, entity)      # the same tokens again
            heappush(self.env._queue, (max(when, self.env._now), NORMAL, next(self.env._eid),
                                       _Call(lambda _event: self._come_back(stage, entity))))
            return
        self.exited += 1                    # done (not an exit: exit_time stays NaN)
        if self.exited == len(self.exit_time):
            self.all_done.succeed()

    def _next_opening(self, stage: int, class_of: int, after: float) -> float:
        """The first time after ``after`` when the lanes of ``stage`` serving the class open after
        being all closed; 24 h after ``after`` if they never close again."""
        key = stage, class_of
        if key not in self.openings:
            pools = sorted(set(self.layout.candidates[stage, class_of, False]) | set(self.layout.candidates[stage, class_of, True]))
            times = np.unique(np.concatenate([self.layout.schedules[p][0] for p in pools]))
            open_booths = sum(booths[np.searchsorted(change, times, side="right") - 1]
                              for change, booths in (self.layout.schedules[p] for p in pools))
            self.openings[key] = times[1:][(open_booths[1:] > 0) & (open_booths[:-1] == 0)]
        openings = self.openings[key]
        index = int(np.searchsorted(openings, after, side="right"))
        return float(openings[index]) if index < len(openings) else after + MINUTES_PER_DAY

    def _come_back(self, stage: int, entity: int) -> None:
        """A deferred entity joins the stage it left again."""
        self.came_back[entity] = 1
        self.patience_start[entity] = self.env._now
        self.enter(stage, entity)
        self.flush()

    def _outcomes(self) -> dict[str, np.ndarray]:
        """The per-entity fields of :class:`Records` about leaving (defaults without impatience)."""
        count = len(self.exit_time)
        if not self.layout.impatient:
            return {"outcome": np.zeros(count, np.int8), "leave_time": np.full(count, np.nan),
                    "deferred_stage": np.full(count, -1, np.int32), "came_back": np.zeros(count, bool)}
        return {"outcome": np.frombuffer(self.outcome, dtype=np.int8).copy(),
                "leave_time": np.frombuffer(self.leave_time, dtype=np.float64),
                "deferred_stage": np.frombuffer(self.deferred_stage, dtype=np.int32),
                "came_back": np.frombuffer(self.came_back, dtype=np.uint8).astype(bool)}

    def _stop_impatient(self, end_time: float) -> None:
        """At the end of the run: tokens still queued are unstarted (or reneged by then), whoever
        waits outside a full stage is logged there as unstarted from when it was ready, and booths
        still held are held until the end."""
        for pool in self.pools:
            for queue in pool.queues:
                for entity, token, arrived in queue:
                    arrived = self.waited(pool, entity, token, arrived, end_time)
                    if arrived is not None:
                        self.log.unstarted(token, pool.index, arrived)
        for stage, blocked in enumerate(self.blocked):
            for entity, holder, ready in blocked:
                if holder is not None:
                    self.log.held(holder[2], end_time)
                if ready is None:                   # a truck still in the cargo backlog
                    continue
                deadline = self._outside_deadline(stage, entity, ready)
                if deadline < end_time:
                    self._turn_away(stage, entity, RENEGED, ready, max(deadline, ready))
                    continue
                pool, tokens = self._outside(stage, entity)
                for token in tokens:
                    self.log.unstarted(token, pool, ready)

    # --- running -----------------------------------------------------------------------------
    def run(self, replication: int) -> Records:
        calendar = self.scenario.calendar
        horizon_end = calendar.days * MINUTES_PER_DAY + calendar.drain
        self.env.run(until=self.env.any_of([self.env.timeout(horizon_end), self.all_done]))
        end_time = self.env.now
        if self.layout.impatient:
            self._stop_impatient(end_time)
        else:
            for pool in self.pools:                  # tokens still queued: never started
                for queue in pool.queues:
                    for _entity, token, arrived in queue:
                        self.log.unstarted(token, pool.index, arrived)
        booth_pool = [pool.index for pool in self.pools for _ in range(pool.capacity)]
        visits = self.log.later(self.plan, self.layout.pool_stage, booth_pool,     # derived once the model is gone
                                [pool.first_booth for pool in self.pools])
        return Records(replication=replication, arrivals=self.arrivals, visit_columns=visits,
                       exit_time=np.frombuffer(self.exit_time, dtype=np.float64),
                       release_time=np.frombuffer(self.release_time, dtype=np.float64), end_time=end_time,
                       yard=None if self.yard is None else self.yard.records(), **self._outcomes())


HELD = ("held",)     # Checkpoint.holding once the entity whose service ended holds its booth


class _Board:
    """A wait-time board: the mean wait of the last ``size`` tokens that started service."""

    __slots__ = ("waits", "total")

    def __init__(self, size: int) -> None:
        self.waits: deque[float] = deque(maxlen=size)
        self.total = 0.0

    def post(self, wait: float) -> None:
        if len(self.waits) == self.waits.maxlen:
            self.total -= self.waits[0]
        self.waits.append(wait)
        self.total += wait

    def announced(self) -> float:
        """The wait shown (0 before anyone was served)."""
        return self.total / len(self.waits) if self.waits else 0.0


class _Call:
    """A triggered event that calls its callbacks when SimPy processes it: all that
    ``Environment.step`` uses of an event (``callbacks``, ``_ok``), without an ``Event``'s set-up."""

    __slots__ = ("callbacks", "armed")
    _ok = True

    def __init__(self, callback) -> None:
        self.armed = [callback]         # SimPy sets callbacks to None once processed: re-arm with this
        self.callbacks = self.armed


def _urgent_timeout(env: simpy.Environment, delay: float) -> simpy.Event:
    """A timeout processed before the ordinary events scheduled for the same time."""
    event = simpy.Event(env)
    event._ok, event._value = True, None
    env.schedule(event, URGENT, delay)
    return event


def _small_ints(values: np.ndarray) -> bytes | array:
    """Non-negative integers (or booleans) as ``bytes`` when they fit in a byte (indexing gives
    small, cached ints: as fast as a list), else as an int64 ``array``."""
    values = np.asarray(values)
    if len(values) == 0 or (values.min() >= 0 and values.max() < 256):
        return values.astype(np.uint8).tobytes()
    return array("q", values.astype(np.int64).tobytes())


def _mutable_small_ints(count: int, largest: int) -> bytearray | array:
    """``count`` zeros that can hold values up to ``largest``: a bytearray when a byte is enough."""
    return bytearray(count) if largest < 256 else array("q", bytes(8 * count))


def _load(pool: Pool) -> tuple[bool, float]:
    """What a traveler choosing a lane sees: open lanes first, then the fewest tokens per booth
    (per open booth; for a closed pool, per booth it has)."""
    return not pool.staffed, (pool.queued() + pool.in_service) / (pool.staffed or pool.capacity or 1)


def simulate(scenario: Scenario, seed: int, replication: int, layout: Layout | None = None) -> Records:
    """Run one replication of ``scenario`` and return its raw records."""
    layout = layout or build_layout(scenario)
    arrivals = generate_arrivals(scenario, seed, replication)
    checkpoint = Checkpoint(scenario, layout, draw_plan(scenario, layout, arrivals, seed, replication), arrivals)
    records = checkpoint.run(replication)
    del checkpoint
    if records.visit_count > LARGE_RUN_VISITS:
        gc.collect()        # the model's pools and callbacks refer to each other: free them now
    return records
