"""The metric catalogue: one entry per metric a user can read, with its unit, label and direction.

Every table column, console figure, plot axis, report cell, comparison verdict and sweep heatmap
takes a metric's unit, label, phrase, digits and direction ("is lower better?") from here, and
nowhere else. ``metric(name)`` raises :class:`UnknownMetric` with a "did you mean" hint for a
name that is not in the catalogue; a test fails if the metrics layer produces a metric without
an entry.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

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

    def meets(self, value: float, target: float) -> bool:
        """Whether ``value`` meets a target of ``target`` for this metric (``neutral``: never)."""
        if self.better == "lower":
            return value <= target
        if self.better == "higher":
            return value >= target
        return False


def _entries(*rows: tuple[str, str, str, str, Better, int, str]) -> dict[str, Metric]:
    return {row[0]: Metric(*row) for row in rows}


METRICS: dict[str, Metric] = _entries(
    ("throughput_per_day", "entities/day", "throughput (entities per day)", "throughput", "higher", 0,
     "entities of the group that left the crossing in the measurement window, per measured day of "
     "the group (day groups: every exit made on their days, divided by the number of those days)"),
    ("persons_per_day", "persons/day", "persons per day", "persons crossing", "higher", 0,
     "persons (group members) of the group that left in the measurement window, per measured day of the group"),
    ("arrivals_per_day", "entities/day", "arrivals (entities per day)", "arrivals", "neutral", 1,
     "entities of the group that arrived, per measured day of the group (hourly table: in that hour)"),
    ("wait_mean", "min", "mean wait (min)", "mean wait", "lower", 1,
     "checkpoint wait summed over stages; travellers still inside at the end count with their wait so far"),
    ("wait_p50", "min", "median wait (min)", "median wait", "lower", 1, "median of the waits of wait_mean"),
    ("wait_p90", "min", "90th-percentile wait (min)", "90th-percentile wait", "lower", 1,
     "90th percentile of the waits of wait_mean"),
    ("wait_p95", "min", "95th-percentile wait (min)", "95th-percentile wait", "lower", 1,
     "95th percentile of the waits of wait_mean"),
    ("wait_max", "min", "longest wait (min)", "longest wait", "lower", 1, "longest of the waits of wait_mean"),
    ("share_waiting", "fraction", "share who wait (%)", "share who wait", "lower", 1,
     "share of the group with a wait above 0"),
    ("share_wait_over_60min", "fraction", "share waiting over 60 min (%)", "share waiting over 60 min", "lower", 1,
     "share of the group whose wait exceeds 60 min"),
    ("wait_mean_finished", "min", "mean wait of those who left (min)", "mean wait of those who left", "lower", 1,
     "mean wait of the group's travellers who left the crossing before the run stopped (biased low "
     "when many are still inside: compare with wait_mean)"),
    ("peak_hour_wait_mean", "min", "mean wait in the peak hours (min)", "peak-hour mean wait", "lower", 1,
     "mean wait of those arriving in the demand peak hours (hours with at least 1.5x the mean hourly "
     "demand of the hours with demand; the busiest hour when none reaches that)"),
    ("time_in_system_mean", "min", "mean time in system (min)", "mean time in system", "lower", 1,
     "exit minus arrival, cargo backlog included, of those who left"),
    ("backlog_time_mean", "min", "mean time in the cargo backlog (min)", "mean cargo backlog time", "lower", 1,
     "time from arrival to release by the cargo gate (daily quota, acceptance); trucks still in the "
     "backlog at the end count with their time so far"),
    ("unfinished", "entities", "still inside at the end (entities)", "travellers still inside at the end", "lower", 0,
     "entities of the group that arrived in the measurement window and had not left when the run stopped"),
    ("unfinished_share", "fraction", "share still inside at the end (%)", "share still inside at the end", "lower", 1,
     "unfinished as a share of the group's arrivals in the measurement window"),
    ("unfinished_wait_mean", "min", "wait so far of those still inside (min)", "wait so far of those still inside",
     "lower", 1, "mean wait accumulated until the run stopped by those still inside"),
    ("utilization", "fraction", "utilization (% of open booth time busy)", "utilization", "neutral", 1,
     "busy booth-minutes over open booth-minutes"),
    ("queue_length_mean", "tokens", "mean queue length (people or vehicles)", "mean queue length", "lower", 1,
     "time-average number waiting (bus passengers count one each at per-person stages)"),
    ("queue_length_max", "tokens", "longest queue (people or vehicles)", "longest queue", "lower", 0,
     "largest number waiting at once"),
    ("staffed_booths", "booths", "open booths", "open booths", "neutral", 1, "booths open, time-averaged"),
)


class UnknownMetric(KeyError):
    """A metric name that is not in the catalogue; the message has a "did you mean" hint."""

    def __str__(self) -> str:          # KeyError would quote the message
        return str(self.args[0])


def unknown_metric_message(name: str, known: list[str] | None = None) -> str:
    """``unknown metric 'wait_avg' (did you mean 'wait_max'?); known: ...``."""
    known = sorted(METRICS) if known is None else sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown metric {name!r}{hint}; known metrics: {', '.join(known)}"


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
