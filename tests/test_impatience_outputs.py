"""Impatience outputs (issue 11): who balked, reneged or was deferred, in every table, figure,
console line, report headline, comparison verdict and sweep column; checked by hand against the
entity table.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.catalogue import METRICS
from conftest import MINUTES_PER_DAY, small_scenario

LEAVING = ["balked", "reneged", "deferred", "balked_share", "reneged_share", "deferred_share", "lost_share",
           "wait_mean_served", "wait_mean_lost"]


def impatient_small() -> dict:
    """The small crossing with impatient pedestrians, deferring cars and a capped passport hall
    (where turning back is allowed, so buses balk there)."""
    data = small_scenario()
    data["classes"]["pedestrian"]["patience"] = {"dist": "exponential", "mean": "3 min"}
    data["classes"]["car"]["patience"] = {"dist": "deterministic", "value": "2 min"}
    data["classes"]["car"]["on_leave"] = "defer"
    data["stages"]["passport"].update(queue_capacity=3, allow_leave=True)
    return data


@pytest.fixture(scope="module")
def impatient_results():
    return sim.run(impatient_small(), replications=2, progress=False)


@pytest.fixture(scope="module")
def plain_results():
    return sim.run(small_scenario(), replications=2, progress=False)


def _summary(results) -> pd.Series:
    return results.summary.set_index(["group", "metric"])["mean"]


def _left_at(entities: pd.DataFrame, routes: dict[str, list[str]]) -> np.ndarray:
    """The stage where each lost entity left: the last stage of its route it joined ("" if not lost)."""
    stage = np.full(len(entities), "", dtype=object)
    lost = entities["outcome"].isin(["balked", "reneged"]).to_numpy()
    for direction, route in routes.items():
        for name in route:                           # later stages overwrite earlier ones
            joined = (entities["direction"] == direction).to_numpy() & (entities[f"lane_{name}"] != "").to_numpy()
            stage[lost & joined] = name
    return stage


def test_leaving_counts_match_the_entity_table(impatient_results):
    """Per day = count over the measured days (2 here: 3 days, 1 warm-up) of the entities arriving
    in the window, averaged over replications; shares over the same arrivals."""
    entities, days = impatient_results.entities, 2
    window = (entities["arrival_min"] >= MINUTES_PER_DAY) & (entities["arrival_min"] < 3 * MINUTES_PER_DAY)
    rows = entities[window]
    summary = _summary(impatient_results)
    for group, mask in (("all", slice(None)), ("class=bus", rows["class"] == "bus"),
                        ("class=pedestrian", rows["class"] == "pedestrian")):
        chosen = rows[mask]
        per_rep = chosen.groupby("replication")
        balked = per_rep["outcome"].apply(lambda o: (o == "balked").sum()).mean() / days
        reneged = per_rep["outcome"].apply(lambda o: (o == "reneged").sum()).mean() / days
        lost_share = per_rep["outcome"].apply(lambda o: o.isin(["balked", "reneged"]).mean()).mean()
        assert summary[group, "balked"] == pytest.approx(balked)
        assert summary[group, "reneged"] == pytest.approx(reneged)
        assert summary[group, "lost_share"] == pytest.approx(lost_share)
    deferred = rows[rows["deferred_at"] != ""].groupby("replication").size().reindex([0, 1], fill_value=0)
    assert summary["all", "deferred"] == pytest.approx(deferred.mean() / days) and deferred.sum() > 0
    assert summary["all", "balked"] > 0 and summary["all", "reneged"] > 0
    # throughput stays the served count: those who exited, not the leavers
    exits = entities["exit_min"]
    served = entities[(exits >= MINUTES_PER_DAY) & (exits < 3 * MINUTES_PER_DAY)]
    assert summary["all", "throughput_per_day"] == pytest.approx(served.groupby("replication").size().mean() / days)
    assert (served["outcome"] == "served").all()


def test_stage_groups_say_where_travellers_left(impatient_results):
    """Customs is the first stage of CN_to_KZ only, so whoever left there joined it on arrival:
    the stage figures can be counted by hand. Every leaver left at one stage: the stages add up."""
    entities, days = impatient_results.entities, 2
    routes = impatient_small()["routes"]
    left_at = _left_at(entities, routes)
    window = ((entities["arrival_min"] >= MINUTES_PER_DAY) & (entities["arrival_min"] < 3 * MINUTES_PER_DAY)).to_numpy()
    summary = _summary(impatient_results)
    at_customs = window & (left_at == "customs")
    reneged = entities[at_customs & (entities["outcome"] == "reneged").to_numpy()]
    assert len(reneged) > 0
    assert summary["stage=customs", "reneged"] == pytest.approx(reneged.groupby("replication").size()
                                                                .reindex([0, 1], fill_value=0).mean() / days)
    waits = reneged.groupby("replication")["wait_customs"].mean()
    assert summary["stage=customs", "wait_mean_lost"] == pytest.approx(waits.mean())
    deferred = entities[window & (entities["deferred_at"] == "customs").to_numpy()]
    assert summary["stage=customs", "deferred"] == pytest.approx(deferred.groupby("replication").size()
                                                                 .reindex([0, 1], fill_value=0).mean() / days)
    stages = ["passport", "customs", "secondary"]
    for metric in ("balked", "reneged", "deferred"):   # passport joins of CN_to_KZ may cross the window edge
        assert sum(summary[f"stage={s}", metric] for s in stages) == pytest.approx(summary["all", metric], abs=1.0 / days)
    assert summary["stage=passport", "balked"] == pytest.approx(summary["all", "balked"])   # the only cap


def test_hourly_table_counts_leavers_by_hour_of_arrival(impatient_results):
    entities, hourly = impatient_results.entities, impatient_results.hourly.set_index(["group", "hour"])
    window = (entities["arrival_min"] >= MINUTES_PER_DAY) & (entities["arrival_min"] < 3 * MINUTES_PER_DAY)
    rows = entities[window].assign(hour=lambda t: (t["arrival_min"] % MINUTES_PER_DAY // 60).astype(int))
    pedestrians = rows[rows["class"] == "pedestrian"]
    for hour in (8, 12, 17):
        chosen = pedestrians[pedestrians["hour"] == hour].groupby("replication")["outcome"]
        share = chosen.apply(lambda o: o.isin(["balked", "reneged"]).mean()).mean()
        assert hourly.loc[("class=pedestrian", hour), "lost_share"] == pytest.approx(share)
        reneged = chosen.apply(lambda o: (o == "reneged").sum()).mean() / 2
        assert hourly.loc[("class=pedestrian", hour), "reneged"] == pytest.approx(reneged)
    # per day and hour, the hourly counts add up to the day's count
    for metric in ("balked", "reneged", "deferred"):
        day = hourly.loc["all", metric].sum()
        assert day == pytest.approx(_summary(impatient_results)["all", metric])
    assert {"wait_mean_served", "wait_mean_lost", "deferred_share"} <= set(hourly.columns)
    assert hourly.loc[("stage=customs", 12), "reneged"] >= 0


def test_every_leaving_metric_is_catalogued_and_absent_without_impatience(impatient_results, plain_results):
    for name in LEAVING:
        entry = METRICS[name]
        assert entry.unit and entry.label and entry.phrase and entry.better in ("lower", "higher", "neutral")
    produced = set(impatient_results.summary["metric"]) | set(impatient_results.hourly.columns)
    assert set(LEAVING) <= produced
    stage_rows = impatient_results.summary[impatient_results.summary["group"] == "stage=passport"]
    assert set(LEAVING) - {"wait_mean_lost"} <= set(stage_rows["metric"])
    assert not set(LEAVING) & (set(plain_results.summary["metric"]) | set(plain_results.hourly.columns))


# --- console and report headline -------------------------------------------------------------
def test_lost_is_balked_plus_reneged_in_every_replication(impatient_results):
    summary = _summary(impatient_results)
    for group in ("all", "class=bus", "stage=customs", "direction=CN_to_KZ"):
        assert summary[group, "lost"] == pytest.approx(summary[group, "balked"] + summary[group, "reneged"])
        assert summary[group, "lost_share"] == pytest.approx(summary[group, "balked_share"]
                                                             + summary[group, "reneged_share"])


def test_console_and_report_headline_say_how_many_were_lost_or_deferred(impatient_results, plain_results):
    from sim.console import key_figures
    from sim.catalogue import format_estimate
    from sim.report import run_report
    row = impatient_results.summary.set_index(["group", "metric"]).loc[("all", "lost")]
    lost = format_estimate("lost", row["mean"], row["ci_low"], row["ci_high"])
    line = key_figures(impatient_results).splitlines()[1]
    assert line.startswith(f"Travellers or vehicles lost a day: {lost} (") and "deferred to the next day" in line
    html = run_report(impatient_results, {})
    headline = html[html.index('id="headline"'):]
    assert f"Travellers or vehicles lost a day: {lost}" in headline[:headline.index("<table")]
    assert "share lost (%)" in html and "mean wait of the served (min)" in html
    assert not any(text.startswith("Travellers") for text in key_figures(plain_results).splitlines())
    plain_html = run_report(plain_results, {})
    assert "lost a day" not in plain_html and "share lost" not in plain_html


# --- the figure ------------------------------------------------------------------------------
def test_leaving_figure_has_a_line_per_class_in_its_colour(impatient_results, plain_results):
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt
    from sim import plots
    assert "leaving_by_hour.png" in plots.run_figures_planned(impatient_results)
    assert "leaving_by_hour.png" not in plots.run_figures_planned(plain_results)
    figure = plots.run_figure(impatient_results, "leaving_by_hour.png")
    want = {name: mcolors.to_hex(c) for name, c in plots.class_colors(["pedestrian", "car", "bus"]).items()}
    hourly = impatient_results.hourly
    for axis, metric in zip(figure.axes, ("lost_share", "deferred_share")):
        lines = {line.get_label(): line for line in axis.get_lines() if line.get_label() in want}
        assert {name: mcolors.to_hex(line.get_color()) for name, line in lines.items()} == want
        bus = hourly[hourly["group"] == "class=bus"].sort_values("hour")
        assert np.allclose(lines["bus"].get_ydata(), 100 * bus[metric].to_numpy(), equal_nan=True)
    assert figure.axes[0].get_ylabel() == "share lost (%)"
    plt.close(figure)


# --- compare and sweeps ----------------------------------------------------------------------
def test_compare_verdicts_state_lost_and_deferred_with_paired_cis():
    from sim.comparison import compare, format_change, paired_differences
    from sim.stats import paired_difference_ci
    variant = impatient_small()
    variant["name"] = "impatient"
    comparison = compare([small_scenario(), variant], replications=2, progress=False)
    lines = comparison.verdicts("impatient")
    lost_line = next(line for line in lines if line.startswith("travellers lost:"))
    assert lines.index(lost_line) < next(i for i, line in enumerate(lines) if line.startswith("90th"))
    assert any(line.startswith("travellers deferred to the next day:") for line in lines)
    differences = comparison.differences.set_index(["group", "metric"])
    everyone = differences.loc[("all", "lost")]
    reps = comparison.replications
    after = reps[(reps["scenario"] == "impatient") & (reps["group"] == "all") & (reps["metric"] == "lost")]
    difference, low, high = paired_difference_ci(after.sort_values("replication")["value"].to_numpy(), np.zeros(2))
    assert everyone["base_mean"] == 0 and everyone["difference"] == pytest.approx(difference)
    assert (everyone["ci_low"], everyone["ci_high"]) == pytest.approx((low, high))
    assert f"everyone {format_change('lost', difference, '+', low, high)}" in lost_line
    # two scenarios without impatience: no leaving rows, as before
    plain = reps[reps["scenario"] == "small"]
    copy = pd.concat([plain, plain.assign(scenario="copy")], ignore_index=True)
    assert not paired_differences(copy, "small", ["copy"])["metric"].isin(["lost", "deferred"]).any()


def test_sweep_tables_and_figures_show_the_leaving_metrics():
    from sim import plots
    from sim.report import sweep_table_html
    rows = []
    for index, booths in enumerate((1, 2, 3)):
        for metric, value in (("wait_mean", 10.0 / booths), ("wait_p90", 30.0 / booths),
                              ("lost_share", 0.2 / booths), ("lost", 60.0 / booths), ("deferred", 5.0 / booths)):
            rows.append({"point": f"p{index:04d}", "stages.desk.pools.booths.booths": booths, "replications": 3,
                         "group": "all", "metric": metric, "mean": value, "ci_low": 0.9 * value,
                         "ci_high": 1.1 * value, "unit": METRICS[metric].unit})
    table = pd.DataFrame(rows)
    figures = plots.sweep_figures(table)
    assert "sweep_lost_share_vs_booths_booths.png" in figures, list(figures)
    for figure in figures.values():
        import matplotlib.pyplot as plt
        plt.close(figure)
    html = sweep_table_html(table, ["stages.desk.pools.booths.booths"])
    assert "share lost (%)" in html and "lost (entities per day)" in html and "6.7 ±0.7 %" in html
    plain = sweep_table_html(table[~table["metric"].isin(["lost_share", "lost", "deferred"])],
                             ["stages.desk.pools.booths.booths"])
    assert "lost" not in plain


# --- statistics: the hourly figures of a stationary impatient queue --------------------------
def _hourly_abandonment(days: int, replications: int) -> tuple[float, np.ndarray]:
    """P(abandon) of a flat-demand M/M/2+M queue at rho = 1.5 and each replication's hourly
    ``lost_share`` of everyone (rows: replications, columns: hours)."""
    from sim import analytic
    from sim.metrics import ReplicationMetrics
    from sim.model import simulate
    from sim.plan import build_layout
    from sim.validation import erlang_a_case
    case = erlang_a_case(1.5, 2, 2.0, days=days, replications=replications, service_mean=2.0)
    scenario = sim.load_scenario(case.scenario)
    layout = build_layout(scenario)
    shares = np.full((replications, 24), np.nan)
    for replication in range(replications):
        records = simulate(scenario, 5, replication, layout)
        for hour, group, metric, value in ReplicationMetrics(records, layout, scenario).hourly_rows():
            if group == "all" and metric == "lost_share":
                shares[replication, hour] = value
    return analytic.erlang_a(1.5, 0.5, 0.5, 2).abandon_probability, shares


def test_hourly_lost_share_of_a_stationary_queue_is_erlang_a():
    from conftest import assert_matches_theory
    exact, shares = _hourly_abandonment(days=3, replications=8)
    assert_matches_theory("hourly lost share, mean over the hours", exact, shares.mean(axis=1))


@pytest.mark.slow
def test_hourly_lost_share_is_erlang_a_in_every_hour():
    """Each hour on its own (24 checks at 3.5 standard errors: family-wise about 1 % false alarms)."""
    from conftest import assert_matches_theory
    exact, shares = _hourly_abandonment(days=11, replications=12)
    for hour in range(24):
        assert_matches_theory(f"lost share {hour:02d}:00", exact, shares[:, hour], k=3.5, max_rel_half_width=0.15)


def test_a_wide_ci_of_the_lost_a_day_is_warned():
    from sim.diagnostics import precision_warnings
    summary = pd.DataFrame([{"group": "all", "metric": "lost", "mean": 30.5, "ci_low": 5.1, "ci_high": 55.9},
                            {"group": "all", "metric": "wait_mean", "mean": 10.0, "ci_low": 9.0, "ci_high": 11.0}])
    [warning] = precision_warnings(summary, 2)
    assert warning.startswith("the 95 % CI of the travellers lost of all (5.1 entities/day to 55.9 entities/day)")
    assert precision_warnings(summary.iloc[1:], 2) == []
