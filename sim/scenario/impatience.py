"""The impatience sub-models of the scenario schema: how a stage balks arrivals.

A stage's ``balking`` block says when an arrival turns away before joining the queue, beyond a
full ``queue_capacity``: with a probability that rises with the queue it sees
(``by_queue``: a piecewise-linear list of ``[queue_length, probability]`` points), and/or when the
wait the crossing announces (``by_announced_wait``: the mean wait of the last ``last`` tokens that
started service at the stage) exceeds the traveller's patience or a stated threshold. The model
is in :mod:`sim.model`; docs/scenario.md ("Impatience") describes it.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from .base import Strict
from .distributions import Duration, Probability

BOARD_TOKENS_MAX = 10_000       # tokens averaged by a wait-time board
QUEUE_POINTS_MAX = 100          # points of a by_queue balking curve

class AnnouncedWait(Strict):
    """A wait-time board: the mean wait (minutes, from joining the stage's queue to service start)
    of the last ``last`` tokens that started service at the stage; an arrival balks when it
    exceeds ``threshold``, or, without a threshold, the arrival's own (remaining) patience."""

    last: int = Field(ge=1, le=BOARD_TOKENS_MAX)
    threshold: Duration | None = None


class Balking(Strict):
    """When an arrival at a stage turns away (where it may leave), besides a full queue."""

    by_queue: list[tuple[Annotated[int, Field(ge=0)], Probability]] = Field(
        default=[], max_length=QUEUE_POINTS_MAX)
    by_announced_wait: AnnouncedWait | None = None

    @field_validator("by_queue")
    @classmethod
    def _increasing(cls, points: list[tuple[int, float]]) -> list[tuple[int, float]]:
        lengths = [length for length, _ in points]
        if any(b <= a for a, b in zip(lengths, lengths[1:])):
            raise ValueError(f"expected [queue_length, probability] points with increasing queue lengths, got {lengths}")
        return points

    def probability(self, queue: int) -> float:
        """The chance of balking in front of ``queue`` waiting tokens: linear between the points,
        the first point's below it and the last one's beyond it (0 without points)."""
        points = self.by_queue
        if not points:
            return 0.0
        if queue <= points[0][0]:
            return points[0][1]
        for (x0, p0), (x1, p1) in zip(points, points[1:]):
            if queue <= x1:
                return p0 + (p1 - p0) * (queue - x0) / (x1 - x0)
        return points[-1][1]
