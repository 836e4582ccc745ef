"""Replications: seeds, worker processes, aggregation into the results tables.

``run`` simulates a scenario ``replications`` times. Replication ``r`` draws only from streams
spawned from ``(seed, r)`` (see :mod:`sim.streams`), so the numbers are the same whatever the
number of worker processes. Each replication is reduced to metric rows (and, if kept, entity
rows) where it ran; the tables are then put together in replication order. A run that streams
its entity rows (``entity_sink``) has each replication send them compressed, with the small
reduction the two entity figures draw (:class:`EntityFigures`), so the process that writes the
entity table never holds more than one replication's rows decoded.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc

from .calendar import MINUTES_PER_DAY
from .catalogue import unit
from .diagnostics import run_warnings
from .executors import Executor
from .memory import return_freed_memory, use_system_allocator
from .metrics import measurement_window
from .experiment import collect_replications, start_replications
from . import replication as one_replication
from .replication import ReplicationOutput, replication_metrics, run_replication  # noqa: F401  (re-exported)
from .scenario import Scenario, load_scenario
from .stats import summarize_replications

SUMMARY_COLUMNS = ["group", "metric", "mean", "ci_low", "ci_high", "unit"]
EntitySink = Callable[[pa.Table], None]      # takes one replication's entity rows, in replication order


@dataclass
class PhaseClock:
    """Wall time of a run's phases in this process, from the moment the clock is made."""

    started: float = field(default_factory=time.perf_counter)
    phases: dict[str, float] = field(default_factory=dict)      # phase -> wall seconds, in order

    @contextmanager
    def phase(self, name: str, began: float | None = None) -> Iterator[None]:
        """Time the block as phase ``name`` (added to it if timed before), from ``began``
        (a ``time.perf_counter()`` reading: the phase began before the block) or the block's start."""
        began = time.perf_counter() if began is None else began
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - began

    def record(self) -> dict[str, Any]:
        """``phases_s`` (each phase's wall seconds) and ``total_wall_s`` (since the clock was made)."""
        return {"phases_s": {name: round(seconds, 3) for name, seconds in self.phases.items()},
                "total_wall_s": round(time.perf_counter() - self.started, 3)}


@dataclass
class Results:
    """What a run produced: pandas tables plus the scenario and run facts that reproduce it."""

    scenario: Scenario
    summary: pd.DataFrame
    hourly: pd.DataFrame
    entities: pd.DataFrame | None
    info: dict[str, Any] = field(default_factory=dict)
    timeline: pd.DataFrame | None = None     # hour since the start x (all, stages): queue, open booths
    entity_figures: "EntityFigures | None" = None   # what the entity figures draw, when the rows are not kept
    clock: PhaseClock = field(default_factory=PhaseClock, repr=False, compare=False)   # phases timed so far

    def metric(self, metric: str, group: str = "all") -> float:
        """The mean of ``metric`` for ``group`` (e.g. ``results.metric("wait_mean", "class=car")``)."""
        row = self.summary[(self.summary["group"] == group) & (self.summary["metric"] == metric)]
        if row.empty:
            raise KeyError(f"no metric {metric!r} for group {group!r}")
        return float(row["mean"].iloc[0])


def run(scenario: Scenario | str | os.PathLike | dict, replications: int | None = None, seed: int | None = None,
        workers: int = 1, keep_entities: bool = True, progress: bool | None = None,
        executor: str | Executor = "local", scheduler: str | None = None,
        entity_sink: EntitySink | None = None, days: int | None = None) -> Results:
    """Run ``scenario`` and return its results (tables as pandas DataFrames).

    ``replications`` and ``seed`` default to the scenario's ``run`` block; ``days`` (like the
    command line's ``--days``) sets the total simulated days, the warm-up days included, so it
    must be more than ``calendar.warmup_days`` (default: the scenario's ``calendar.days``). ``workers`` > 1 runs
    replications on a local process pool (``executor="dask"``: on the Dask cluster at
    ``scheduler``; or an :class:`~sim.executors.Executor` already made); the numbers do not
    depend on it. ``progress`` shows a progress bar (default: only when stderr is a terminal).
    ``entity_sink`` (with ``keep_entities``) is handed each replication's entity rows (a pyarrow
    Table, converted and compressed in the worker, decoded here one at a time) in replication
    order as soon as they and those before them have arrived, and they are not kept
    (``Results.entities`` is None; ``Results.entity_figures`` has what the entity figures need):
    this process then holds, besides the one being handed over, only the compressed rows of
    replications that finished before an earlier one (and Arrow allocates with malloc in this
    process from then on: :func:`sim.memory.use_system_allocator`).
    """
    with start_run(scenario, replications, seed, workers, keep_entities, progress, executor, scheduler,
                   streamed=keep_entities and entity_sink is not None, days=days) as started:
        return started.finish(entity_sink)


