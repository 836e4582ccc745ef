"""Compact recorders: what the model writes while it runs, as typed arrays (no dict per event).

One *visit* is one token served at one stage: an entity, or one member of a group at a
per-person stage. It is logged when service starts (its end is known then); tokens still queued
when the run stops are flushed with a NaN start. Everything downstream (metrics, tables) is
computed from these arrays and the arrivals, after the run.
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .demand import Arrivals
from .memory import MAPPED, REUSED, large_blocks

if TYPE_CHECKING:
    from .plan import Plan


CHUNK = 1 << 16     # rows per step when deriving a column in pieces
SERVED_OR_INSIDE, BALKED, RENEGED = 0, 1, 2     # what became of an entity (Records.outcome)


large_blocks(MAPPED)    # from this module's import on (later the heap would have grown): see sim.memory


class VisitLog:
    """Append-only columns of visits, cheap to write in the hot path: four appends per visit.

    Only what cannot be derived is stored: the token served (int32; its entity and service time
    follow from the plan), the checkpoint-wide booth number (int32; pool and booth within the pool
    follow from it; ``-1 - pool`` for a token never served), and the queue-join and service-start
    times (float64). :meth:`columns` derives the rest after the run.
    """

    def __init__(self) -> None:
        large_blocks(MAPPED)
        self.token = array("i")
        self.booth = array("i")
        self.arrive = array("d")
        self.start = array("d")
        self.left_row = array("q")      # rows of tokens that left their queue (balked or reneged)...
        self.left_at = array("d")       # ... and when they left
        self.held_row = array("q")      # rows whose booth stayed held after the service (spill-back)...
        self.held_to = array("d")       # ... and when the booth was freed
        self.entered_row = array("q")   # rows of tokens that waited outside a full stage (spill-back)...
        self.entered_at = array("d")    # ... and when they got into its waiting space

    def held(self, row: int, until: float) -> None:
        """Log that the booth of visit ``row`` was held by its token after the service, until ``until``."""
        self.held_row.append(row)
        self.held_to.append(until)

    def entered(self, at: float) -> None:
        """Log that the token of the next row logged entered the stage's waiting space at ``at``,
        later than its ``arrive`` (it was held outside a full stage)."""
        self.entered_row.append(len(self.token))
        self.entered_at.append(at)

    def left(self, token: int, pool: int, arrived: float, at: float) -> None:
        """Log a token that left the queue of ``pool`` at ``at`` without being served."""
        self.left_row.append(len(self.token))
        self.left_at.append(at)
        self.unstarted(token, pool, arrived)

    def unstarted(self, token: int, pool: int, arrived: float) -> None:
        """Log a token still queued when the run stopped (no booth, NaN start)."""
        self.token.append(token)
        self.booth.append(-1 - pool)
        self.arrive.append(arrived)
        self.start.append(np.nan)

    def later(self, plan: Plan, pool_stage: list[int], booth_pool: list[int],
              first_booth: list[int]) -> DeferredColumns:
        """:meth:`columns`, to be derived when first asked for (after the model is gone)."""
        return DeferredColumns(self, plan, pool_stage, booth_pool, first_booth)

    def columns(self, plan: Plan, pool_stage: list[int], booth_pool: list[int],
                first_booth: list[int]) -> dict[str, np.ndarray]:
        """The visit columns of :class:`Records`: entity, pool, booth, arrive, start, end, stage, and
        ``left`` (when a token never served left its queue; NaN otherwise) if any token left,
        ``held_until`` (when a booth held by its token after the service, because the token's next
        stage was full, was freed; NaN if not held) if any booth was held, and ``entered`` (when a
        token held outside a full stage got into its waiting space; NaN if it never waited outside)
        if any token did.

        ``booth_pool[b]`` is the pool of checkpoint-wide booth ``b``, ``first_booth[p]`` the
        checkpoint-wide number of pool ``p``'s booth 0. ``end`` is ``start + service time``, the
        same floating-point addition the model made. The entity column is written over the token
        column of the log: call this once.
        """
        token = np.frombuffer(self.token, dtype=np.int32)
        code = np.frombuffer(self.booth, dtype=np.int32)
        start = np.frombuffer(self.start, dtype=np.float64)
        service = np.frombuffer(plan.service, dtype=np.float64)
        end = np.empty(len(token))
        entity = token                  # written in place of the token, once ``end`` no longer needs it
        booth_pool, first_booth = np.asarray(booth_pool, dtype=np.int32), np.asarray(first_booth, dtype=np.int32)
        stage_of_pool = np.asarray(pool_stage, dtype=np.int32)
        pool = np.empty(len(token), dtype=narrowest(len(first_booth)))
        booth = np.empty(len(token), dtype=narrowest(int(np.max(np.diff(np.append(first_booth, len(booth_pool))),
                                                                  initial=1))))
        stage = np.empty(len(token), dtype=narrowest(max(pool_stage, default=0) + 1))
        for chunk in range(0, len(token), CHUNK):          # chunks: no visit-long temporaries
            part = slice(chunk, chunk + CHUNK)
            np.add(start[part], service[token[part]], out=end[part])
            entity[part] = np.searchsorted(plan.token_offset, token[part], side="right") - 1
            piece = code[part]
            unstarted = piece < 0                           # the few tokens never served
            pools = booth_pool[np.maximum(piece, 0)]
            pools[unstarted] = -1 - piece[unstarted]
            pool[part] = pools
            booths = piece - first_booth[pools]
            booths[unstarted] = -1
            booth[part] = booths
            stage[part] = stage_of_pool[pools]
        columns = {"entity": entity, "pool": pool, "booth": booth,
                   "arrive": np.frombuffer(self.arrive, dtype=np.float64), "start": start, "end": end,
                   "stage": stage}
        for name, rows, times in (("left", self.left_row, self.left_at), ("held_until", self.held_row, self.held_to),
                                  ("entered", self.entered_row, self.entered_at)):
            if len(rows):                                   # only when some token did: no cost otherwise
                columns[name] = np.full(len(token), np.nan)
                columns[name][np.frombuffer(rows, dtype=np.int64)] = np.frombuffer(times, dtype=np.float64)
        return columns


class DeferredColumns:
    """A finished visit log and what :meth:`VisitLog.columns` needs, to derive the columns later:
    holding only the log and the plan, not the model that wrote them, so that the model's memory
    is free again before the columns are made."""

    def __init__(self, log: VisitLog, *tables) -> None:
        self.log, self.tables = log, tables

    def __len__(self) -> int:
        return len(self.log.token)

    def __call__(self) -> dict[str, np.ndarray]:
        return self.log.columns(*self.tables)


def narrowest(bound: int) -> type:
    """The narrowest signed integer type holding -1 ... ``bound``."""
    return next(kind for kind in (np.int8, np.int16, np.int32) if bound <= np.iinfo(kind).max)


@dataclass
class Records:
    """Everything one replication produced."""

    replication: int
    arrivals: Arrivals
    # entity (int32), pool, booth, stage (the narrowest signed integers that hold them: int8 or
    # int16), arrive, start, end (float64); left, held_until, entered
    # (float64) if any token left, held a booth, waited outside a full stage (VisitLog.columns);
    # or the log they are derived from when first asked for (``visits``)
    visit_columns: dict[str, np.ndarray] | DeferredColumns
    exit_time: np.ndarray           # minutes; NaN if still inside at the end
    release_time: np.ndarray        # cargo: release from the backlog; NaN otherwise
    end_time: float                 # when the run stopped (minutes)
    outcome: np.ndarray             # int8 per entity: SERVED_OR_INSIDE, BALKED or RENEGED (left unserved, lost)
    leave_time: np.ndarray          # minutes; when a lost entity left, NaN otherwise
    deferred_stage: np.ndarray      # int32: the stage an entity left, to come back the next day; -1: never
    came_back: np.ndarray           # bool: the deferred entity joined that stage again (its tokens are logged twice)
    yard: dict[str, np.ndarray] | None = None   # rail block only: tracks, waits outside / for the interchange (sim.yard)

    @property
    def visits(self) -> dict[str, np.ndarray]:
        """The visit columns (derived from the log when first asked for)."""
        if isinstance(self.visit_columns, DeferredColumns):
            self.visit_columns = self.visit_columns()
            large_blocks(REUSED)
        return self.visit_columns

    @property
    def visit_count(self) -> int:
        """How many visits were logged (without deriving the columns)."""
        columns = self.visit_columns
        return len(columns) if isinstance(columns, DeferredColumns) else len(columns["entity"])
