"""From raw records to tables: per-entity rows, and per-replication metrics by group and hour.

Pure functions. Statistics cover the measurement window ``[warm-up, horizon)``: entities that
arrive in it (waits, time in system), exits in it (throughput) and the time-average of queues
and busy booths over it. Waits are minutes. A group's *wait* is its total checkpoint wait, summed
over stages (a group traveling together counts the mean wait of its members at per-person
stages); time in the cargo backlog is reported apart as ``backlog_time_mean``.
Queue lengths are computed exactly from the waiting intervals, not sampled.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd

from .calendar import MINUTES_PER_DAY, day_dates
from .plan import Layout
from .records import Records
from .scenario.schema import DIRECTIONS, Scenario
from .staffing import booth_minutes



@dataclass
class EntityView:
    """Per-entity and per-(entity, stage) arrays of one replication."""

    wait: np.ndarray            # (entities, stages): mean token wait, NaN if not visited/started
    service: np.ndarray         # (entities, stages): booth minutes
    lane: np.ndarray            # (entities, stages): pool index, -1 if not visited
    total_wait: np.ndarray      # NaN for entities still inside at the end
    secondary: np.ndarray


def entity_view(records: Records, layout: Layout) -> EntityView:
    """Aggregate visits per (entity, stage)."""
    count, stages = len(records.arrivals), len(layout.stage_names)
    visits = records.visits
    started = ~np.isnan(visits["start"])
    key = visits["entity"][started] * stages + visits["stage"][started]
    size = count * stages
    tokens = np.bincount(key, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        wait = np.bincount(key, weights=(visits["start"] - visits["arrive"])[started], minlength=size) / tokens
    service = np.bincount(key, weights=(visits["end"] - visits["start"])[started], minlength=size)
    service[tokens == 0] = np.nan
    lane = np.full(size, -1, dtype=np.int32)
    lane[key] = visits["pool"][started]
    wait, service, lane = (a.reshape(count, stages) for a in (wait, service, lane))
    finished = ~np.isnan(records.exit_time)
    total_wait = np.where(finished, np.nansum(wait, axis=1), np.nan)
    secondary_stages = np.asarray(layout.secondary, dtype=bool)
    secondary = (lane[:, secondary_stages] >= 0).any(axis=1) if secondary_stages.any() else np.zeros(count, bool)
    return EntityView(wait, service, lane, total_wait, secondary)


def entity_table(records: Records, layout: Layout, view: EntityView | None = None) -> pd.DataFrame:
    """One row per traveler/vehicle: the ``entities.csv.gz`` contract."""
    view = view or entity_view(records, layout)
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
        table[f"wait_{stage}"] = view.wait[:, index]
        table[f"service_{stage}"] = view.service[:, index]
        table[f"lane_{stage}"] = pool_names[view.lane[:, index]]
    table["wait_total"] = view.total_wait
    table["exit_min"] = records.exit_time
    table["secondary"] = view.secondary
    table["green_channel"] = arrivals.green
    return pd.DataFrame(table)


def occupancy(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Integral over each bin (between ``edges``) of the number of intervals [start, end) open."""
    def integral_of_min(points: np.ndarray) -> np.ndarray:
        points = np.sort(points)
        below = np.searchsorted(points, edges)            # points < edge
        prefix = np.concatenate(([0.0], np.cumsum(points)))
        return prefix[below] + edges * (len(points) - below)
    return np.maximum(np.diff(integral_of_min(ends) - integral_of_min(starts)), 0.0)   # no rounding below 0


def maximum_open(starts: np.ndarray, ends: np.ndarray, window: tuple[float, float]) -> float:
    """Largest number of intervals [start, end) open at once during ``window``.

    The count only rises at a start, so it is enough to look at the window's start and at every
    start inside it (an interval ending at the very moment another starts is not counted).
    """
    if len(starts) == 0:
        return 0.0
    starts, ends = np.sort(starts), np.sort(ends)
    first = np.searchsorted(starts, window[0], side="left")
    last = np.searchsorted(starts, window[1], side="left")
    at_window_start = first - np.searchsorted(ends, window[0], side="right")
    inside = starts[first:last]
    if len(inside) == 0:
        return float(max(at_window_start, 0))
    open_at_starts = np.arange(first + 1, last + 1) - np.searchsorted(ends, inside, side="right")
    return float(max(at_window_start, open_at_starts.max()))