def start_run(scenario: Scenario | str | os.PathLike | dict, replications: int | None = None, seed: int | None = None,
              workers: int = 1, keep_entities: bool = True, progress: bool | None = None,
              executor: str | Executor = "local", scheduler: str | None = None, streamed: bool = False,
              days: int | None = None) -> "StartedRun":
    """:func:`run` in two steps: the replications submitted now (on a pool they run at once), the
    results put together by :meth:`StartedRun.finish`, meanwhile this process is free (e.g. to
    import what it does next: ``checkpoint-sim run`` imports the publishing layer then).
    ``streamed`` (with ``keep_entities``): the entity rows go to the ``entity_sink`` that
    ``finish`` is given, as in :func:`run`. The clock and ``wall_time_s`` start here. A context
    manager: leaving it before ``finish`` (an error) closes what ``finish`` would have."""
    return StartedRun(scenario, replications, seed, workers, keep_entities and streamed, keep_entities, progress,
                      executor, scheduler, days)


class StartedRun:
    """A run whose replications are submitted (:func:`start_run`); :meth:`finish` collects them."""

    def __init__(self, scenario: Scenario | str | os.PathLike | dict, replications: int | None, seed: int | None,
                 workers: int, streamed: bool, keep_entities: bool, progress: bool | None,
                 executor: str | Executor, scheduler: str | None, days: int | None):
        self.clock = PhaseClock()
        self.scenario = load_scenario(scenario, {"calendar.days": days} if days is not None else None)
        self.replications = self.scenario.run.replications if replications is None else int(replications)
        self.seed = self.scenario.run.seed if seed is None else int(seed)
        self.workers, self.streamed, self.keep_entities = workers, streamed, keep_entities
        if streamed:
            use_system_allocator()             # the decoded rows and their Parquet encoding: ~10 MiB lower peaks
        self.finished = False
        self.runner = start_replications({self.scenario.name: self.scenario}, self.replications, self.seed, workers,
                                         executor, scheduler, self.scenario.name, progress,
                                         task=streamed_replication if streamed else None,
                                         args=() if streamed else (keep_entities,))
        self.executor = executor if isinstance(executor, Executor) else None     # one handed in, still open after

    def finish(self, entity_sink: EntitySink | None = None) -> Results:
        """Wait for the replications and put their results together (``entity_sink``: see :func:`run`;
        required when the run was started ``streamed``)."""
        if self.finished:
            raise RuntimeError("this run is finished or closed already")
        if self.streamed and entity_sink is None:
            raise ValueError("a run started streamed needs an entity_sink")
        scenario, clock, figures = self.scenario, self.clock, []
        if not self.runner.executor.runs_meanwhile:      # nothing has run yet: the replications start now
            self.runner.started = time.perf_counter()

        def hand_over(entities: StreamedEntities) -> None:
            figures.append(entities.figures)
            return_freed_memory()           # what the rows before these left, before these are decoded
            entity_sink(entities.table())

        with clock.phase("replications", began=self.runner.started):   # the span of wall_time_s
            self.finished = True
            outputs, record = collect_replications(self.runner, self.seed, self.replications, self.workers,
                                                   arrived=InOrder(hand_over) if self.streamed else None)
        ordered = outputs[scenario.name]
        with clock.phase("aggregate"):
            summary = summary_table(ordered)
            results = Results(scenario=scenario, summary=summary, hourly=hourly_table(ordered),
                              timeline=hourly_table(ordered, "timeline"),
                              entities=entity_rows(ordered) if self.keep_entities and not self.streamed else None,
                              entity_figures=EntityFigures.combine(figures) if self.streamed else None,
                              clock=clock, info={**record, "worker_cpu_s": worker_cpu(ordered),
                                                 "scenario": scenario.name,
                                                 "warnings": run_warnings(scenario, summary, self.replications)})
        return results

    def __enter__(self) -> "StartedRun":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if not self.finished:                  # finish closes the replications itself
            self.finished = True
            self.runner.__exit__(kind, error, traceback)


class InOrder:
    """Hands each replication's entity rows to ``sink`` in replication order, as soon as they and
    every earlier replication's have arrived (outputs arrive in any order), and drops them from
    the output: the numbers and the bytes written do not depend on the order of completion."""

    def __init__(self, sink: EntitySink):
        self.sink = sink
        self.next = 0
        self.waiting: dict[int, ReplicationOutput] = {}

    def __call__(self, key: Hashable, replication: int, output: ReplicationOutput) -> None:
        self.waiting[replication] = output
        while self.next in self.waiting:
            ready = self.waiting.pop(self.next)
            self.sink(ready.entities)
            ready.entities = None
            self.next += 1


