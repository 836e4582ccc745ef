"""Compact recorders: what the model writes while it runs, as typed arrays (no dict per event).

One *visit* is one token served at one stage: an entity, or one member of a group at a
per-person stage. It is logged when service starts (its end is known then); tokens still queued
when the run stops are flushed with a NaN start. Everything downstream (metrics, tables) is
computed from these arrays and the arrivals, after the run.
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from .demand import Arrivals


class VisitLog:
    """Append-only columns of visits, cheap to write in the hot path (int32 ids, float64 times)."""

    def __init__(self) -> None:
        self.entity = array("i")
        self.pool = array("i")
        self.booth = array("i")
        self.arrive = array("d")
        self.start = array("d")
        self.end = array("d")

    def columns(self, pool_stage: list[int]) -> dict[str, np.ndarray]:
        """The log as numpy columns (sharing the log's memory), plus the stage of each visit."""
        columns = {name: np.frombuffer(getattr(self, name), dtype=np.int32 if name in ("entity", "pool", "booth")
                                       else np.float64)
                   for name in ("entity", "pool", "booth", "arrive", "start", "end")}
        columns["stage"] = np.asarray(pool_stage, dtype=np.int32)[columns["pool"]]
        return columns


@dataclass
class Records:
    """Everything one replication produced."""

    replication: int
    arrivals: Arrivals
    visits: dict[str, np.ndarray]   # columns of the VisitLog
    exit_time: np.ndarray           # minutes; NaN if still inside at the end
    release_time: np.ndarray        # cargo: release from the backlog; NaN otherwise
    end_time: float                 # when the run stopped (minutes)
