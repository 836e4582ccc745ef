"""What a reader of a run's results must be warned about, as plain sentences.

Pure functions of a scenario and its summary table: confidence intervals wider than their
estimate (with the replications that would fix them), travellers still inside when the run
stopped, and a single replication. The console prints them and the report shows them at the top;
they are kept in ``run.json`` under ``warnings``.
"""
from __future__ import annotations

import math

import pandas as pd

from .catalogue import format_value, phrase
from .stats import replications_needed

CHECKED_METRICS = ("wait_mean", "wait_p90", "throughput_per_day")   # the headline figures
CHECKED_GROUPS = ("all", "class=")


def _headline_rows(summary: pd.DataFrame) -> pd.DataFrame:
    groups = summary["group"].astype(str)
    keep = summary["metric"].isin(CHECKED_METRICS) & ((groups == "all") | groups.str.startswith("class="))
    return summary[keep]


def precision_warnings(summary: pd.DataFrame, replications: int) -> list[str]:
    """A sentence for every headline figure whose 95 % CI is wider than the estimate itself."""
    if replications < 2:
        return [f"one replication: no confidence intervals; run at least 5 replications (--replications 5) "
                "before reading differences"]
    warnings = []
    for row in _headline_rows(summary).itertuples():
        width = row.ci_high - row.ci_low
        if not (row.mean > 0 and width > row.mean):
            continue
        needed = replications_needed(replications, width / 2, row.mean / 2)
        warnings.append(f"the 95 % CI of the {phrase(row.metric)} of {row.group} "
                        f"({format_value(row.metric, row.ci_low)} to {format_value(row.metric, row.ci_high)}) "
                        f"is wider than its estimate ({format_value(row.metric, row.mean)}): about {needed} "
                        f"replications (--replications {needed}) would make it narrower than the estimate")
    return warnings


def unfinished_warnings(summary: pd.DataFrame) -> list[str]:
    """A sentence for every group of travellers (everyone, each class) with some still inside at the end."""
    index = summary.set_index(["group", "metric"])["mean"]
    warnings = []
    for group in dict.fromkeys(summary["group"].astype(str)):
        if not (group == "all" or group.startswith("class=")):
            continue
        share = index.get((group, "unfinished_share"), math.nan)
        if not share > 0.0005:
            continue
        count = index.get((group, "unfinished"), math.nan)
        so_far = index.get((group, "unfinished_wait_mean"), math.nan)
        backlog = index.get((group, "backlog_time_mean"), math.nan)
        where = " (in the cargo backlog or at a stage)" if backlog == backlog else ""
        warnings.append(f"{group}: {count:,.0f} per replication ({format_value('unfinished_share', share)} of its "
                        f"arrivals in the measurement window) were still inside{where} when the run stopped, with "
                        f"a checkpoint wait so far of {format_value('unfinished_wait_mean', so_far)} on average; "
                        "they count in the wait figures with their wait so far, a lower bound "
                        "(wait_mean_finished leaves them out)")
    return warnings


def run_warnings(summary: pd.DataFrame, replications: int, extra: list[str] | None = None) -> list[str]:
    """Every warning about a run's results: ``extra`` (e.g. from the scenario checks) first."""
    return [*(extra or []), *unfinished_warnings(summary), *precision_warnings(summary, replications)]
