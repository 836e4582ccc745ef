"""``sim.run(..., days=N)``: the horizon without editing the scenario, as the CLI's ``--days``."""
from __future__ import annotations

import pandas as pd
import pytest

import sim
from conftest import load, small_scenario


def test_days_sets_the_total_simulated_days_like_the_scenario_would():
    scenario = load(small_scenario())                          # 3 days, 1 of them warm-up
    shorter = sim.run(scenario, replications=2, days=2, keep_entities=False)
    edited = sim.run(load(small_scenario(), {"calendar.days": 2}), replications=2, keep_entities=False)
    assert shorter.scenario.calendar.days == 2 and shorter.scenario.calendar.warmup_days == 1
    pd.testing.assert_frame_equal(shorter.summary, edited.summary, check_exact=True)
    assert shorter.timeline["hour"].max() < 2 * 24 <= sim.run(scenario, replications=2, keep_entities=False).timeline["hour"].max()
    assert sim.run(scenario, replications=1, days=None, keep_entities=False).scenario.calendar.days == 3


def test_days_must_leave_a_day_after_the_warm_up():
    with pytest.raises(sim.ScenarioError, match="warm-up days"):
        sim.run(load(small_scenario()), replications=1, days=1)
