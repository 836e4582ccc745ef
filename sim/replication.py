"""One replication, reduced where it ran: simulate, then metric rows (and entity rows if asked).

This is the default task of :mod:`sim.experiment`: it runs in a worker process and returns only
what the parent aggregates, so an experiment never holds a replication's records.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .metrics import ReplicationMetrics, entity_table, entity_view
from .model import simulate
from .plan import build_layout
from .scenario import Scenario


@dataclass
class ReplicationOutput:
    metrics: list[tuple[str, str, float]]
    hourly: list[tuple[int, str, str, float]]
    entities: pd.DataFrame | None
    timeline: list[tuple[int, str, str, float]] = field(default_factory=list)


def replication_metrics(scenario: Scenario, seed: int, replication: int) -> ReplicationMetrics:
    """Simulate one replication; return the metric layer over its records."""
    layout = build_layout(scenario)
    records = simulate(scenario, seed, replication, layout)
    return ReplicationMetrics(records, layout, scenario, entity_view(records, layout))


def run_replication(scenario: Scenario, seed: int, replication: int, keep_entities: bool = True) -> ReplicationOutput:
    """Simulate one replication and reduce it to metric rows (and entity rows if asked)."""
    metrics = replication_metrics(scenario, seed, replication)
    entities = entity_table(metrics.records, metrics.layout, metrics.view) if keep_entities else None
    return ReplicationOutput(metrics.rows(), metrics.hourly_rows(), entities, metrics.timeline_rows())
