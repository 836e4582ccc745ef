"""What every part of the scenario schema builds on: the strict base model and the weekday names."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Strict(BaseModel):
    """Base: unknown keys are errors, instances are immutable, and numbers are finite
    (``.nan``, ``.inf`` and ``1e999`` are errors wherever a number is expected)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
