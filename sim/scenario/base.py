"""What every part of the scenario schema builds on: the strict base model, the weekday names and
the one day filter."""
from __future__ import annotations

import datetime as dt
from typing import Literal, Sequence, Union

from pydantic import BaseModel, ConfigDict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DaySelection = Union[Literal["all", "weekday", "weekend"], Sequence[str]]   # or a list of WEEKDAYS


def day_matches(days: DaySelection, date: dt.date) -> bool:
    """Whether ``date`` is one of ``days``: every day, weekdays (Mon-Fri), weekends, or named weekdays.
    The one day filter of booth rules, calibration targets and the day groups of the results."""
    if days == "all":
        return True
    if days == "weekday":
        return date.weekday() < 5
    if days == "weekend":
        return date.weekday() >= 5
    return WEEKDAYS[date.weekday()] in days


class Strict(BaseModel):
    """Base: unknown keys are errors, instances are immutable, and numbers are finite
    (``.nan``, ``.inf`` and ``1e999`` are errors wherever a number is expected)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
