"""The rail yard of the engine: arrival/departure tracks and the daily interchange limit.

A train holds one track of a border station from entering the station's first stage until it
leaves its last (documents, then its gauge change); a train that finds every track taken waits
*outside* (on the line), first come first served, and its wait is logged. After the first
station of its route, a train is handed over to the other railway only while the day's
interchange quota of its direction (``rail.interchange.trains_per_day``) is not used up: it
waits on its track (holding it) until the next day, the backlog carried across days, as the
truck quota does on the road. Days are the model clock's; the railway works 24 h.

:class:`Yard` is driven by :meth:`sim.model.Checkpoint.advance`: every time a train moves on its
route, :meth:`Yard.holds` says whether it must wait (it is then moved on later by the yard
itself). A daily process (:meth:`Yard.days`) resets the quotas at each midnight, hands over the
trains waiting for them, and notes the units (containers or wagons) in the yard at each day's
end for the conservation check (:mod:`sim.conservation`).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .calendar import MINUTES_PER_DAY

OUTSIDE, INTERCHANGE = 0, 1        # kinds of rail waits in the yard log


@dataclass(frozen=True)
class RailLayout:
    """The rail block in index form (made by :func:`sim.plan.build_layout`)."""

    station_names: list[str]
    station_of_stage: list[int]                  # per stage: its station, -1 for a road stage
    tracks: list[int]                            # per station
    gate_station: list[int]                      # per direction: the station after which the interchange limit applies (-1: none)
    trains_per_day: list[int | None]             # per direction: the interchange quota (None: no limit)
    train_classes: list[int]                     # class indices of the trains


class Yard:
    """Tracks, waits outside and the interchange gate of one replication."""

    def __init__(self, checkpoint, rail: RailLayout, count: int, urgent_timeout):
        self.checkpoint, self.env, self.rail = checkpoint, checkpoint.env, rail
        self.urgent_timeout = urgent_timeout  # (env, delay) -> an event before the others due then
        stations = len(rail.tracks)
        self.occupied = [0] * stations
        self.outside: list[deque] = [deque() for _ in range(stations)]
        self.used = [0] * len(rail.gate_station)
        self.waiting: list[deque] = [deque() for _ in rail.gate_station]
        self.step = bytearray(count)          # progress through the current move (see holds)
        self.units = checkpoint.arrivals.group_size
        self.in_yard = 0                      # units on trains holding a track
        self.log: dict[str, list] = {"entity": [], "kind": [], "place": [], "start": [], "end": []}
        self.open_wait: dict[int, int] = {}   # entity -> its log row still waiting
        self.tracks_log: dict[str, list] = {"entity": [], "station": [], "start": [], "end": []}
        self.open_track: dict[tuple[int, int], int] = {}
        self.first_in = np.full(count, np.nan)    # when the train first got a track (it entered the yard)
        self.stock_at_day_end: list[int] = []

    # --- a train moving on its route ----------------------------------------------------------
    def holds(self, entity: int, route: tuple[int, ...], position: int) -> bool:
        """Whether the train, about to move to ``route[position]`` (or out), must wait: for the
        interchange quota when leaving the first station of its route, then for a track of the
        next station. Steps: 0 fresh, 1 quota passed, 2 track released, 3 track granted."""
        station_of = self.rail.station_of_stage
        previous = station_of[route[position - 1]] if position else -1
        following = station_of[route[position]] if position < len(route) else -1
        if previous == following:
            return False
        step, now = self.step[entity], self.env._now
        if step == 3:
            self.step[entity] = 0
            return False
        direction = self.checkpoint.arrivals.direction_index[entity]
        if step == 0 and previous >= 0 and previous == self.rail.gate_station[direction] \
                and self.rail.trains_per_day[direction] is not None:
            if self.waiting[direction] or self.used[direction] >= self.rail.trains_per_day[direction]:
                self._wait(self.waiting[direction], entity, INTERCHANGE, direction, now)
                return True
            self.used[direction] += 1
        if step <= 1 and previous >= 0:
            self._release(entity, previous, now)
        if following >= 0:
            if self.outside[following] or self.occupied[following] >= self.rail.tracks[following]:
                self.step[entity] = 2
                self._wait(self.outside[following], entity, OUTSIDE, following, now)
                return True
            self._occupy(entity, following, now)
        elif previous >= 0:
            self.in_yard -= int(self.units[entity])      # leaves the last station: out of the yard
        self.step[entity] = 0
        return False

    def _wait(self, queue: deque, entity: int, kind: int, place: int, now: float) -> None:
        queue.append(entity)
        self.open_wait[entity] = len(self.log["entity"])
        for key, value in (("entity", entity), ("kind", kind), ("place", place), ("start", now), ("end", np.nan)):
            self.log[key].append(value)

    def _end_wait(self, entity: int, now: float) -> None:
        self.log["end"][self.open_wait.pop(entity)] = now

    def _occupy(self, entity: int, station: int, now: float) -> None:
        self.occupied[station] += 1
        if np.isnan(self.first_in[entity]):
            self.first_in[entity] = now
            self.in_yard += int(self.units[entity])
        self.open_track[entity, station] = len(self.tracks_log["entity"])
        for key, value in (("entity", entity), ("station", station), ("start", now), ("end", np.nan)):
            self.tracks_log[key].append(value)

    def _release(self, entity: int, station: int, now: float) -> None:
        """The train leaves ``station``'s track; the first trains waiting outside get it."""
        self.occupied[station] -= 1
        self.tracks_log["end"][self.open_track.pop((entity, station))] = now
        outside = self.outside[station]
        while outside and self.occupied[station] < self.rail.tracks[station]:
            waiting = outside.popleft()
            self._end_wait(waiting, now)
            self._occupy(waiting, station, now)
            self.step[waiting] = 3
            self.checkpoint.advance(waiting)

    # --- the daily process ------------------------------------------------------------------
    def days(self, days: int):
        """At each midnight (before anything else then): note the units in the yard, reset the
        quotas and hand over the trains waiting for them, first come first served."""
        env = self.env
        for day in range(1, days + 1):
            yield self.urgent_timeout(env, day * MINUTES_PER_DAY - env._now)
            self.stock_at_day_end.append(self.in_yard)
            now = env._now
            for direction, queue in enumerate(self.waiting):
                quota = self.rail.trains_per_day[direction]
                self.used[direction] = 0
                while queue and quota is not None and self.used[direction] < quota:
                    entity = queue.popleft()
                    self.used[direction] += 1
                    self._end_wait(entity, now)
                    self.step[entity] = 1
                    self.checkpoint.advance(entity)
            self.checkpoint.flush()

    def records(self) -> dict[str, np.ndarray]:
        """The yard's log as arrays: rail waits (``wait_*``: kind OUTSIDE at a station or
        INTERCHANGE in a direction, end NaN if still waiting), track holdings (``track_*``),
        ``first_in`` per entity and the units in the yard at each day's end."""
        columns = {f"wait_{key}": np.asarray(values, dtype=float if key in ("start", "end") else np.int64)
                   for key, values in self.log.items()}
        columns.update({f"track_{key}": np.asarray(values, dtype=float if key in ("start", "end") else np.int64)
                        for key, values in self.tracks_log.items()})
        columns["first_in"] = self.first_in
        columns["stock_at_day_end"] = np.asarray(self.stock_at_day_end, dtype=np.int64)
        return columns
