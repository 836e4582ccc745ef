"""From raw records to tables: per-entity rows, and per-replication metrics by group and hour.

Pure functions. Statistics cover the measurement window ``[warm-up, horizon)``: entities that
arrive in it (waits, time in system), exits in it (throughput) and the time-average of queues
and busy booths over it. Waits are minutes. A group's *wait* is its total checkpoint wait, summed
over stages (a group traveling together counts the mean wait of its members at per-person
stages); time in the cargo backlog is reported apart as ``backlog_time_mean``.
Queue lengths are computed exactly from the waiting intervals, not sampled.

Nobody is left out of a wait statistic: a traveller still inside when the run stops counts
with the wait accumulated so far (a lower bound of the wait it will have), so a stage that never
opens makes the waits worse, not better; the unfinished are also reported on their own
(``unfinished``, ``unfinished_share``, ``unfinished_wait_mean``) and ``wait_mean_finished`` is
the mean over those who left. Per-day figures of a group divide by the group's own measured
days: a day group (weekdays, weekends) by the number of such days in the window.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Literal, Sequence

import numpy as np
import pandas as pd

from .calendar import MINUTES_PER_DAY, day_dates
from .groups import EVERYONE, Group
from .scenario.base import day_matches
from .plan import Layout
from .records import BALKED, RENEGED, Records, narrowest
from .rail_metrics import rail_hourly_rows, rail_rows, rail_timeline_rows
from .scenario.schema import DIRECTIONS, Scenario
from .staffing import booth_minutes



@dataclass
class EntityView:
    """Per-entity vectors of one replication, and its per-(entity, stage) columns on demand
    (:meth:`stage_wait`, :meth:`stage_service`, :meth:`stage_lane`: one stage at a time, never
    an entity x stage array)."""

    records: Records
    stage_count: int
    total_wait: np.ndarray      # summed over stages; for entities still inside: the wait so far; leavers: until they left
    finished: np.ndarray        # left the crossing, served, before the run stopped
    secondary: np.ndarray
    lost: np.ndarray            # balked or reneged, and did not come back
    left_stage: np.ndarray      # stage where a lost entity left (-1: not lost)
    kept_waits: list[np.ndarray] | None = None   # each stage's stage_wait, kept for entity_table (which takes them)

    def stage_rows(self, stage: int) -> np.ndarray:
        """Which visits are at ``stage`` (a mask as long as the visit log)."""
        return self.records.visits["stage"] == stage

    def stage_wait(self, stage: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Mean token wait of each entity at ``stage`` (so far, if still queued); NaN if not visited."""
        records, count = self.records, len(self.records.arrivals)
        rows = self.stage_rows(stage) if rows is None else rows
        entity = records.visits["entity"][rows]
        tokens = np.bincount(entity, minlength=count).astype(float)
        back = np.flatnonzero(records.came_back & (records.deferred_stage == stage))
        tokens[back] /= 2           # a deferred visit logs its tokens twice: once per day
        waits = waited_until(records, rows)
        np.subtract(waits, records.visits["arrive"][rows], out=waits)
        waits = np.bincount(entity, weights=waits, minlength=count).astype(float, copy=False)   # int if none
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.divide(waits, tokens, out=waits)

    def stage_service(self, stage: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Booth minutes of each entity at ``stage``; NaN if not started there (``rows``:
        :meth:`stage_rows`, if made already)."""
        visits, count = self.records.visits, len(self.records.arrivals)
        rows = self.stage_rows(stage) if rows is None else rows.copy()
        rows &= ~np.isnan(visits["start"])
        entity = visits["entity"][rows]
        service = np.bincount(entity, weights=visits["end"][rows] - visits["start"][rows], minlength=count).astype(float)
        service[np.bincount(entity, minlength=count) == 0] = np.nan
        return service

    def stage_lane(self, stage: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Pool index of each entity at ``stage`` (of its last visit there); -1 if not visited
        (``rows``: :meth:`stage_rows`, if made already)."""
        visits = self.records.visits
        rows = self.stage_rows(stage) if rows is None else rows
        lane = np.full(len(self.records.arrivals), -1, dtype=np.int32)
        lane[visits["entity"][rows]] = visits["pool"][rows]
        return lane

    def visited(self, stage: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Whether each entity visited ``stage`` (``rows``: :meth:`stage_rows`, if made already)."""
        visited = np.zeros(len(self.records.arrivals), bool)
        visited[self.records.visits["entity"][self.stage_rows(stage) if rows is None else rows]] = True
        return visited


def measurement_window(scenario: Scenario) -> tuple[float, float]:
    """The arrival window (minutes since the start) of the measured days: after the warm-up, up to the horizon."""
    calendar = scenario.calendar
    return calendar.warmup_days * MINUTES_PER_DAY, calendar.days * MINUTES_PER_DAY


def waited_until(records: Records, rows: np.ndarray | None = None) -> np.ndarray:
    """When each visit's wait ended (of ``rows`` only, if given): its service start, when it left
    the queue unserved, or the end of the run if still queued."""
    visits = records.visits
    until = visits["start"].copy() if rows is None else visits["start"][rows]
    unstarted = np.flatnonzero(np.isnan(until))
    left = visits.get("left")
    if left is None:
        until[unstarted] = records.end_time
    else:
        left = left[unstarted] if rows is None else left[rows][unstarted]
        until[unstarted] = np.where(np.isnan(left), records.end_time, left)
    return until


def _pairwise_sum(term: Callable[[int], np.ndarray], first: int, count: int) -> np.ndarray:
    """``term(first) + ... + term(first + count - 1)`` added in the order ``np.sum`` adds a row
    of ``count`` numbers (numpy's pairwise summation: eight partial sums per block of up to 128,
    halves above), one term computed at a time, so that the result is bit-identical to
    ``np.sum(stacked, axis=1)`` without the stacked array. ``term`` makes a fresh array (summed
    into in place)."""
    if count < 8:
        total = term(first)
        for index in range(first + 1, first + count):
            total += term(index)
        return total
    if count > 128:
        half = count // 2
        half -= half % 8
        return _pairwise_sum(term, first, half) + _pairwise_sum(term, first + half, count - half)
    whole = count - count % 8

    def partial(lane: int) -> np.ndarray:       # r[lane] = term(lane) + term(lane + 8) + ...
        total = term(first + lane)
        for index in range(first + lane + 8, first + whole, 8):
            total += term(index)
        return total

    def tree(low: int, width: int) -> np.ndarray:   # ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        if width == 1:
            return partial(low)
        total = tree(low, width // 2)
        total += tree(low + width // 2, width // 2)
        return total
    total = tree(0, 8)
    for index in range(first + whole, first + count):
        total += term(index)
    return total


def nansum_rows(column: Callable[[int], np.ndarray], count: int, length: int) -> np.ndarray:
    """``np.nansum`` over the rows of the ``length`` x ``count`` array whose column ``j`` is
    ``column(j)``, bit for bit, building one column at a time."""
    if count == 0:
        return np.zeros(length)
    return _pairwise_sum(lambda index: np.nan_to_num(column(index), nan=0.0, copy=False), 0, count)


def entity_view(records: Records, layout: Layout, keep_stage_waits: bool = False) -> EntityView:
    """Per-entity vectors (tokens still queued count with their wait so far), stage by stage;
    with ``keep_stage_waits`` the stage waits summed here are kept for :func:`entity_table`
    (an entity x stage table of floats: only when the entity table is wanted)."""
    count, stages = len(records.arrivals), len(layout.stage_names)
    visits = records.visits
    lost = records.outcome > 0
    left_stage = np.full(count, -1, dtype=narrowest(stages))
    left = visits.get("left")
    if left is not None:
        rows = ~np.isnan(left)
        left_stage[visits["entity"][rows]] = visits["stage"][rows]
        left_stage[~lost] = -1
    view = EntityView(records, stages, np.zeros(count), ~np.isnan(records.exit_time), np.zeros(count, bool),
                      lost, left_stage)
    if keep_stage_waits:
        kept = view.kept_waits = [view.stage_wait(stage) for stage in range(stages)]
        view.total_wait = nansum_rows(lambda stage: kept[stage].copy(), stages, count)   # summed in place
    else:
        view.total_wait = nansum_rows(view.stage_wait, stages, count)
    for stage in np.flatnonzero(np.asarray(layout.secondary, dtype=bool)):
        view.secondary |= view.visited(int(stage))
    return view


def entity_table(records: Records, layout: Layout, view: EntityView | None = None) -> pd.DataFrame:
    """One row per traveler/vehicle: the entity table contract (``entities.parquet``). The
    view's kept stage waits, if any, are taken over (the view lets go of them)."""
    view = view or entity_view(records, layout, keep_stage_waits=True)
    waits, view.kept_waits = view.kept_waits, None
    arrivals = records.arrivals
    table = {
        "replication": np.full(len(arrivals), records.replication),
        "id": np.arange(len(arrivals)),
        "class": np.asarray(layout.class_names, dtype=object)[arrivals.class_index],
        "direction": np.asarray(DIRECTIONS, dtype=object)[arrivals.direction_index],
        "group_size": arrivals.group_size,
        "arrival_min": arrivals.time,
        "release_min": records.release_time,
    }
    pool_names = np.asarray([name.split("/", 1)[1] for name in layout.pool_names] + [""], dtype=object)
    for index, stage in enumerate(layout.stage_names):
        rows = view.stage_rows(index)               # the stage's visits, found once for its three columns
        table[f"wait_{stage}"] = waits[index] if waits is not None else view.stage_wait(index, rows)
        table[f"service_{stage}"] = view.stage_service(index, rows)
        table[f"lane_{stage}"] = pool_names[view.stage_lane(index, rows)]
        del rows
    table["wait_total"] = view.total_wait
    table["exit_min"] = records.exit_time
    table["finished"] = view.finished
    table["secondary"] = view.secondary
    table["green_channel"] = arrivals.green
    if layout.impatient:
        table.update(_leaving_columns(records, layout, view))
    return pd.DataFrame(table)


OUTCOMES = np.asarray(["", "balked", "reneged"], dtype=object)     # by Records.outcome


def _leaving_columns(records: Records, layout: Layout, view: EntityView) -> dict[str, np.ndarray]:
    """The entity table's columns about leaving: outcome (served, inside, balked, reneged), when
    the lost left, and the stage a deferred entity left to come back the next day."""
    outcome = np.where(view.finished, "served", "inside").astype(object)
    outcome[view.lost] = OUTCOMES[records.outcome[view.lost]]
    stage_names = np.asarray(layout.stage_names + [""], dtype=object)     # -1: ""
    return {"outcome": outcome, "left_min": records.leave_time,
            "deferred_at": stage_names[records.deferred_stage]}


SWEEP_CHUNK = 1 << 14       # sorted starts per step in maximum_open: no visit-long int64 temporaries


def _sorted(values: np.ndarray, owned: bool) -> np.ndarray:
    """``values`` in ascending order: sorted in place when ``owned`` (the caller's array), else a
    sorted copy."""
    if owned:
        values.sort()
        return values
    return np.sort(values)


def _integral_of_min(points: np.ndarray, edges: np.ndarray, owned: bool = False) -> np.ndarray:
    """Integral from 0 to each edge of the number of ``points`` below it (sorted and summed in
    place when ``owned``: the caller's array is used up)."""
    points = _sorted(points, owned)
    below = np.searchsorted(points, edges)            # points < edge
    total = len(points)
    np.cumsum(points, out=points)
    prefix = np.where(below > 0, points[np.maximum(below - 1, 0)] if total else 0.0, 0.0)
    return prefix + edges * (total - below)


def occupancy(starts: np.ndarray | Callable[[], np.ndarray], ends: np.ndarray | Callable[[], np.ndarray],
              edges: np.ndarray) -> np.ndarray:
    """Integral over each bin (between ``edges``) of the number of intervals [start, end) open.

    ``starts`` and ``ends`` may be functions making fresh arrays: then one is made at a time and
    sorted in place (no copy), and freed before the other is made."""
    def integral(points: np.ndarray | Callable[[], np.ndarray]) -> np.ndarray:
        return _integral_of_min(points(), edges, owned=True) if callable(points) else _integral_of_min(points, edges)
    return np.maximum(np.diff(integral(ends) - integral(starts)), 0.0)   # no rounding below 0


def _ascending(values: np.ndarray, owned: bool, where: np.ndarray | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``values`` (no NaN; those ``where`` is True, if given) in ascending order, a piece at a
    time: (rank of the piece's first value, the piece). Owned values are sorted in place; others
    are cut into ranges of value and each range sorted apart (no sorted copy of them all)."""
    if owned or (where is None and len(values) <= SWEEP_CHUNK * 16):
        ordered = _sorted(values, owned)
        for first in range(0, len(ordered), SWEEP_CHUNK):
            yield first, ordered[first:first + SWEEP_CHUNK]
        return
    count = len(values) if where is None else np.count_nonzero(where)
    bounds = np.linspace(values.min(), values.max(), -(-count // (SWEEP_CHUNK * 16)) + 1)
    rank, low = 0, -np.inf
    for high in [*bounds[1:-1], np.inf]:
        inside = values >= low
        inside &= values < high
        if where is not None:
            inside &= where
        piece = values[inside]
        del inside
        piece.sort()
        for first in range(0, len(piece), SWEEP_CHUNK):
            yield rank + first, piece[first:first + SWEEP_CHUNK]
        rank, low = rank + len(piece), high


def maximum_open(starts: np.ndarray, ends: np.ndarray, windows: np.ndarray,
                 owned: Literal["none", "ends", "both"] = "none", where: np.ndarray | None = None) -> float:
    """Largest number of intervals [start, end) open at once during any of ``windows`` (rows
    ``(from, to)``, sorted and disjoint); the intervals are ``starts[where]`` and ``ends`` if
    ``where`` is given. ``owned`` arrays are the caller's, sorted in place; ``starts`` not owned
    are read a range of values at a time (no sorted copy of them all); ``where`` applies to
    starts not owned. The starts before each window are counted in the same sorted pieces.

    The count only rises at a start, so it is enough to look at each window's start and at every
    start inside a window (an interval ending at the very moment another starts is not counted).
    """
    windows = np.asarray(windows, dtype=float).reshape(-1, 2)
    if len(ends) == 0 or len(windows) == 0:
        return 0.0
    ends = _sorted(ends, owned != "none")
    started_before = np.zeros(len(windows), dtype=np.int64)    # starts < each window's start, piece by piece
    largest = 0
    for first, chunk in _ascending(starts, owned == "both", where):
        started_before += np.searchsorted(chunk, windows[:, 0], side="left")
        window = np.searchsorted(windows[:, 0], chunk, side="right") - 1
        inside = (window >= 0) & (chunk < windows[np.maximum(window, 0), 1])
        open_at_starts = (np.arange(first + 1, first + len(chunk) + 1)
                          - np.searchsorted(ends, chunk, side="right"))[inside]
        largest = max(largest, open_at_starts.max(initial=0))
    at_window_start = started_before - np.searchsorted(ends, windows[:, 0], side="right")
    return float(max(largest, at_window_start.max()))


WAIT_MEASURES: dict[str, Callable[[np.ndarray], float]] = {   # one definition of each wait measure
    "wait_mean": np.mean,
    "wait_p50": lambda waits: np.percentile(waits, 50),
    "wait_p90": lambda waits: np.percentile(waits, 90),
    "wait_p95": lambda waits: np.percentile(waits, 95),
    "wait_max": np.max,
    "share_waiting": lambda waits: np.mean(waits > 0.0),
    "share_wait_over_60min": lambda waits: np.mean(waits > 60.0),
}
PEAK_FACTOR = 1.5        # a peak hour has at least 1.5x the mean demand of the hours with demand


def peak_hours(weights: Sequence[float], factor: float = PEAK_FACTOR) -> list[int]:
    """Hours of the day whose demand weight is at least ``factor`` times the mean weight of the
    hours with demand (pass ``demand.hour_weights``, or arrivals per hour from a table)."""
    weights = np.nan_to_num(np.asarray(weights, dtype=float))
    busy = weights[weights > 0]
    return [] if busy.size == 0 else [int(h) for h in np.flatnonzero(weights >= factor * busy.mean())]


def peak_or_busiest_hours(weights: Sequence[float]) -> list[int]:
    """The demand peak hours, or the busiest hour(s) when no hour stands out as a peak."""
    peaks = peak_hours(weights)
    weights = np.asarray(weights, dtype=float)
    return peaks or [int(h) for h in np.flatnonzero(weights == weights.max())]


@dataclass(frozen=True)
class Leavers:
    """Who of a group left (impatience), as entity masks: the entities the group's leaving figures
    are about (``arrived``; a stage group: those who joined the stage), when they arrived (at the
    crossing; a stage group: when they first joined the stage), those lost there by balking or
    reneging, those deferred from there, the served, and the waits to average (total wait; a
    stage group: the wait at the stage)."""

    arrived: np.ndarray
    times: np.ndarray
    balked: np.ndarray
    reneged: np.ndarray
    deferred: np.ndarray
    served: np.ndarray
    waits: np.ndarray

    @property
    def lost(self) -> np.ndarray:
        return self.balked | self.reneged


LEAVING_COUNTS = ("balked", "reneged", "lost", "deferred")   # entities/day; each with its ``<name>_share`` of arrivals


@dataclass(frozen=True)
class GroupMasks:
    """What a row of the summary is about (its :class:`~sim.groups.Group`): a set of travellers,
    or a stage's visits.

    ``entities`` masks the entities of the group (None for a stage group, whose visits are
    selected by ``stage``), made by ``select`` when asked for (one group's mask at a time); ``days`` marks the measured days the group covers: its per-day
    figures divide by their number and its time-averages (queue lengths) cover their hours.
    ``time_selection`` groups (weekdays, weekends) hold the entities arriving on their days, count
    the exits made on their days and average the queue of everyone over their days.
    """

    group: Group
    select: Callable[[], np.ndarray] | None
    stage: int | None
    days: np.ndarray
    time_selection: bool = False

    @property
    def entities(self) -> np.ndarray | None:
        return None if self.select is None else self.select()

    @property
    def name(self) -> str:
        """The group's name in the tables (``class=car``)."""
        return str(self.group)

    @property
    def day_count(self) -> int:
        return int(self.days.sum())


class ReplicationMetrics:
    """Computes the per-replication metric rows for every group of one replication."""

    def __init__(self, records: Records, layout: Layout, scenario: Scenario, view: EntityView | None = None):
        self.records, self.layout, self.scenario = records, layout, scenario
        self.view = view or entity_view(records, layout)
        calendar = scenario.calendar
        self.window = measurement_window(scenario)
        self.measured = np.arange(calendar.days) >= calendar.warmup_days
        # A booth held after its service by a token whose next stage is full (spill-back) is
        # occupied, not free, until it is let go: it counts in the utilization, and apart as blocked.
        self.held = "held_until" in records.visits
        arrivals = records.arrivals
        self.in_window = (arrivals.time >= self.window[0]) & (arrivals.time < self.window[1])
        self.exit_in_window = (records.exit_time >= self.window[0]) & (records.exit_time < self.window[1])
        self.peak_hours = peak_or_busiest_hours(scenario.demand.hour_weights)
        self.cargo = np.isin(arrivals.class_index, layout.cargo_classes)
        vehicles = [layout.class_names.index(c) for c in scenario.demand.vehicle_classes if c in layout.class_names]
        self.vehicle = np.isin(arrivals.class_index, vehicles) if vehicles else None  # demand.vehicle_classes
        self.groups = self._groups()
        self._hourly_leaving_of: dict[str, dict[str, np.ndarray]] = {}    # made by rows(), used by hourly_rows()

    def _groups(self) -> list[GroupMasks]:
        arrivals, layout, measured = self.records.arrivals, self.layout, self.measured
        def equal(values: np.ndarray, index: int) -> Callable[[], np.ndarray]:
            return lambda: values == index
        groups = [GroupMasks(EVERYONE, lambda: np.ones(len(arrivals), bool), None, measured)]
        for index, name in enumerate(layout.class_names):
            groups.append(GroupMasks(Group("class", name), equal(arrivals.class_index, index), None, measured))
        for index, name in enumerate(layout.stage_names):
            groups.append(GroupMasks(Group("stage", name), None, index, measured))
        for index, name in enumerate(DIRECTIONS):
            if (arrivals.direction_index == index).any():
                groups.append(GroupMasks(Group("direction", name), equal(arrivals.direction_index, index), None,
                                         measured))
        if any(c.green_channel_share > 0 for c in self.scenario.classes.values()):
            groups.append(GroupMasks(Group("green_channel", "eligible"), lambda: arrivals.green, None, measured))
            groups.append(GroupMasks(Group("green_channel", "not_eligible"), lambda: ~arrivals.green, None, measured))
        calendar = self.scenario.calendar
        weekend_day = np.array([day_matches("weekend", date) for date in day_dates(calendar, calendar.days)])
        for label, wanted in (("weekday", False), ("weekend", True)):
            on_days = weekend_day == wanted
            if (measured & on_days).any():
                groups.append(GroupMasks(Group("day", label), self._day_selection(on_days), None,
                                         measured & on_days, True))
        return groups

    def _day_selection(self, days: np.ndarray) -> Callable[[], np.ndarray]:
        """The entities arriving on ``days``, made when asked for."""
        return lambda: self._on_days(self.records.arrivals.time, days)

    @staticmethod
    def _on_days(times: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Whether each time (minutes; NaN: never) falls on one of ``days`` (bool per simulated day)."""
        day = np.where(np.isnan(times), -1, times // MINUTES_PER_DAY).astype(int)
        return (day >= 0) & (day < len(days)) & days[np.clip(day, 0, len(days) - 1)]

    def _visit_mask(self, group: GroupMasks) -> np.ndarray | None:
        """The visits of a group (as long as the visit log: made one group at a time); None: all."""
        visits = self.records.visits
        if group.stage is not None:
            return visits["stage"] == group.stage
        if group.time_selection or group.group == EVERYONE:
            return None
        return group.entities[visits["entity"]]

    def _visit_column(self, name: str, mask: np.ndarray | None, fresh: bool = False) -> np.ndarray:
        """A visit column, of the ``mask``ed visits (a copy), or the column itself (read only;
        a copy if ``fresh``)."""
        column = self.records.visits[name]
        return (column.copy() if fresh else column) if mask is None else column[mask]

    def _wait_ends(self, mask: np.ndarray | None) -> np.ndarray:
        """:func:`waited_until` of the ``mask``ed visits (a fresh array)."""
        return waited_until(self.records, mask)

    def _busy_ends(self, mask: np.ndarray | None, occupied: bool) -> np.ndarray:
        """When the ``mask``ed visits' booths stopped serving (cut at the end of the run), or with
        ``occupied`` stopped being held (a fresh array)."""
        end = self._visit_column("end", mask, fresh=True)
        if occupied and self.held:
            np.fmax(end, self._visit_column("held_until", mask), out=end)
        return np.minimum(end, self.records.end_time, out=end)

    def _windows(self, group: GroupMasks) -> np.ndarray:
        """The group's measured days as (from, to) minute spans, consecutive days merged."""
        days = np.flatnonzero(group.days)
        if len(days) == 0:
            return np.zeros((0, 2))
        breaks = np.flatnonzero(np.diff(days) > 1)
        first = np.concatenate(([days[0]], days[breaks + 1]))
        last = np.concatenate((days[breaks], [days[-1]])) + 1
        return np.column_stack((first, last)) * MINUTES_PER_DAY

    def rows(self) -> list[tuple[str, str, float]]:
        """(group, metric, value) for every group."""
        rows: list[tuple[str, str, float]] = []
        for group in self.groups:
            visit_mask = self._visit_mask(group)
            values = self._entity_metrics(group) if group.select is not None else self._stage_metrics(visit_mask)
            if self.layout.impatient:        # who left, per day and (kept for hourly_rows) by hour
                leavers = self._leavers(group)
                values.update(self._leaving_metrics(leavers, max(group.day_count, 1)))
                self._hourly_leaving_of[group.name] = self._hourly_leaving(leavers, *self._hour_bins(group))
                del leavers
            values.update(self._queue_metrics(visit_mask, self._windows(group)))
            del visit_mask
            if group.group == EVERYONE or group.stage is not None:
                values["utilization"] = self._utilization(group)
                if self.held:
                    values["blocked_share"] = self._utilization(group, blocked=True)
            rows.extend((group.name, metric, float(value)) for metric, value in values.items())
        if self.records.yard is not None:                                    # the rail model (sim.rail_metrics)
            rows.extend(rail_rows(self.records, self.layout, self.window))
        return rows

    # ---- selections and measures: what groups, calibration targets and verdicts ask for
    def entity_selection(self, classes: Sequence[str] | None = None, hours: tuple[float, float] | None = None,
                         days: np.ndarray | None = None, event: Literal["arrival", "exit"] = "arrival",
                         directions: Sequence[str] | None = None) -> np.ndarray:
        """Entities whose ``event`` (arrival, or exit for counts of those who left) falls in the
        measurement window, on one of ``days`` (bool per simulated day), in ``hours`` of the day
        ``[from, to)``, of ``classes`` and going in ``directions`` (default: every one of them)."""
        records = self.records
        times = records.arrivals.time if event == "arrival" else records.exit_time
        finite = np.isfinite(times)
        times = np.where(finite, times, -1.0)
        chosen = finite & (times >= self.window[0]) & (times < self.window[1])
        if days is not None:
            chosen &= self._on_days(times, days)
        if hours is not None:
            hour = (times % MINUTES_PER_DAY) / 60.0
            chosen &= (hour >= hours[0]) & (hour < hours[1])
        if classes:
            wanted = [self.layout.class_names.index(name) for name in classes if name in self.layout.class_names]
            chosen &= np.isin(records.arrivals.class_index, wanted)
        if directions:
            chosen &= np.isin(records.arrivals.direction_index, [DIRECTIONS.index(d) for d in directions])
        return chosen

    def count(self, entities: np.ndarray, unit: Literal["entities", "persons"] = "entities") -> float:
        """How many ``entities`` there are, or how many persons they carry."""
        if unit == "persons":
            return float(self.records.arrivals.group_size[entities].sum())
        return float(np.sum(entities))

    def wait_measure(self, name: str, entities: np.ndarray) -> float:
        """A wait measure of :data:`WAIT_MEASURES` over ``entities`` (NaN when there are none)."""
        waits = self.view.total_wait[entities]
        return float(WAIT_MEASURES[name](waits)) if len(waits) else np.nan

    def _wait_stats(self, waits: np.ndarray, arrival_times: np.ndarray) -> dict[str, float]:
        if len(waits) == 0:
            return {}
        values = {name: measure(waits) for name, measure in WAIT_MEASURES.items()}
        in_peak = np.isin((arrival_times % MINUTES_PER_DAY) // 60.0, self.peak_hours)
        if in_peak.any():
            values["peak_hour_wait_mean"] = waits[in_peak].mean()
        return values

    def _entity_metrics(self, group: GroupMasks) -> dict[str, float]:
        records, arrivals, view = self.records, self.records.arrivals, self.view
        mask, days = group.entities, max(group.day_count, 1)
        measured = mask & self.in_window
        left, inside = measured & view.finished, measured & ~view.finished & ~view.lost
        exits = self.exit_in_window & (self._on_days(records.exit_time, group.days) if group.time_selection else mask)
        values = {"arrivals_per_day": np.sum(measured) / days,
                  "throughput_per_day": np.sum(exits) / days,
                  "persons_per_day": np.sum(arrivals.group_size[exits]) / days}
        if self.vehicle is not None:
            values["vehicles_per_day"] = np.sum(exits & self.vehicle) / days
        values.update(self._wait_stats(view.total_wait[measured], arrivals.time[measured]))
        if left.any():
            values["wait_mean_finished"] = np.mean(view.total_wait[left])
            values["time_in_system_mean"] = np.mean(records.exit_time[left] - arrivals.time[left])
        cargo = measured & self.cargo
        if cargo.any():     # release from the backlog, or the end of the run for those still in it
            released = np.where(np.isnan(records.release_time), records.end_time, records.release_time)
            values["backlog_time_mean"] = np.mean(released[cargo] - arrivals.time[cargo])
        values["unfinished"] = np.sum(inside)
        if measured.any():
            values["unfinished_share"] = np.mean(inside[measured])
        if inside.any():
            values["unfinished_wait_mean"] = np.mean(view.total_wait[inside])
        return values

    def _leavers(self, group: GroupMasks) -> Leavers:
        """The masks of :class:`Leavers` for ``group`` (entity groups: its entities; a stage group:
        who joined the stage, lost or deferred at it)."""
        records, view = self.records, self.view
        if group.stage is None:
            arrived, times, waits = group.entities, records.arrivals.time, view.total_wait
            left_here, deferred_here = np.ones(len(arrived), bool), records.deferred_stage >= 0
        else:
            stage, visits = group.stage, records.visits
            here = view.stage_rows(stage)
            arrived, waits = view.visited(stage, here), view.stage_wait(stage, here)
            times = np.full(len(arrived), np.inf)
            np.minimum.at(times, visits["entity"][here], visits["arrive"][here])
            left_here, deferred_here = view.left_stage == stage, records.deferred_stage == stage
        return Leavers(arrived, times, arrived & left_here & (records.outcome == BALKED),
                       arrived & left_here & (records.outcome == RENEGED), arrived & deferred_here,
                       arrived & view.finished, waits)

    def _leaving_metrics(self, leavers: Leavers, days: int) -> dict[str, float]:
        """Balked, reneged, lost (balked + reneged) and deferred entities per day and their shares of
        the arrivals; waits of the served and of the lost (until they left), over the entities
        of a group's :meth:`_leavers` arriving in the window."""
        times = leavers.times
        measured = leavers.arrived & (times >= self.window[0]) & (times < self.window[1])
        arrived = np.sum(measured)
        values: dict[str, float] = {}
        for name in LEAVING_COUNTS:
            count = np.sum(measured & getattr(leavers, name))
            values[name] = count / days
            if arrived:
                values[f"{name}_share"] = count / arrived
        lost, served = measured & leavers.lost, measured & leavers.served
        if served.any():
            values["wait_mean_served"] = np.mean(leavers.waits[served])
        if lost.any():
            values["wait_mean_lost"] = np.mean(leavers.waits[lost])
        return values

    def _hourly_leaving(self, leavers: Leavers, edges: np.ndarray,
                        day_mean: Callable[[np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
        """:meth:`_leaving_metrics` by hour of arrival: counts per day of the group's days, shares
        and waits pooled over them."""
        def per_hour(mask: np.ndarray) -> np.ndarray:
            return day_mean(np.histogram(leavers.times[mask], bins=edges)[0])
        arrived = per_hour(leavers.arrived)
        values: dict[str, np.ndarray] = {}
        def share(count: np.ndarray) -> np.ndarray:
            return np.divide(count, arrived, out=np.full(24, np.nan), where=arrived > 0)
        for name in LEAVING_COUNTS:
            values[name] = per_hour(getattr(leavers, name))
            values[f"{name}_share"] = share(values[name])
        for metric, mask in (("wait_mean_served", leavers.served), ("wait_mean_lost", leavers.lost)):
            values[metric] = _per_hour_waits(leavers.times[mask], leavers.waits[mask], edges)["wait_mean"]
        return values

    def _stage_metrics(self, visit_mask: np.ndarray) -> dict[str, float]:
        end, start = self.records.visits["end"][visit_mask], self.records.visits["start"][visit_mask]
        ended = ~np.isnan(start) & (end >= self.window[0]) & (end < self.window[1])
        values = {"services_per_day": np.sum(ended) / max(int(self.measured.sum()), 1)}
        del end, start, ended
        arrive = self.records.visits["arrive"][visit_mask]
        arrived = (arrive >= self.window[0]) & (arrive < self.window[1])
        values.update(self._wait_stats((self._wait_ends(visit_mask) - arrive)[arrived], arrive[arrived]))
        return values

    def _queue_metrics(self, visit_mask: np.ndarray | None, windows: np.ndarray) -> dict[str, float]:
        if len(windows) == 0:
            return {}
        # the wait ends are made once: sorted in place by maximum_open, then handed over to the
        # integral, which uses them up (``pop``: no second reference keeps them alive meanwhile)
        ends = [self._wait_ends(visit_mask)]
        largest = maximum_open(self.records.visits["arrive"], ends[0], windows, owned="ends", where=visit_mask)
        queued = self._queue_integral(visit_mask, windows.ravel(), ends.pop)[::2].sum()
        return {"queue_length_mean": queued / np.sum(windows[:, 1] - windows[:, 0]),
                "queue_length_max": largest}

    def _queue_integral(self, visit_mask: np.ndarray | None, edges: np.ndarray,
                        wait_ends: Callable[[], np.ndarray] | None = None) -> np.ndarray:
        """:func:`occupancy` of the ``mask``ed visits' waits (from joining the queue to its end;
        ``wait_ends`` gives those ends if made already, as an array to use up)."""
        return occupancy(lambda: self._visit_column("arrive", visit_mask, fresh=True),
                         wait_ends or (lambda: self._wait_ends(visit_mask)), edges)

    def _pools_of(self, group: GroupMasks) -> list[int]:
        if group.stage is None:
            return list(range(len(self.layout.pool_names)))
        return [p for p, s in enumerate(self.layout.pool_stage) if s == group.stage]

    def _busy_and_open(self, group: GroupMasks, edges: np.ndarray,
                       blocked: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Occupied booth-minutes (serving, or held by a token that cannot move on) and open
        booth-minutes of a stage (or all) in each bin; with ``blocked``, the held minutes only."""
        pools = self._pools_of(group)
        visits = self.records.visits
        mask = ~np.isnan(visits["start"])
        if group.stage is not None:
            mask &= visits["stage"] == group.stage
        if blocked:
            busy = occupancy(lambda: self._busy_ends(mask, occupied=False), lambda: self._busy_ends(mask, occupied=True),
                             edges)
        else:
            busy = occupancy(lambda: visits["start"][mask], lambda: self._busy_ends(mask, occupied=True), edges)
        return busy, sum((booth_minutes(*self.layout.schedules[p], edges) for p in pools), np.zeros(len(edges) - 1))

    def _utilization(self, group: GroupMasks, blocked: bool = False) -> float:
        busy, open_minutes = self._busy_and_open(group, np.array(self.window), blocked)
        return float(busy[0] / open_minutes[0]) if open_minutes[0] > 0 else np.nan

    def hourly_rows(self) -> list[tuple[int, str, str, float]]:
        """(hour of day, group, metric, value): a day's profile averaged over the group's measured days."""
        first_day, days = self.scenario.calendar.warmup_days, int(self.measured.sum())
        arrivals = self.records.arrivals
        rows: list[tuple[int, str, str, float]] = []
        for group in self.groups:
            selected = group.days[first_day:]
            if not selected.any():
                continue
            edges, day_mean = self._hour_bins(group)
            visit_mask = self._visit_mask(group)
            if group.select is not None:
                entities = group.entities
                times, waits = arrivals.time[entities], self.view.total_wait[entities]
                del entities
            else:
                times = self._visit_column("arrive", visit_mask)
                waits = self._wait_ends(visit_mask) - times
            per_hour = {"arrivals_per_day": day_mean(np.histogram(times, bins=edges)[0])}
            per_hour.update(_per_hour_waits(times, waits, edges))
            del times, waits
            if self.layout.impatient:
                leaving = self._hourly_leaving_of.pop(group.name, None)
                per_hour.update(leaving if leaving is not None else
                                self._hourly_leaving(self._leavers(group), edges, day_mean))
            per_hour["queue_length_mean"] = day_mean(self._queue_integral(visit_mask, edges) / 60.0)
            del visit_mask
            if group.group == EVERYONE or group.stage is not None:
                busy, open_minutes = (a.reshape(days, 24)[selected].sum(axis=0)
                                      for a in self._busy_and_open(group, edges))
                per_hour["staffed_booths"] = open_minutes / 60.0 / selected.sum()
                per_hour["utilization"] = np.divide(busy, open_minutes, out=np.full(24, np.nan), where=open_minutes > 0)
            for metric, values in per_hour.items():
                rows.extend((hour, group.name, metric, float(values[hour])) for hour in range(24))
        if self.records.yard is not None:                                    # the rail model (sim.rail_metrics)
            rows.extend(rail_hourly_rows(self.records, first_day, days))
        return rows

    def _hour_bins(self, group: GroupMasks) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """The hour edges of the measured days, and the mean over ``group``'s days of a figure
        per measured hour (a day's profile)."""
        first_day, days = self.scenario.calendar.warmup_days, int(self.measured.sum())
        edges = (first_day * 24 + np.arange(days * 24 + 1)) * 60.0
        selected = group.days[first_day:]

        def day_mean(per_hour: np.ndarray) -> np.ndarray:
            return per_hour.reshape(days, 24)[selected].mean(axis=0)
        return edges, day_mean

    def timeline_rows(self) -> list[tuple[int, str, str, float]]:
        """(hour since the start, group, metric, value) for ``all`` and each stage, over the whole
        horizon, warm-up included: the mean queue length and the open booths, hour by hour."""
        edges = np.arange(self.scenario.calendar.days * 24 + 1) * 60.0
        rows: list[tuple[int, str, str, float]] = []
        for group in self.groups:
            if group.group != EVERYONE and group.stage is None:
                continue
            queue = self._queue_integral(self._visit_mask(group), edges) / 60.0
            _, open_minutes = self._busy_and_open(group, edges)
            for metric, values in (("queue_length_mean", queue), ("staffed_booths", open_minutes / 60.0)):
                rows.extend((hour, group.name, metric, float(value)) for hour, value in enumerate(values))
        if self.records.yard is not None:                                    # the rail model (sim.rail_metrics)
            rows.extend(rail_timeline_rows(self.records, self.scenario.calendar.days))
        return rows


def _per_hour_waits(times: np.ndarray, waits: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and 90th-percentile wait by hour of arrival (of arrivals inside ``edges``)."""
    inside = (times >= edges[0]) & (times < edges[-1]) & ~np.isnan(waits)
    hours = ((times[inside] - edges[0]) // 60.0).astype(int) % 24
    waits = waits[inside]
    mean, p90 = np.full(24, np.nan), np.full(24, np.nan)
    for hour in range(24):
        selected = waits[hours == hour]
        if len(selected):
            mean[hour], p90[hour] = selected.mean(), np.percentile(selected, 90)
    return {"wait_mean": mean, "wait_p90": p90}
