"""What a run prints on the console: the headline figures of a results summary, as plain text.

A pure function of the summary table (no model, no files); the CLI prints it after a run.
"""
from __future__ import annotations


def key_figures(results) -> str:
    """A short plain-text table of the headline numbers."""
    summary = results.summary.set_index(["group", "metric"])

    def cell(group: str, metric: str, digits: int = 1) -> str:
        if (group, metric) not in summary.index:
            return "-"
        row = summary.loc[(group, metric)]
        text = f"{row['mean']:.{digits}f}"
        if row["ci_low"] == row["ci_low"]:  # not NaN
            text += f" ±{(row['ci_high'] - row['ci_low']) / 2:.{digits}f}"
        return text

    info = results.info
    lines = [f"{results.scenario.crossing.name} — {info['replications']} replications, seed {info['seed']}, "
             f"{results.scenario.calendar.days} days ({results.scenario.calendar.warmup_days} warm-up)",
             f"{'group':<24}{'per day':>16}{'wait mean':>16}{'wait p90':>16}{'> 60 min':>14}"]
    groups = ["all"] + [g for g in summary.index.get_level_values(0).unique() if g.startswith("class=")]
    for group in groups:
        lines.append(f"{group:<24}{cell(group, 'throughput_per_day', 0):>16}{cell(group, 'wait_mean'):>16}"
                     f"{cell(group, 'wait_p90'):>16}{cell(group, 'share_wait_over_60min', 2):>14}")
    lines.append(f"{'stage':<24}{'utilization':>16}{'queue mean':>16}{'queue max':>16}")
    for group in [g for g in summary.index.get_level_values(0).unique() if g.startswith("stage=")]:
        lines.append(f"{group:<24}{cell(group, 'utilization', 2):>16}{cell(group, 'queue_length_mean'):>16}"
                     f"{cell(group, 'queue_length_max', 0):>16}")
    unfinished = summary.loc[("all", "unfinished"), "mean"] if ("all", "unfinished") in summary.index else 0
    if unfinished > 0:
        lines.append(f"note: {unfinished:.0f} entities per replication were still inside when the run stopped "
                     "(a cargo backlog, or an overloaded stage); their waits are not in the statistics")
    return "\n".join(lines)