class ReplicationMetrics:
    """Computes the per-replication metric rows for every group of one replication."""

    def __init__(self, records: Records, layout: Layout, scenario: Scenario, view: EntityView | None = None):
        self.records, self.layout, self.scenario = records, layout, scenario
        self.view = view or entity_view(records, layout)
        calendar = scenario.calendar
        self.window = (calendar.warmup_days * MINUTES_PER_DAY, calendar.days * MINUTES_PER_DAY)
        self.measured_days = calendar.days - calendar.warmup_days
        visits = records.visits
        self.wait_start = np.where(np.isnan(visits["start"]), records.end_time, visits["start"])
        self.busy_end = np.minimum(visits["end"], records.end_time)
        arrivals = records.arrivals
        self.in_window = (arrivals.time >= self.window[0]) & (arrivals.time < self.window[1])
        self.exit_in_window = (records.exit_time >= self.window[0]) & (records.exit_time < self.window[1])
        self.groups = self._groups()

    def _groups(self) -> list[tuple[str, np.ndarray | None, int | None]]:
        """(name, entity mask, or None and the stage index for stage groups)."""
        arrivals, layout = self.records.arrivals, self.layout
        groups: list[tuple[str, np.ndarray | None, int | None]] = [("all", np.ones(len(arrivals), bool), None)]
        for index, name in enumerate(layout.class_names):
            groups.append((f"class={name}", arrivals.class_index == index, None))
        for index, name in enumerate(layout.stage_names):
            groups.append((f"stage={name}", None, index))
        for index, name in enumerate(DIRECTIONS):
            mask = arrivals.direction_index == index
            if mask.any():
                groups.append((f"direction={name}", mask, None))
        if any(c.green_channel_share > 0 for c in self.scenario.classes.values()):
            groups.append(("green_channel=eligible", arrivals.green, None))
            groups.append(("green_channel=not_eligible", ~arrivals.green, None))
        dates = day_dates(self.scenario.calendar, self.scenario.calendar.days + 1)
        weekend_day = np.array([date.weekday() >= 5 for date in dates])
        day_index = np.minimum((arrivals.time // MINUTES_PER_DAY).astype(int), len(dates) - 1)
        for label, wanted in (("weekday", False), ("weekend", True)):
            mask = weekend_day[day_index] == wanted
            if (mask & self.in_window).any():
                groups.append((f"day={label}", mask, None))
        return groups

    def _visit_masks(self) -> Iterator[tuple[str, np.ndarray | None, np.ndarray]]:
        """Each group with its visit mask, made one at a time (they are as long as the visit log)."""
        visits = self.records.visits
        for group, entities, stage in self.groups:
            yield group, entities, (visits["stage"] == stage) if entities is None else entities[visits["entity"]]

    def rows(self) -> list[tuple[str, str, float]]:
        """(group, metric, value) for every group."""
        rows: list[tuple[str, str, float]] = []
        for group, entities, visit_mask in self._visit_masks():
            values = self._entity_metrics(entities) if entities is not None else self._stage_metrics(visit_mask)
            values.update(self._queue_metrics(visit_mask))
            if group == "all" or group.startswith("stage="):
                values["utilization"] = self._utilization(group)
            rows.extend((group, metric, float(value)) for metric, value in values.items())
        return rows

    def _wait_stats(self, waits: np.ndarray) -> dict[str, float]:
        if len(waits) == 0:
            return {}
        p50, p90, p95 = np.percentile(waits, [50, 90, 95])
        return {"wait_mean": waits.mean(), "wait_p50": p50, "wait_p90": p90, "wait_p95": p95,
                "wait_max": waits.max(), "share_waiting": np.mean(waits > 0.0),
                "share_wait_over_60min": np.mean(waits > 60.0)}

    def _entity_metrics(self, mask: np.ndarray) -> dict[str, float]:
        records, arrivals = self.records, self.records.arrivals
        finished = ~np.isnan(records.exit_time)
        measured = mask & self.in_window & finished
        values = {"throughput_per_day": np.sum(mask & self.exit_in_window) / self.measured_days,
                  "persons_per_day": np.sum(arrivals.group_size[mask & self.exit_in_window]) / self.measured_days}
        values.update(self._wait_stats(self.view.total_wait[measured]))
        if measured.any():
            values["time_in_system_mean"] = np.mean(records.exit_time[measured] - arrivals.time[measured])
            released = measured & ~np.isnan(records.release_time)
            if released.any():
                values["backlog_time_mean"] = np.mean(records.release_time[released] - arrivals.time[released])
        values["unfinished"] = np.sum(mask & self.in_window & ~finished)
        return values

    def _stage_metrics(self, visit_mask: np.ndarray) -> dict[str, float]:
        visits = self.records.visits
        started = visit_mask & ~np.isnan(visits["start"])
        arrived = started & (visits["arrive"] >= self.window[0]) & (visits["arrive"] < self.window[1])
        ended = started & (visits["end"] >= self.window[0]) & (visits["end"] < self.window[1])
        values = {"throughput_per_day": np.sum(ended) / self.measured_days}
        values.update(self._wait_stats((visits["start"] - visits["arrive"])[arrived]))
        return values

    def _queue_metrics(self, visit_mask: np.ndarray) -> dict[str, float]:
        starts, ends = self.records.visits["arrive"][visit_mask], self.wait_start[visit_mask]
        edges = np.array(self.window)
        return {"queue_length_mean": occupancy(starts, ends, edges)[0] / (edges[1] - edges[0]),
                "queue_length_max": maximum_open(starts, ends, self.window)}

    def _pools_of(self, group: str) -> list[int]:
        if group == "all":
            return list(range(len(self.layout.pool_names)))
        stage = self.layout.stage_names.index(group.split("=", 1)[1])
        return [p for p, s in enumerate(self.layout.pool_stage) if s == stage]

    def _busy_and_open(self, group: str, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Busy booth-minutes and open booth-minutes of a stage (or all) in each bin."""
        pools = self._pools_of(group)
        visits = self.records.visits
        mask = np.isin(visits["pool"], pools) & ~np.isnan(visits["start"])
        busy = occupancy(visits["start"][mask], self.busy_end[mask], edges)
        return busy, sum(booth_minutes(*self.layout.schedules[p], edges) for p in pools)

    def _utilization(self, group: str) -> float:
        busy, open_minutes = self._busy_and_open(group, np.array(self.window))
        return float(busy[0] / open_minutes[0]) if open_minutes[0] > 0 else np.nan

    def hourly_rows(self) -> list[tuple[int, str, str, float]]:
        """(hour of day, group, metric, value): a day's profile averaged over measured days."""
        first_day, days = self.scenario.calendar.warmup_days, self.measured_days
        edges = (first_day * 24 + np.arange(days * 24 + 1)) * 60.0
        visits, arrivals = self.records.visits, self.records.arrivals
        rows: list[tuple[int, str, str, float]] = []
        for group, entities, visit_mask in self._visit_masks():
            if entities is not None:
                times, waits = arrivals.time[entities], self.view.total_wait[entities]
                keep = ~np.isnan(waits)
                per_hour = {"arrivals_per_day": _per_hour_count(arrivals.time[entities], edges, days)}
            else:
                started = visit_mask & ~np.isnan(visits["start"])
                times, waits = visits["arrive"][started], (visits["start"] - visits["arrive"])[started]
                keep = np.ones(len(times), bool)
                per_hour = {"arrivals_per_day": _per_hour_count(visits["arrive"][visit_mask], edges, days)}
            per_hour.update(_per_hour_waits(times[keep], waits[keep], edges))
            queue = occupancy(visits["arrive"][visit_mask], self.wait_start[visit_mask], edges) / 60.0
            per_hour["queue_length_mean"] = queue.reshape(days, 24).mean(axis=0)
            if group == "all" or group.startswith("stage="):
                busy, open_minutes = (a.reshape(days, 24).sum(axis=0) for a in self._busy_and_open(group, edges))
                per_hour["staffed_booths"] = open_minutes / 60.0 / days
                per_hour["utilization"] = np.divide(busy, open_minutes, out=np.full(24, np.nan), where=open_minutes > 0)
            for metric, values in per_hour.items():
                rows.extend((hour, group, metric, float(values[hour])) for hour in range(24))
        return rows


    def timeline_rows(self) -> list[tuple[int, str, str, float]]:
        """(hour since the start, group, metric, value) for ``all`` and each stage, over the whole
        horizon, warm-up included: the mean queue length and the open booths, hour by hour."""
        edges = np.arange(self.scenario.calendar.days * 24 + 1) * 60.0
        visits = self.records.visits
        rows: list[tuple[int, str, str, float]] = []
        for group, entities, stage in self.groups:
            if group != "all" and stage is None:
                continue
            mask = np.ones(len(visits["entity"]), bool) if stage is None else visits["stage"] == stage
            queue = occupancy(visits["arrive"][mask], self.wait_start[mask], edges) / 60.0
            _, open_minutes = self._busy_and_open(group, edges)
            for metric, values in (("queue_length_mean", queue), ("staffed_booths", open_minutes / 60.0)):
                rows.extend((hour, group, metric, float(value)) for hour, value in enumerate(values))
        return rows


def _per_hour_count(times: np.ndarray, edges: np.ndarray, days: int) -> np.ndarray:
    counts, _ = np.histogram(times, bins=edges)
    return counts.reshape(days, 24).mean(axis=0)


def _per_hour_waits(times: np.ndarray, waits: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    inside = (times >= edges[0]) & (times < edges[-1])
    hours = ((times[inside] - edges[0]) // 60.0).astype(int) % 24
    waits = waits[inside]
    mean, p90 = np.full(24, np.nan), np.full(24, np.nan)
    for hour in range(24):
        selected = waits[hours == hour]
        if len(selected):
            mean[hour], p90[hour] = selected.mean(), np.percentile(selected, 90)
    return {"wait_mean": mean, "wait_p90": p90}
