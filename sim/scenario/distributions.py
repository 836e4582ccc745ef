"""What the schema and the rail block share: directions, durations with units, and the
service-time distributions (with the checks and limits they use).

Its own module so that :mod:`sim.scenario.schema` can hold the ``rail`` block
(:mod:`sim.scenario.rail`) while the rail block uses the same distributions: both import this,
neither the other in a cycle. :mod:`sim.scenario.schema` re-exports every name.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

from .base import Strict
from .units import format_minutes, parse_duration

DIRECTIONS = ("KZ_to_CN", "CN_to_KZ")

Direction = Literal["KZ_to_CN", "CN_to_KZ"]
Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(format_minutes)]


def _probability(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"expected a probability between 0 and 1, got {value}")
    return value


Probability = Annotated[float, AfterValidator(_probability)]

WEIGHT_MAX = 1e6                 # relative weights (hours of the day, empirical values)
CV_MAX = 20.0                    # coefficient of variation of a service time
VALUES_MAX = 10_000              # values of an empirical distribution


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError(f"expected a number >= 0, got {value}")
    return value


def _number(value: float) -> str:
    """A number for a message, short however large (an int may have hundreds of digits)."""
    if isinstance(value, int) and abs(value) >= 10**15:
        return f"a number of {len(str(abs(value)))} digits"
    return f"{value:,g}"


def _at_most(limit: float, what: str):
    """An after-validator: ``value <= limit`` (the limit of ``what``, see docs/scenario.md)."""
    def check(value: float) -> float:
        if value > limit:
            raise ValueError(f"expected {what} of at most {limit:,g}, got {_number(value)} "
                             "(see 'Limits' in docs/scenario.md)")
        return value
    return AfterValidator(check)


Weight = Annotated[float, AfterValidator(_non_negative), _at_most(WEIGHT_MAX, "a relative weight")]
CV = Annotated[float, AfterValidator(_non_negative), _at_most(CV_MAX, "a coefficient of variation")]


class Exponential(Strict):
    dist: Literal["exponential"]
    mean: Duration


class Deterministic(Strict):
    dist: Literal["deterministic"]
    value: Duration


class LogNormal(Strict):
    dist: Literal["lognormal"]
    mean: Duration
    cv: CV


class Gamma(Strict):
    dist: Literal["gamma"]
    mean: Duration
    cv: CV


class Empirical(Strict):
    dist: Literal["empirical"]
    values: list[Duration] = Field(min_length=1, max_length=VALUES_MAX)
    weights: list[Weight] | None = None


Distribution = Annotated[Union[Exponential, Deterministic, LogNormal, Gamma, Empirical],
                         Field(discriminator="dist")]
