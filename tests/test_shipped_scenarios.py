"""Shipped scenarios reproduce the figures of their sources (see the comments in each file).

Each scenario runs with its own calendar and seed and 3 replications (2 worker processes).
"""
from __future__ import annotations

import numpy as np
import pytest

import sim
from conftest import MINUTES_PER_DAY, SCENARIOS, mean_se, per_replication, summary_row

REPLICATIONS = 3
WORKERS = 2


def _run_shipped(name: str, keep_entities: bool):
    path = SCENARIOS / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"{path.name} is not there (yet)")
    scenario = sim.load_scenario(path)
    results = sim.run(scenario, replications=REPLICATIONS, seed=scenario.run.seed, workers=WORKERS,
                      keep_entities=keep_entities)
    return scenario, results


@pytest.fixture(scope="module")
def khorgos():
    return _run_shipped("khorgos", keep_entities=True)


def test_khorgos_throughput_is_about_7000_a_day(khorgos):
    """[seed-khorgos]: ~7000 travelers/vehicles a day."""
    _, results = khorgos
    throughput = summary_row(results, "throughput_per_day")
    assert 7000 * 0.95 <= throughput["mean"] <= 7000 * 1.05, throughput.to_dict()


def test_khorgos_mean_wait_is_30_to_90_minutes(khorgos):
    """[seed-khorgos]: waits of 30-90 min."""
    _, results = khorgos
    wait = summary_row(results, "wait_mean")
    assert 30.0 <= wait["mean"] <= 90.0, wait.to_dict()


def test_khorgos_morning_peak_waits_longer(khorgos):
    """[seed-khorgos]: peaks in the mornings, 7-10 AM: those arriving then wait longer than the rest,
    in every replication."""
    scenario, results = khorgos
    entities = results.entities
    hour = (entities["arrival_min"] % MINUTES_PER_DAY) / 60.0
    morning = (hour >= 7.0) & (hour < 10.0)
    peak = per_replication(entities[morning], scenario, lambda rows: rows["wait_total"].mean())
    rest = per_replication(entities[~morning], scenario, lambda rows: rows["wait_total"].mean())
    assert len(peak) == len(rest) == REPLICATIONS
    assert np.all(peak > rest), (peak, rest)
    # and clearly so: the paired difference is more than 3 standard errors above zero
    difference, se, _ = mean_se(peak - rest)
    assert difference > 3 * se, (peak, rest)


def test_khorgos_weekends_wait_longer(khorgos):
    """[seed-khorgos]: peaks at weekends."""
    _, results = khorgos
    weekend, weekday = summary_row(results, "wait_mean", "day=weekend"), summary_row(results, "wait_mean", "day=weekday")
    assert weekend["mean"] > weekday["mean"], (weekend.to_dict(), weekday.to_dict())


def test_jeminay_summer_throughput_above_830():
    """[seed-surge]: "daily crossing has reached more than 830" in the summer 2025 season."""
    scenario, results = _run_shipped("jeminay", keep_entities=False)
    assert 6 <= scenario.calendar.start_date.month <= 8, "the file's calendar should be the summer season"
    throughput = summary_row(results, "throughput_per_day")
    assert throughput["mean"] > 830, throughput.to_dict()
