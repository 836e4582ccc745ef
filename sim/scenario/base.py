"""What every part of the scenario schema builds on: the strict base model, the weekday names and
the one day filter."""
from __future__ import annotations

import datetime as dt
import types
from typing import Annotated, Any, Literal, Sequence, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator

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
    (``.nan``, ``.inf`` and ``1e999`` are errors wherever a number is expected), and
    ``true``/``false`` are not numbers (pydantic would read ``booths: true`` as 1 booth)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, data: Any) -> Any:
        """A bool where a number is expected becomes its text (``"true"``), which the field's own
        validation then refuses, naming the field ("expected a number, got 'true'")."""
        if not isinstance(data, dict):
            return data
        fields = {field.alias or name: field.annotation for name, field in cls.model_fields.items()}
        return {key: _bools_as_text(value, fields[key]) if key in fields else value for key, value in data.items()}


def _bools_as_text(value: Any, annotation: Any) -> Any:
    """``value`` with every bool that stands where ``annotation`` wants a number (in lists, tuples
    and mapping values too) replaced by its YAML text; anything else as it is."""
    if get_origin(annotation) is Annotated:
        return _bools_as_text(value, get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        options = [option for option in get_args(annotation) if option is not type(None)]
        if isinstance(value, bool):
            wants_number = bool not in options and any(option in (int, float) for option in options)
            return str(value).lower() if wants_number else value
        for option in options:
            replaced = _bools_as_text(value, option)
            if replaced is not value:
                return replaced
        return value
    if isinstance(value, bool):
        return str(value).lower() if annotation in (int, float) else value
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, tuple, Sequence) and isinstance(value, (list, tuple)) and args:
        kinds = args if origin is tuple and Ellipsis not in args else (args[0],) * len(value)
        replaced = [_bools_as_text(item, kind) for item, kind in zip(value, kinds)] + list(value[len(kinds):])
        return replaced if any(new is not old for new, old in zip(replaced, value)) else value
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        replaced = {key: _bools_as_text(item, args[1]) for key, item in value.items()}
        return replaced if any(replaced[key] is not value[key] for key in value) else value
    return value
