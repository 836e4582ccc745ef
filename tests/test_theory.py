"""Validation of the simulator against queueing theory.

Each check runs independent replications (fixed seeds, a warm-up day discarded) and compares a
closed-form value with the replication mean: the exact value must lie within mean +- 3 standard
errors (~99.7 % for a normal mean; deterministic with fixed seeds, so not flaky), and the 95 %
t-interval must be narrow relative to the value, so that the check has the power to see a bias.
The ``slow`` versions use more and longer replications and a tighter power requirement.
"""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim import analytic
from conftest import (MINUTES_PER_DAY, assert_matches_theory, load, mmc_scenario, per_replication,
                      summary_row)

SEED = 20250701
WORKERS = 2


def _run(data: dict, replications: int, seed: int = SEED, keep_entities: bool = True):
    scenario = load(data)
    return scenario, sim.run(scenario, replications=replications, seed=seed, workers=WORKERS,
                             keep_entities=keep_entities)


def replicate(data: dict, replications: int, statistics: dict, batch: int | None = None):
    """Independent replications reduced to per-replication statistics of the entity table.

    ``statistics`` maps a name to a function of one replication's in-window, finished entities.
    Replications run ``batch`` at a time (default: all in one run); batch ``b`` is seeded
    ``SEED + b``, so all replications stay independent while only one batch's entity table is in
    memory. Returns the scenario, {name: array of values} and the list of (values of the batch,
    batch summary table) for cross-checks against the summary.
    """
    scenario = load(data)
    batch = batch or replications
    values = {name: [] for name in statistics}
    batches = []
    for index, first in enumerate(range(0, replications, batch)):
        count = min(batch, replications - first)
        results = sim.run(scenario, replications=count, seed=SEED + index, workers=WORKERS)
        entities = results.entities
        assert entities["exit_min"].notna().all(), "drain too short: someone was still inside"
        mine = {name: per_replication(entities, scenario, function) for name, function in statistics.items()}
        for name, array in mine.items():
            assert len(array) == count
            values[name].extend(array)
        batches.append((mine, results.summary))
        del results, entities
    return scenario, {name: np.asarray(array) for name, array in values.items()}, batches


# --------------------------------------------------------------------------------------------
# Erlang C: M/M/c mean wait and probability of waiting
# --------------------------------------------------------------------------------------------
def _summary_mean(summary, metric: str, group: str = "all") -> float:
    row = summary[(summary["group"] == group) & (summary["metric"] == metric)]
    assert len(row) == 1
    return float(row["mean"].iloc[0])


def check_mmc(servers: int, rho: float, service_mean: float, days: int, warmup: int, replications: int,
              max_rel_half_width: float, batch: int | None = None) -> None:
    service_rate = 1.0 / service_mean
    arrival_rate = rho * servers * service_rate
    data = mmc_scenario(arrival_rate, service_mean, servers, days, warmup, drain="6 h")
    scenario, values, batches = replicate(data, replications, {
        "wait": lambda rows: rows["wait_total"].mean(),
        "waiting": lambda rows: (rows["wait_total"] > 0).mean(),
        "p50": lambda rows: np.median(rows["wait_total"]),
        "p90": lambda rows: np.percentile(rows["wait_total"], 90),
    }, batch)
    exact_wait = analytic.mmc_wait_mean(arrival_rate, service_rate, servers)
    exact_probability = analytic.mmc_wait_probability(arrival_rate, service_rate, servers)
    assert_matches_theory("Wq", exact_wait, values["wait"], max_rel_half_width=max_rel_half_width)
    assert_matches_theory("P(Wq>0)", exact_probability, values["waiting"], max_rel_half_width=max_rel_half_width)

    utilization = []
    for mine, summary in batches:
        # the summary table reports the same per-replication means as the entity table
        assert _summary_mean(summary, "wait_mean") == pytest.approx(np.mean(mine["wait"]), rel=1e-9)
        utilization.extend([_summary_mean(summary, "utilization")] * len(mine["wait"]))
    # booth utilization is the offered load per booth
    assert np.mean(utilization) == pytest.approx(rho, abs=0.01)
    # the 90th percentile of the FCFS delay, where it is positive
    exact_p90 = analytic.mmc_wait_quantile(arrival_rate, service_rate, servers, 0.9)
    if exact_probability > 0.3:   # the quantile is well away from the atom at zero
        assert exact_p90 > 0
        assert_matches_theory("Wq p90", exact_p90, values["p90"], max_rel_half_width=max_rel_half_width)
    else:                         # fewer than half wait: the median wait is exactly zero
        assert np.all(values["p50"] == 0.0)


