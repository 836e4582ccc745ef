"""The metric catalogue: one entry per metric a user can read, with its unit, label and direction.

The entries are the rows of ``catalogue.csv`` beside this module (name, unit, better, digits,
label, phrase, description): a table to read and edit as a table.

Every table column, console figure, plot axis, report cell, comparison verdict and sweep heatmap
takes a metric's unit, label, phrase, digits and direction ("is lower better?") from here, and
nowhere else. ``metric(name)`` raises :class:`UnknownMetric` with a "did you mean" hint for a
name that is not in the catalogue; a test fails if the metrics layer produces a metric without
an entry.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import did_you_mean

Better = Literal["lower", "higher", "neutral"]


@dataclass(frozen=True)
class Metric:
    """What a metric means and how to write it.

    ``unit`` is the unit of the stored value (``fraction`` is 0-1, written in %); ``label`` is an
    axis or column heading with its unit; ``phrase`` fits in a sentence ("the mean wait rose");
    ``better`` says which way is good for a service-level target (``neutral``: neither);
    ``digits`` is the number of decimals in the stored unit (fractions: of the percentage).
    """

    name: str
    unit: str
    label: str
    phrase: str
    better: Better
    digits: int
    description: str

    @property
    def percent(self) -> bool:
        """Shares are stored as fractions and written as percentages."""
        return self.unit == "fraction"

    @property
    def value_range(self) -> tuple[float, float]:
        """The values the metric can take: every metric of the catalogue is a count, a rate, a
        duration, a length or a share, so none is negative, and a share (``fraction``) is at most 1.
        Confidence intervals are bounded to this range (:func:`sim.stats.summarize`)."""
        return (0.0, 1.0) if self.percent else (0.0, math.inf)

    def meets(self, value: float, target: float) -> bool:
        """Whether ``value`` meets a target of ``target`` for this metric (``neutral``: never)."""
        if self.better == "lower":
            return value <= target
        if self.better == "higher":
            return value >= target
        return False


CATALOGUE_FILE = Path(__file__).with_name("catalogue.csv")   # the table itself: one row per metric


def _read_catalogue(path: Path = CATALOGUE_FILE) -> dict[str, Metric]:
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    return {row["name"]: Metric(row["name"], row["unit"], row["label"], row["phrase"], row["better"],  # type: ignore[arg-type]
                                int(row["digits"]), row["description"]) for row in rows}


METRICS: dict[str, Metric] = _read_catalogue()


class UnknownMetric(KeyError):
    """A metric name that is not in the catalogue; the message has a "did you mean" hint."""

    def __str__(self) -> str:          # KeyError would quote the message
        return str(self.args[0])


def unknown_metric_message(name: str, known: list[str] | None = None) -> str:
    """``unknown metric 'wait_avg' (did you mean 'wait_max'?); known: ...``."""
    known = sorted(METRICS) if known is None else sorted(known)
    return f"unknown metric {name!r}{did_you_mean(name, known, 'known metrics', cutoff=0.5)}"


def metric(name: str) -> Metric:
    """The catalogue entry of ``name``; :class:`UnknownMetric` if there is none."""
    try:
        return METRICS[name]
    except KeyError:
        raise UnknownMetric(unknown_metric_message(name)) from None


def unit(name: str) -> str:
    """The unit of ``name`` ("" for a name outside the catalogue, e.g. a derived column)."""
    entry = METRICS.get(name)
    return entry.unit if entry else ""


def label(name: str) -> str:
    """The axis or column label of ``name`` (the name itself outside the catalogue)."""
    entry = METRICS.get(name)
    return entry.label if entry else name


def value_range(name: str) -> tuple[float, float]:
    """:attr:`Metric.value_range` of ``name`` (no bound for a name outside the catalogue)."""
    entry = METRICS.get(name)
    return entry.value_range if entry else (-math.inf, math.inf)


def phrase(name: str) -> str:
    """``name`` in words for a sentence (the name itself outside the catalogue)."""
    entry = METRICS.get(name)
    return entry.phrase if entry else name


def format_value(name: str, value: float, digits: int | None = None) -> str:
    """A level of ``name`` in its unit: ``54.9 min``, ``12.5 %``, ``7,028 entities/day``."""
    entry = metric(name)
    if value != value:   # NaN
        return "–"
    digits = entry.digits if digits is None else digits
    if entry.percent:
        return f"{100 * value:,.{digits}f} %"
    return f"{value:,.{digits}f} {entry.unit}"


def estimate(mean: float, low: float, high: float, digits: int = 1, percent: bool = False,
             bounds: tuple[float, float] = (-math.inf, math.inf)) -> str:
    """``12.3 ±1.1`` (mean and 95 % CI half-width); fractions as percentages when ``percent``;
    ``–`` for a missing mean, the mean alone without an interval. An interval cut at one of its
    metric's ``bounds`` (a wait of 2 ± 5 min: 0 to 7) is written with its other side (``2.0 ±5.0``)."""
    scale, suffix = (100.0, " %") if percent else (1.0, "")
    if mean is None or mean != mean:
        return "–"
    text = f"{scale * mean:,.{digits}f}"
    if not (low != low or high != high):
        half = high - mean if low == bounds[0] else mean - low if high == bounds[1] else (high - low) / 2
        text += f" ±{scale * half:,.{digits}f}"
    return text + suffix


def format_estimate(name: str, mean: float, low: float, high: float) -> str:
    """:func:`estimate` in the catalogue's digits of ``name``, fractions as percentages (one
    decimal, as written, for a name outside the catalogue)."""
    entry = METRICS.get(name)
    return estimate(mean, low, high, entry.digits if entry else 1, bool(entry and entry.percent), value_range(name))