FIGURE_ENTITY_COLUMNS = ("replication", "class", "arrival_min", "release_min", "wait_total", "exit_min")
"""The entity columns the run's entity figures are drawn from (through :class:`EntityFigures`)."""


def _column(entities: pd.DataFrame | pa.Table, name: str, dtype: Any) -> np.ndarray:
    names = entities.column_names if isinstance(entities, pa.Table) else entities.columns
    if name not in names:
        return np.full(len(entities), np.nan) if dtype is float else np.zeros(len(entities), dtype)
    return np.asarray(entities[name].to_numpy(), dtype=dtype)


@dataclass
class EntityFigures:
    """What the wait ECDF and the daily throughput of a run are drawn from, reduced from its entity
    rows (:meth:`of`, in the worker that ran a replication, or from a whole entity table) and put
    together over replications (:meth:`combine`): a few MB for a run of 565,000 entities, and the
    same figures as from the rows themselves."""

    window: tuple[float, float] | None      # arrival window (minutes) the waits and backlog times are of
    rows: int                                # entity rows reduced
    replications: np.ndarray                 # the replications of the rows, ascending
    classes: list[str]                       # every class, in order of first appearance
    waits: dict[str, np.ndarray]             # class -> sorted total waits of the finished entities arriving in
    #                                          the window, classes in order of first appearance among them
    released: dict[str, tuple[float, int]]   # class -> sum and count of (release - arrival) minutes of the
    #                                          entities arriving in the window with a release (cargo backlog)
    exits: dict[str, np.ndarray]             # class -> exits per replication (row) and day of exit (column)

    @property
    def days(self) -> int:
        """Days from the start to the last day with an exit (0 if nobody exited)."""
        return max((counts.shape[1] for counts in self.exits.values()), default=0)

    @classmethod
    def of(cls, entities: pd.DataFrame | pa.Table, window: tuple[float, float] | None = None) -> "EntityFigures":
        """The reduction of entity rows (any replications, in replication order) of
        :data:`FIGURE_ENTITY_COLUMNS`, the waits of those arriving in ``window`` (None: all)."""
        replication = _column(entities, "replication", np.int64)
        codes, names = pd.factorize(_column(entities, "class", object))        # in order of first appearance
        names = [str(name) for name in names]
        arrival, release, wait, exit_min = (_column(entities, name, float)
                                            for name in ("arrival_min", "release_min", "wait_total", "exit_min"))
        measured = np.ones(len(arrival), bool) if window is None else (arrival >= window[0]) & (arrival < window[1])
        waited = measured & ~np.isnan(wait)
        waits = {names[code]: np.sort(wait[waited & (codes == code)]) for code in pd.unique(codes[waited])}
        released = {}
        backlog = measured & ~np.isnan(release)
        for code in pd.unique(codes[backlog]):
            minutes = (release - arrival)[backlog & (codes == code)]
            released[names[code]] = (float(minutes.sum()), len(minutes))
        replications = np.unique(replication)
        finished = ~np.isnan(exit_min)
        day = (exit_min[finished] // MINUTES_PER_DAY).astype(np.int64)
        days = int(day.max()) + 1 if len(day) else 0
        cell = np.searchsorted(replications, replication[finished]) * days + day     # replication x day of exit
        exits = {name: np.bincount(cell[codes[finished] == code], minlength=len(replications) * days)
                 .reshape(len(replications), days) for code, name in enumerate(names)}
        return cls(window, len(replication), replications, names, waits, released, exits)

    @classmethod
    def combine(cls, parts: Sequence["EntityFigures"]) -> "EntityFigures":
        """The reduction of the rows of every part (each of other replications), in the order given."""
        if not parts:
            return cls(None, 0, np.zeros(0, np.int64), [], {}, {}, {})
        if len({part.window for part in parts}) > 1:
            raise ValueError("entity figures of different windows cannot be combined")
        replications = np.concatenate([part.replications for part in parts])
        order = np.argsort(replications, kind="stable")
        days = max(part.days for part in parts)
        classes = list(dict.fromkeys(name for part in parts for name in part.classes))

        def exits(part: EntityFigures, name: str) -> np.ndarray:
            counts = part.exits.get(name, np.zeros((len(part.replications), 0), np.int64))
            return np.pad(counts, ((0, 0), (0, days - counts.shape[1])))

        released: dict[str, tuple[float, int]] = {}
        for part in parts:
            for name, (total, count) in part.released.items():
                before = released.get(name, (0.0, 0))
                released[name] = (before[0] + total, before[1] + count)
        waited = dict.fromkeys(name for part in parts for name in part.waits)
        return cls(parts[0].window, sum(part.rows for part in parts), replications[order], classes,
                   {name: np.sort(np.concatenate([part.waits[name] for part in parts if name in part.waits]))
                    for name in waited}, released,
                   {name: np.concatenate([exits(part, name) for part in parts])[order] for name in classes})


@dataclass
class StreamedEntities:
    """One replication's entity rows as a worker sends them: an Arrow IPC stream compressed with
    LZ4 (a third of the table's size; zstd would make it a quarter at twice the time) and their
    :class:`EntityFigures`."""

    compressed: bytes
    figures: EntityFigures

    @classmethod
    def of(cls, table: pa.Table, window: tuple[float, float]) -> "StreamedEntities":
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="lz4")) as writer:
            writer.write_table(table)
        return cls(sink.getvalue().to_pybytes(), EntityFigures.of(table, window))

    def table(self) -> pa.Table:
        """The rows again, the very table the worker sent (schema, metadata and chunks), once: the
        compressed bytes are dropped as soon as they are decoded (not held while the rows are
        written)."""
        compressed, self.compressed = self.compressed, b""
        return pa.ipc.open_stream(pa.py_buffer(compressed)).read_all()


