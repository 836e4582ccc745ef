"""One replication, reduced where it ran: simulate, then metric rows (and entity rows if asked).

This is the default task of :mod:`sim.experiment`: it runs in a worker process and returns only
what the parent aggregates, so an experiment never holds a replication's records. It also returns
the CPU seconds its two phases took in the worker (``simulate``, ``metrics``), which the run
record sums over replications.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from .metrics import ReplicationMetrics, entity_table, entity_view
from .model import simulate
from .plan import build_layout
from .scenario import Scenario


@dataclass
class ReplicationOutput:
    metrics: list[tuple[str, str, float]]
    hourly: list[tuple[int, str, str, float]]
    entities: pd.DataFrame | pa.Table | None
    timeline: list[tuple[int, str, str, float]] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)      # phase -> CPU seconds in the worker


def replication_metrics(scenario: Scenario, seed: int, replication: int) -> ReplicationMetrics:
    """Simulate one replication; return the metric layer over its records."""
    layout = build_layout(scenario)
    records = simulate(scenario, seed, replication, layout)
    return ReplicationMetrics(records, layout, scenario, entity_view(records, layout))


def run_replication(scenario: Scenario, seed: int, replication: int,
                    keep_entities: bool | str = True) -> ReplicationOutput:
    """Simulate one replication and reduce it to metric rows (and entity rows if asked: a
    DataFrame, or with ``keep_entities="arrow"`` the pyarrow Table the entity file is written
    from, converted here rather than in the process that writes it)."""
    started = time.process_time()
    layout = build_layout(scenario)
    records = simulate(scenario, seed, replication, layout)
    simulated = time.process_time()
    metrics = ReplicationMetrics(records, layout, scenario, entity_view(records, layout, bool(keep_entities)))
    entities = entity_table(metrics.records, metrics.layout, metrics.view) if keep_entities else None
    if keep_entities == "arrow":
        entities = pa.Table.from_pandas(entities, preserve_index=False)
    output = ReplicationOutput(metrics.rows(), metrics.hourly_rows(), entities, metrics.timeline_rows())
    output.cpu_s = {"simulate": simulated - started, "metrics": time.process_time() - simulated}
    return output