MMC_CASES = [
    # servers, rho, service mean (min), days, warm-up days, replications
    pytest.param(5, 0.5, 1.0, 3, 1, 15, id="c5-rho0.5"),
    pytest.param(10, 0.8, 2.0, 4, 1, 15, id="c10-rho0.8"),
    pytest.param(10, 0.9, 0.5, 3, 1, 10, id="c10-rho0.9"),
]


@pytest.mark.parametrize("servers, rho, service_mean, days, warmup, replications", MMC_CASES)
def test_mmc_matches_erlang_c(servers, rho, service_mean, days, warmup, replications):
    check_mmc(servers, rho, service_mean, days, warmup, replications, max_rel_half_width=0.10)


@pytest.mark.slow
@pytest.mark.parametrize("servers, rho, service_mean, days, warmup, replications", [
    pytest.param(1, 0.7, 1.0, 8, 1, 30, id="c1-rho0.7"),
    pytest.param(5, 0.5, 1.0, 8, 1, 30, id="c5-rho0.5"),
    pytest.param(10, 0.8, 2.0, 12, 1, 30, id="c10-rho0.8"),
    pytest.param(10, 0.9, 0.5, 8, 1, 30, id="c10-rho0.9"),
    pytest.param(20, 0.95, 1.0, 10, 2, 30, id="c20-rho0.95"),
])
def test_mmc_matches_erlang_c_long(servers, rho, service_mean, days, warmup, replications):
    check_mmc(servers, rho, service_mean, days, warmup, replications, max_rel_half_width=0.06, batch=4)


# --------------------------------------------------------------------------------------------
# Non-preemptive priority M/M/c (green channel with priority)
# --------------------------------------------------------------------------------------------
def check_priority(servers: int, rho: float, green_share: float, days: int, replications: int,
                   max_rel_half_width: float, batch: int | None = None) -> None:
    service_mean = 1.0
    arrival_rate = rho * servers / service_mean
    classes = {"green": {"share": green_share, "green_channel_share": 1.0},
               "other": {"share": 1.0 - green_share, "green_channel_share": 0.0}}
    data = mmc_scenario(arrival_rate, service_mean, servers, days, 1, classes=classes, green_channel="priority",
                        drain="6 h")
    scenario, values, batches = replicate(data, replications, {
        "green": lambda rows: rows.loc[rows["class"] == "green", "wait_total"].mean(),
        "other": lambda rows: rows.loc[rows["class"] == "other", "wait_total"].mean(),
        "all": lambda rows: rows["wait_total"].mean(),
        "eligible": lambda rows: (rows["green_channel"] == (rows["class"] == "green")).all(),
    }, batch)
    assert values["eligible"].all()
    rates = [arrival_rate * green_share, arrival_rate * (1.0 - green_share)]
    exact_green, exact_other = analytic.priority_mmc_wait_means(rates, 1.0 / service_mean, servers)
    green_mean, green_se = assert_matches_theory("Wq green (priority)", exact_green, values["green"],
                                                 max_rel_half_width=max_rel_half_width)
    other_mean, other_se = assert_matches_theory("Wq other", exact_other, values["other"],
                                                 max_rel_half_width=max_rel_half_width)
    # the priority class waits less, clearly (not just on average over a few runs)
    assert exact_green < exact_other
    assert green_mean + 3 * green_se < other_mean - 3 * other_se
    assert np.all(values["green"] < values["other"])
    # priority reorders the queue but does not change the overall mean wait (work conservation,
    # same service distribution): it equals the FCFS M/M/c value
    assert_matches_theory("Wq all classes", analytic.mmc_wait_mean(arrival_rate, 1.0 / service_mean, servers),
                          values["all"], max_rel_half_width=max_rel_half_width)
    # the per-class summary rows agree with the entity table
    for mine, summary in batches:
        assert _summary_mean(summary, "wait_mean", "class=green") == pytest.approx(np.mean(mine["green"]), rel=1e-9)


def test_priority_mmc_matches_cobham():
    check_priority(servers=5, rho=0.85, green_share=0.3, days=4, replications=12, max_rel_half_width=0.10)


@pytest.mark.slow
def test_priority_mmc_matches_cobham_long():
    check_priority(servers=5, rho=0.9, green_share=0.4, days=12, replications=30, max_rel_half_width=0.06,
                   batch=6)


