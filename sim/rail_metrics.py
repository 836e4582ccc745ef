"""Rail metrics: what the rail model's records say about trains (docs/outputs.md, "Rail").

Pure functions of one replication's :class:`~sim.records.Records` (with the yard's log,
:mod:`sim.yard`) and its :class:`~sim.plan.Layout`; :class:`sim.metrics.ReplicationMetrics`
adds their rows to the summary and the timeline. Per train (an entity of a ``train_<type>``
class): the *dwell* at the border (from arrival at the first station, waiting outside
included, until leaving the last), the waits outside full stations and for the interchange
limit, and its wait at each station stage before its first service there (the wait for a free
track booth, crane or exchange line). Per station: the share of track time held. The *binding
constraint* is the component with the largest mean wait per train (:func:`binding_constraint`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .calendar import MINUTES_PER_DAY
from .conservation import daily_balance
from .groups import EVERYONE, Group
from .plan import Layout
from .records import Records
from .scenario.schema import DIRECTIONS
from .yard import INTERCHANGE, OUTSIDE

RAIL_WAITS = ("rail_outside_wait_mean_h", "rail_stage_wait_mean_h", "rail_interchange_wait_mean_h")
TRAIN_METRICS = ["rail_dwell_mean_h", "rail_dwell_p90_h", "rail_outside_wait_mean_h", "rail_interchange_wait_mean_h",
                 "rail_trains_per_day", "rail_containers_per_day", "rail_wagons_per_day", "rail_backlog_mean",
                 "rail_backlog_end"]                  # per everyone and direction: tables of the console and report
STATION_METRICS = ["rail_outside_wait_mean_h", "rail_track_utilization", "rail_stage_wait_mean_h", "utilization"]


def has_rail(summary: pd.DataFrame | None) -> bool:
    """Whether a results summary comes from a run of the rail model."""
    return summary is not None and bool((summary["metric"] == "rail_trains_per_day").any())


def station_stage_groups(summary: pd.DataFrame) -> list[str]:
    """The stage groups of the rail stations (those with a train wait), in summary order."""
    return list(dict.fromkeys(summary.loc[summary["metric"] == "rail_stage_wait_mean_h", "group"]))


def is_train(records: Records, layout: Layout) -> np.ndarray:
    """Which entities are trains."""
    return np.isin(records.arrivals.class_index, layout.rail.train_classes)


def rail_waits(records: Records, kind: int, places: int) -> np.ndarray:
    """Minutes each entity waited of ``kind`` (OUTSIDE per station, INTERCHANGE per direction):
    an (entities x places) array; a wait still going at the end counts until then."""
    yard, count = records.yard, len(records.arrivals)
    waits = np.zeros((count, places))
    chosen = yard["wait_kind"] == kind
    end = np.where(np.isnan(yard["wait_end"]), records.end_time, yard["wait_end"])
    np.add.at(waits, (yard["wait_entity"][chosen], yard["wait_place"][chosen]), (end - yard["wait_start"])[chosen])
    return waits


def stage_waits(records: Records, stages: list[int]) -> np.ndarray:
    """Minutes each entity waited at each of ``stages`` before its first service there (an
    entities x stages array; NaN where it did not come)."""
    visits, count = records.visits, len(records.arrivals)
    waits = np.full((count, len(stages)), np.nan)
    start = np.where(np.isnan(visits["start"]), records.end_time, visits["start"])
    for column, stage in enumerate(stages):
        at = visits["stage"] == stage
        entity = visits["entity"][at]
        first_start = np.full(count, np.inf)
        np.minimum.at(first_start, entity, start[at])
        arrived = np.full(count, np.inf)
        np.minimum.at(arrived, entity, visits["arrive"][at])
        came = np.isfinite(arrived)
        waits[came, column] = first_start[came] - arrived[came]
    return waits


def dwell_minutes(records: Records) -> np.ndarray:
    """Per entity: minutes from arrival at the border to leaving its last station (NaN if not out)."""
    return records.exit_time - records.arrivals.time


def _mean_hours(values: np.ndarray) -> float:
    return float(np.mean(values) / 60.0) if len(values) else np.nan


def rail_rows(records: Records, layout: Layout, window: tuple[float, float]) -> list[tuple[str, str, float]]:
    """(group, metric, value) rows of the rail metrics: for everyone (``all``: the trains) and each
    direction the dwell, the waits, trains and units a day and the backlog; per station stage its
    trains' wait and (at a station's documents stage) the track utilization."""
    rail, arrivals = layout.rail, records.arrivals
    trains = is_train(records, layout)
    arrived = trains & (arrivals.time >= window[0]) & (arrivals.time < window[1])
    exited = trains & (records.exit_time >= window[0]) & (records.exit_time < window[1])
    days = (window[1] - window[0]) / MINUTES_PER_DAY
    dwell = dwell_minutes(records)
    outside = rail_waits(records, OUTSIDE, len(rail.tracks))
    interchange = rail_waits(records, INTERCHANGE, len(DIRECTIONS)).sum(axis=1)
    containers = arrivals.containers if arrivals.containers is not None else np.zeros(len(arrivals), np.int64)
    wagons = arrivals.wagons if arrivals.wagons is not None else np.zeros(len(arrivals), np.int64)
    rows = []
    groups = [(str(EVERYONE), np.ones(len(arrivals), bool))] + [
        (str(Group("direction", name)), arrivals.direction_index == index) for index, name in enumerate(DIRECTIONS)]
    for name, members in groups:
        came, left = arrived & members, exited & members
        if not came.any() and not left.any():
            continue
        finished = dwell[left]
        values = {
            "rail_dwell_mean_h": _mean_hours(finished),
            "rail_dwell_p90_h": float(np.percentile(finished, 90) / 60.0) if len(finished) else np.nan,
            "rail_outside_wait_mean_h": _mean_hours(outside[came].sum(axis=1)),
            "rail_interchange_wait_mean_h": _mean_hours(interchange[came]),
            "rail_trains_per_day": left.sum() / days,
            "rail_containers_per_day": containers[left].sum() / days,
            "rail_wagons_per_day": wagons[left].sum() / days,
            "rail_backlog_mean": backlog_mean(records, window, members),
            "rail_backlog_end": backlog_at(records, window[1], members),
        }
        rows.extend((name, metric, float(value)) for metric, value in values.items())
    station_stages = [s for s, station in enumerate(rail.station_of_stage) if station >= 0]
    waits = stage_waits(records, station_stages)
    held = track_minutes(records, window, len(rail.tracks))
    for column, stage in enumerate(station_stages):
        group = str(Group("stage", layout.stage_names[stage]))
        at = waits[arrived, column]
        at = at[~np.isnan(at)]
        if len(at):
            rows.append((group, "rail_stage_wait_mean_h", _mean_hours(at)))
        station = rail.station_of_stage[stage]
        if stage == min(s for s in station_stages if rail.station_of_stage[s] == station):
            rows.append((group, "rail_outside_wait_mean_h", _mean_hours(outside[arrived, station])))
            rows.append((group, "rail_track_utilization", held[station] / (rail.tracks[station] * (window[1] - window[0]))))
    return rows


def _clipped(start: np.ndarray, end: np.ndarray, end_time: float, window: tuple[float, float]) -> np.ndarray:
    """Minutes of each interval [start, end) (end NaN: until ``end_time``) inside ``window``."""
    end = np.where(np.isnan(end), end_time, end)
    return np.clip(np.minimum(end, window[1]) - np.maximum(start, window[0]), 0.0, None)


def track_minutes(records: Records, window: tuple[float, float], stations: int) -> np.ndarray:
    """Track-minutes held at each station inside ``window``."""
    yard = records.yard
    held = np.zeros(stations)
    np.add.at(held, yard["track_station"], _clipped(yard["track_start"], yard["track_end"], records.end_time, window))
    return held


def backlog_mean(records: Records, window: tuple[float, float], members: np.ndarray) -> float:
    """Time-average number of trains (of ``members``) waiting outside or for the interchange."""
    yard = records.yard
    chosen = members[yard["wait_entity"]]
    minutes = _clipped(yard["wait_start"][chosen], yard["wait_end"][chosen], records.end_time, window)
    return float(minutes.sum() / (window[1] - window[0]))


def backlog_at(records: Records, time: float, members: np.ndarray) -> float:
    """Trains (of ``members``) waiting outside or for the interchange at ``time``."""
    yard = records.yard
    end = np.where(np.isnan(yard["wait_end"]), np.inf, yard["wait_end"])
    waiting = (yard["wait_start"] <= time) & (end > time) & members[yard["wait_entity"]]
    return float(waiting.sum())


def rail_timeline_rows(records: Records, days: int) -> list[tuple[int, str, str, float]]:
    """(hour since the start, ``all``, ``rail_backlog``, trains waiting outside or for the
    interchange, time-averaged over the hour), over the whole horizon."""
    every = np.ones(len(records.arrivals), bool)
    return [(hour, str(EVERYONE), "rail_backlog",
             backlog_mean(records, (60.0 * hour, 60.0 * (hour + 1)), every)) for hour in range(days * 24)]


def rail_hourly_rows(records: Records, first_day: int, days: int) -> list[tuple[int, str, str, float]]:
    """(hour of day, ``all``, ``rail_backlog``, trains waiting outside or for the interchange in that
    hour, averaged over the ``days`` measured days from ``first_day``)."""
    every = np.ones(len(records.arrivals), bool)
    hours = np.array([[backlog_mean(records, (60.0 * (24 * day + hour), 60.0 * (24 * day + hour + 1)), every)
                       for hour in range(24)] for day in range(first_day, first_day + days)])
    return [(hour, str(EVERYONE), "rail_backlog", float(hours[:, hour].mean())) for hour in range(24)] if days else []


def yard_balance(records: Records, layout: Layout, days: int) -> pd.DataFrame:
    """Units (containers or wagons) per day: in (a train gets its first track), out (it leaves its
    last station), and the yard's own count at each day's end (:func:`sim.conservation.daily_balance`)."""
    yard, trains = records.yard, is_train(records, layout)
    units = records.arrivals.group_size
    entered = trains & ~np.isnan(yard["first_in"])
    left = trains & ~np.isnan(records.exit_time)
    return daily_balance(yard["first_in"][entered], units[entered], records.exit_time[left], units[left], days,
                         yard["stock_at_day_end"][:days])


class Binding(NamedTuple):
    """The component trains waited most for."""

    what: str          # e.g. "tracks at dostyk (waiting outside)", "stage dostyk_transshipment"
    hours: float       # mean wait per train there
    group: str         # the summary row it comes from
    metric: str


def binding_constraint(summary: pd.DataFrame) -> Binding | None:
    """The component trains waited most for, from a summary table (columns ``group``, ``metric``,
    ``mean``): a station's tracks (waiting outside), a station stage (its booths, cranes or lines)
    or the interchange limit of a direction; None without rail."""
    at_stage = summary["metric"].isin(RAIL_WAITS[:2]) & summary["group"].str.startswith("stage=")
    at_gate = (summary["metric"] == RAIL_WAITS[2]) & summary["group"].str.startswith("direction=")
    rows = summary[at_stage | at_gate]
    if rows.empty:
        return None
    best = rows.loc[rows["mean"].idxmax()]
    where = best["group"].split("=", 1)[1]
    what = {"rail_outside_wait_mean_h": f"tracks at {where.removesuffix('_documents')} (waiting outside)",
            "rail_stage_wait_mean_h": f"stage {where}",
            "rail_interchange_wait_mean_h": f"interchange limit {where}"}[best["metric"]]
    return Binding(what, float(best["mean"]), best["group"], best["metric"])