def streamed_replication(scenario: Scenario, seed: int, replication: int) -> ReplicationOutput:
    """:func:`run_replication` with the entity rows as :class:`StreamedEntities` (the task of a
    run that streams its entity table), with one allocator for Arrow and the rest, and freed
    memory given back before the replication and before its rows are compressed: the worker
    peaks no higher than one replication's metrics do."""
    use_system_allocator()
    return_freed_memory()               # what sending the previous replication's output left
    output = one_replication.run_replication(scenario, seed, replication, "arrow")   # looked up when called
    return_freed_memory()
    output.entities = StreamedEntities.of(output.entities, measurement_window(scenario))
    return output


def entity_rows(outputs: list[ReplicationOutput]) -> pd.DataFrame:
    """The entity rows of every replication, in replication order, as one table."""
    tables = [output.entities for output in outputs]
    return tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)


def worker_cpu(outputs: Iterable[ReplicationOutput]) -> dict[str, float]:
    """CPU seconds of each phase of the replications (``simulate``, ``metrics``), summed over them."""
    totals: dict[str, float] = {}
    for output in outputs:
        for phase, seconds in output.cpu_s.items():
            totals[phase] = totals.get(phase, 0.0) + seconds
    return {phase: round(seconds, 3) for phase, seconds in totals.items()}


def replication_table(outputs: Iterable[ReplicationOutput]) -> pd.DataFrame:
    """One row per replication, group and metric: the values the summary's CIs come from."""
    rows = [(r, *row) for r, output in enumerate(outputs) for row in output.metrics]
    return pd.DataFrame(rows, columns=["replication", "group", "metric", "value"])


def summary_table(outputs: Iterable[ReplicationOutput]) -> pd.DataFrame:
    """Tidy summary: group, metric, mean, ci_low, ci_high, unit (95 % t CIs across replications)."""
    summary = summarize_replications(replication_table(outputs), ["group", "metric"])
    summary["unit"] = summary["metric"].map(unit)
    return summary[SUMMARY_COLUMNS]


def hourly_table(outputs: Iterable[ReplicationOutput], attribute: str = "hourly") -> pd.DataFrame:
    """Hour x group, one column per metric with its CI columns: hour of day (``hourly``), or hours
    since the start of the horizon (``attribute="timeline"``)."""
    rows = [(r, *row) for r, output in enumerate(outputs) for row in getattr(output, attribute)]
    per_replication = pd.DataFrame(rows, columns=["replication", "hour", "group", "metric", "value"])
    summary = summarize_replications(per_replication, ["hour", "group", "metric"])
    wide = summary.pivot(index=["group", "hour"], columns="metric", values=["mean", "ci_low", "ci_high"])
    table = pd.DataFrame(index=wide.index)
    for metric in summary["metric"].unique():
        table[metric] = wide["mean", metric]
        table[f"{metric}_ci_low"] = wide["ci_low", metric]
        table[f"{metric}_ci_high"] = wide["ci_high", metric]
    groups = list(dict.fromkeys(summary["group"]))
    table = table.reset_index()
    table["group"] = pd.Categorical(table["group"], categories=groups, ordered=True)
    table = table.sort_values(["group", "hour"]).reset_index(drop=True)
    table["group"] = table["group"].astype(str)
    return table[["hour", "group", *[c for c in table.columns if c not in ("hour", "group")]]]
