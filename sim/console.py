"""What a run prints on the console: the headline figures of a results summary, as plain text.

A pure function of the results (no model, no files); the CLI prints it after a run. Every figure
is a mean over replications with the half-width of its 95 % CI, in the catalogue's units
(shares in %). Cargo classes show their time in the cargo backlog beside the checkpoint wait,
and the warnings of :mod:`sim.diagnostics` close the table. Runs with impatience say first how
many travellers a day were lost (balked or reneged) or deferred (:func:`leaving_sentence`, also
the report's headline), and add the share lost and the deferred per day to the table.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .catalogue import format_estimate
from .groups import kind, of_kinds
from .rail_metrics import binding_constraint, has_rail, station_stage_groups

if TYPE_CHECKING:
    from .runner import Results

TRAVELLER_COLUMNS = [  # (metric, heading, width)
    ("throughput_per_day", "per day", 13), ("wait_mean", "wait mean", 13), ("wait_p90", "wait p90", 14),
    ("peak_hour_wait_mean", "peak-hour wait", 15), ("share_wait_over_60min", "> 60 min", 11),
    ("backlog_time_mean", "cargo backlog", 15), ("unfinished", "still inside", 13),
]
LEAVING_COLUMNS = [("lost_share", "lost", 11), ("deferred", "deferred/day", 13)]   # runs with impatience only
STAGE_COLUMNS = [("utilization", "utilization", 13), ("queue_length_mean", "queue mean", 13),
                 ("queue_length_max", "queue max", 14)]
GROUP_WIDTH = 24
CLASS_ONLY = ("backlog_time_mean",)   # the cargo backlog is a truck figure: shown on cargo classes' rows only


def shown(group: str, metric: str) -> bool:
    """Whether a table row of ``group`` shows ``metric`` (console and report alike)."""
    return metric not in CLASS_ONLY or kind(group) == "class"


def estimate_text(summary: pd.DataFrame, group: str, metric: str) -> str:
    """``54.9 ±4.4`` in the metric's unit (shares in %), ``-`` when the summary has no such row."""
    if (group, metric) not in summary.index:
        return "-"
    row = summary.loc[(group, metric)]
    return format_estimate(metric, row["mean"], row["ci_low"], row["ci_high"])


def _table(summary: pd.DataFrame, groups: list[str], columns: list[tuple[str, str, int]], title: str) -> list[str]:
    lines = [f"{title:<{GROUP_WIDTH}}" + "".join(f" {heading:>{width}}" for _, heading, width in columns)]
    for group in groups:
        lines.append(f"{group:<{GROUP_WIDTH}}" + "".join(
            f" {estimate_text(summary, group, metric) if shown(group, metric) else '-':>{width}}"
            for metric, _, width in columns))
    return lines


def leaving_sentence(summary: pd.DataFrame) -> str | None:
    """``Travellers or vehicles lost a day: 30.5 ±2.1 (5.1 ±0.4 %: 26.3 ±1.9 balked, 4.2 ±0.8
    reneged); deferred to the next day: 2.3 ±0.9 a day (0.4 ±0.2 %).`` for everyone, from a
    summary indexed by group and metric; None when the run has no impatience."""
    if ("all", "lost") not in summary.index:
        return None
    def text(metric: str) -> str:
        return estimate_text(summary, "all", metric)
    return (f"Travellers or vehicles lost a day: {text('lost')} ({text('lost_share')}: {text('balked')} balked, "
            f"{text('reneged')} reneged); deferred to the next day: {text('deferred')} a day "
            f"({text('deferred_share')}).")


def key_figures(results: "Results") -> str:
    """A short plain-text table of the headline numbers, then the run's warnings."""
    summary = results.summary.set_index(["group", "metric"])
    groups = list(dict.fromkeys(summary.index.get_level_values(0)))
    info, calendar = results.info, results.scenario.calendar
    lines = [f"{results.scenario.crossing.name} — {info['replications']} replications, seed {info['seed']}, "
             f"{calendar.days} days ({calendar.warmup_days} warm-up); waits in min, ± is the 95 % CI half-width"]
    leaving = leaving_sentence(summary)
    if leaving:
        lines.append(leaving)
    columns = TRAVELLER_COLUMNS + (LEAVING_COLUMNS if ("all", "lost_share") in summary.index else [])
    lines += _table(summary, of_kinds(groups, "all", "class", "day"), columns, "group")
    lines += _table(summary, of_kinds(groups, "stage"), STAGE_COLUMNS, "stage")
    lines += rail_lines(results.summary)
    if ("all", "arrivals_per_day") in summary.index and summary.loc[("all", "arrivals_per_day"), "mean"] == 0:
        lines.append("nobody arrived in the measurement window (closed season, or no demand)")
    lines += [f"warning: {text}" for text in info.get("warnings", [])]
    return "\n".join(lines)


RAIL_COLUMNS = [("rail_dwell_mean_h", "dwell h", 12), ("rail_dwell_p90_h", "dwell p90 h", 12),
                ("rail_trains_per_day", "trains/day", 12), ("rail_containers_per_day", "containers/day", 15),
                ("rail_outside_wait_mean_h", "outside h", 11), ("rail_interchange_wait_mean_h", "interchange h", 14),
                ("rail_backlog_end", "waiting at end", 15)]
STATION_COLUMNS = [("rail_outside_wait_mean_h", "outside h", 11), ("rail_track_utilization", "tracks", 11),
                   ("rail_stage_wait_mean_h", "train wait h", 13), ("utilization", "booths/cranes", 14)]


def rail_lines(summary: pd.DataFrame) -> list[str]:
    """The rail model's tables (trains; station stages) and its binding constraint; none without rail."""
    if not has_rail(summary):
        return []
    indexed = summary.set_index(["group", "metric"])
    groups = of_kinds(list(dict.fromkeys(summary["group"])), "all", "direction")
    trains = [g for g in groups if (g, "rail_trains_per_day") in indexed.index]
    lines = _table(indexed, trains, RAIL_COLUMNS, "trains (rail)")
    lines += _table(indexed, station_stage_groups(summary), STATION_COLUMNS, "rail station stage")
    binding = binding_constraint(summary)
    if binding is not None:
        lines.append(f"binding constraint: {binding.what} (trains wait {binding.hours:.2f} h there on average)")
    return lines
