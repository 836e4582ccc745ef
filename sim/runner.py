"""Replications: seeds, worker processes, aggregation into the results tables.

``run`` simulates a scenario ``replications`` times. Replication ``r`` draws only from streams
spawned from ``(seed, r)`` (see :mod:`sim.streams`), so the numbers are the same whatever the
number of worker processes. Each replication is reduced to metric rows (and, if kept, entity
rows) where it ran; the tables are then put together in replication order.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Iterator

import pandas as pd
import pyarrow as pa

from .catalogue import unit
from .diagnostics import run_warnings
from .executors import Executor
from .experiment import run_replications
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
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as phase ``name`` (added to it if timed before)."""
        began = time.perf_counter()
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
    Table, converted in the worker) in replication order as soon as they and those before them
    have arrived, and they are not kept (``Results.entities`` is None): this process then holds
    at most the rows of replications that finished before an earlier one.
    """
    clock = PhaseClock()
    scenario = load_scenario(scenario, {"calendar.days": days} if days is not None else None)
    replications = scenario.run.replications if replications is None else int(replications)
    seed = scenario.run.seed if seed is None else int(seed)
    streamed = InOrder(entity_sink) if keep_entities and entity_sink is not None else None
    with clock.phase("replications"):
        outputs, record = run_replications({scenario.name: scenario}, replications, seed, workers, executor,
                                           scheduler, scenario.name, progress,
                                           args=("arrow" if streamed else keep_entities,),
                                           arrived=streamed)
    ordered = outputs[scenario.name]
    with clock.phase("aggregate"):
        summary = summary_table(ordered)
        results = Results(scenario=scenario, summary=summary, hourly=hourly_table(ordered),
                          timeline=hourly_table(ordered, "timeline"),
                          entities=entity_rows(ordered) if keep_entities and streamed is None else None,
                          clock=clock, info={**record, "worker_cpu_s": worker_cpu(ordered), "scenario": scenario.name,
                                             "warnings": run_warnings(scenario, summary, replications)})
    return results


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