def test_priority_switched_off_serves_first_come_first_served():
    """With the green channel disabled, the 'priority' pool is plain FIFO: both classes wait the
    Erlang C mean, the same for both."""
    servers, arrival_rate = 5, 4.25
    classes = {"green": {"share": 0.3, "green_channel_share": 1.0}, "other": {"share": 0.7}}
    data = mmc_scenario(arrival_rate, 1.0, servers, 4, 1, classes=classes, green_channel="priority", drain="6 h")
    data["green_channel"] = {"enabled": False}
    scenario, results = _run(data, 12)
    exact = analytic.mmc_wait_mean(arrival_rate, 1.0, servers)
    for name in ("green", "other"):
        waits = per_replication(results.entities[results.entities["class"] == name], scenario,
                                lambda rows: rows["wait_total"].mean())
        assert_matches_theory(f"Wq {name}, no priority", exact, waits, max_rel_half_width=0.15)


# --------------------------------------------------------------------------------------------
# Little's law on the output tables: L = lambda W, per group
# --------------------------------------------------------------------------------------------
def tandem_scenario(days: int) -> dict:
    """An M/M/4 desk followed by an optional secondary inspection (30 % of travelers)."""
    data = mmc_scenario(3.0, 1.0, 4, days, 1, classes={"pedestrian": {"share": 0.6}, "car": {"share": 0.4}},
                        drain="1 d")
    data["stages"]["inspection"] = {
        "side": "CN", "kind": "secondary",
        "visit_probability": {"pedestrian": 0.3, "car": 0.3},
        "service_time": {"pedestrian": {"dist": "exponential", "mean": "5 min"},
                         "car": {"dist": "gamma", "mean": "5 min", "cv": 0.5}},
        "pools": {"bays": {"serves": ["pedestrian", "car"], "booths": 6}},
    }
    data["routes"]["KZ_to_CN"] = ["desk", "inspection"]
    return data


def check_little(days: int, replications: int) -> None:
    scenario, results = _run(tandem_scenario(days), replications, keep_entities=False)
    rate_all = 3.0  # arrivals per minute
    groups = {"all": rate_all, "class=pedestrian": 0.6 * rate_all, "class=car": 0.4 * rate_all,
              "stage=desk": rate_all, "stage=inspection": 0.3 * rate_all}
    for group, rate in groups.items():
        queue, wait = summary_row(results, "queue_length_mean", group), summary_row(results, "wait_mean", group)
        assert queue["mean"] > 0.05, f"{group}: queue too short to test Little's law"
        # with the offered arrival rate: agreement within the combined 95 % CI half-widths
        tolerance = (queue["ci_high"] - queue["mean"]) + rate * (wait["ci_high"] - wait["mean"])
        assert abs(queue["mean"] - rate * wait["mean"]) <= tolerance, (group, queue["mean"], rate * wait["mean"])
        assert tolerance < 0.25 * queue["mean"], f"{group}: CI too wide for a meaningful check"
        # with the realised rate (throughput) the identity holds on every sample path, up to the
        # edge effects of the window: much tighter
        served = "services_per_day" if group.startswith("stage=") else "throughput_per_day"
        realised = summary_row(results, served, group)["mean"] / MINUTES_PER_DAY
        assert queue["mean"] == pytest.approx(realised * wait["mean"], rel=0.02), group


def test_littles_law_on_output_tables():
    check_little(days=5, replications=10)


@pytest.mark.slow
def test_littles_law_on_output_tables_long():
    check_little(days=15, replications=20)


def test_littles_law_per_replication_from_entities():
    """Little's law inside each replication: mean queue length over the window equals the arrival
    count per minute times the mean wait, computed from the entity table."""
    data = tandem_scenario(4)
    scenario = load(data)
    results = sim.run(scenario, replications=4, seed=SEED + 1, workers=WORKERS)
    window = (scenario.calendar.days - scenario.calendar.warmup_days) * MINUTES_PER_DAY
    arrivals = per_replication(results.entities, scenario, len)
    total_wait = per_replication(results.entities, scenario, lambda rows: rows["wait_total"].sum())
    queue = summary_row(results, "queue_length_mean")["mean"]
    assert queue == pytest.approx(np.mean(total_wait / window), rel=0.02)
    # and the realised arrival rate is the offered one (Poisson: standard error sqrt(rate / T / n))
    poisson_se = np.sqrt(3.0 / window / len(arrivals))
    assert abs(np.mean(arrivals / window) - 3.0) <= 3 * poisson_se
