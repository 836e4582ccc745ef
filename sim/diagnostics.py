"""What a reader of a run's results must be warned about, as plain sentences.

Pure functions of a scenario and its summary table: pools that stay shut for the whole horizon
while a class may use them, confidence intervals wider than their estimate (with the
replications that would fix them; with impatience, the travellers lost a day are a headline
figure too), travellers still inside when the run stopped, and a single
replication. The console prints them and the report shows them at the top;
they are kept in ``run.json`` under ``warnings``.
"""
from __future__ import annotations

import math

import pandas as pd

from .calendar import total_days
from .catalogue import format_value, phrase
from .groups import of_kinds
from .scenario import Scenario
from .scenario.checks import class_stage_visits, lanes_for
from .staffing import booth_schedule
from .stats import replications_needed

CHECKED_METRICS = ("wait_mean", "wait_p90", "throughput_per_day", "lost")   # the headline figures (lost: impatience)
CHECKED_KINDS = ("all", "class")


def _headline_rows(summary: pd.DataFrame) -> pd.DataFrame:
    travellers = of_kinds(summary["group"], *CHECKED_KINDS)
    return summary[summary["metric"].isin(CHECKED_METRICS) & summary["group"].isin(travellers)]


def precision_warnings(summary: pd.DataFrame, replications: int) -> list[str]:
    """One sentence on the headline figures whose 95 % CI is wider than the estimate itself: how
    many there are, the widest, and the replications that would bring every one of them under."""
    if replications < 2:
        return ["one replication: no confidence intervals; run at least 5 replications (--replications 5) "
                "before reading differences"]
    wide = []
    for row in _headline_rows(summary).itertuples():
        # the t half-width is the interval's longer side: an interval cut to its metric's range
        # (a wait at 0, a share at 1) is shorter on the cut side
        width = 2 * max(row.ci_high - row.mean, row.mean - row.ci_low)
        if row.mean > 0 and width > row.mean:
            wide.append((width / row.mean, replications_needed(replications, width / 2, row.mean / 2), row))
    if not wide:
        return []
    worst = max(wide, key=lambda item: item[0])[2]
    needed = max(item[1] for item in wide)
    others = f" and {len(wide) - 1} more headline figure{'s' if len(wide) > 2 else ''}" if len(wide) > 1 else ""
    return [f"the 95 % CI of the {phrase(worst.metric)} of {worst.group} ({format_value(worst.metric, worst.ci_low)} "
            f"to {format_value(worst.metric, worst.ci_high)}){others} is wider than the estimate itself "
            f"({format_value(worst.metric, worst.mean)}): about {needed} replications (--replications {needed}) "
            "would make each narrower than its estimate"]


def unfinished_warnings(summary: pd.DataFrame) -> list[str]:
    """A sentence for every class with some travellers still inside at the end (for everyone when
    the summary has no class groups)."""
    index = summary.set_index(["group", "metric"])["mean"]
    warnings = []
    for group in of_kinds(summary["group"], "class") or of_kinds(summary["group"], "all"):
        share = index.get((group, "unfinished_share"), math.nan)
        if not share > 0.0005:
            continue
        count = index.get((group, "unfinished"), math.nan)
        so_far = index.get((group, "unfinished_wait_mean"), math.nan)
        backlog = index.get((group, "backlog_time_mean"), math.nan)
        cargo = backlog == backlog
        where = " (in the cargo backlog or at a stage)" if cargo else ""
        figures = ("the wait figures and the cargo backlog time" if cargo else "the wait figures")
        warnings.append(f"{group}: {count:,.0f} per replication ({format_value('unfinished_share', share)} of its "
                        f"arrivals in the measurement window) were still inside{where} when the run stopped, with "
                        f"a checkpoint wait so far of {format_value('unfinished_wait_mean', so_far)} on average; "
                        f"they count in {figures} with their time so far, a lower bound that a longer "
                        "calendar.drain raises (wait_mean_finished leaves them out)")
    return warnings


def shut_pool_warnings(scenario: Scenario) -> list[str]:
    """A sentence for every pool that a class with demand may use but that stays shut all run."""
    warnings = []
    for stage, pool, classes in never_open_pools(scenario):
        stuck = (f"; {', '.join(classes)} travellers have no other lane there and wait until the run stops"
                 if classes else "")
        warnings.append(f"pool {pool} of stage {stage} has no open booth over the whole horizon (booth "
                        f"schedule, opening hours and closures){stuck}")
    return warnings


def run_warnings(scenario: Scenario, summary: pd.DataFrame, replications: int) -> list[str]:
    """Every warning about a run's results: the scenario's shut pools first."""
    return [*shut_pool_warnings(scenario), *unfinished_warnings(summary), *precision_warnings(summary, replications)]


def never_open_pools(scenario: Scenario) -> list[tuple[str, str, list[str]]]:
    """Pools that a class with demand may use but that the calendar keeps shut.

    Returns ``(stage, pool, classes)`` for each pool whose booth schedule (with opening hours,
    closed dates and weekdays, over the whole simulated horizon including the drain) has no open
    booth, while a class with demand visits its stage and is served by it. ``classes`` lists the
    classes whose only lanes at that stage are such pools: their travelers will wait there until
    the run stops. Not an error (a pool shut for the season is legitimate), but worth a warning.
    """
    days = total_days(scenario.calendar)
    closed: dict[tuple[str, str], bool] = {}

    def never_open(stage_name: str, pool_name: str) -> bool:
        if (stage_name, pool_name) not in closed:
            _, booths = booth_schedule(scenario.stages[stage_name].pools[pool_name], scenario.calendar, days,
                                       scenario.stages[stage_name], scenario.crossing)
            closed[stage_name, pool_name] = int(booths.max()) == 0
        return closed[stage_name, pool_name]

    found: dict[tuple[str, str], list[str]] = {}
    for class_name, _, stage_name in class_stage_visits(scenario):
        stage = scenario.stages[stage_name]
        for pool_name, pool in stage.pools.items():
            if class_name in pool.serves and never_open(stage_name, pool_name):
                found.setdefault((stage_name, pool_name), [])
        lanes = lanes_for(scenario, stage, class_name)
        if lanes and all(never_open(stage_name, name) for name in lanes):
            for name in lanes:
                if class_name not in found[stage_name, name]:
                    found[stage_name, name].append(class_name)
    return [(stage_name, pool_name, classes) for (stage_name, pool_name), classes in found.items()]

