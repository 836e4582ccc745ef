"""The staffing planner (sim.staffing_plan, sim.staffing_planner) and its staffing_targets block.

The acceptance test builds a single-stage M/M/c crossing whose demand is constant for six hours
at a time; each block's target ("P(wait > 0) <= 15 %", arrivals of the block's last four hours,
well after the change) has an exact Erlang-C minimum, and the planner must find it by simulation.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim.analytic import erlang_c
from sim.errors import ScenarioError
from sim.scenario import load_scenario
from sim.staffing_plan import booth_rules, current_roster, load_plan, repair_shifts, shift_ok, theory_roster
from sim.staffing_planner import plan_staffing

SERVICE_MINUTES = 6.0
LOADS = (3.0, 6.0, 4.5, 1.5)          # offered load a = lambda / mu of the blocks 0-6, 6-12, 12-18, 18-24 h
LIMIT = 0.15                          # P(wait > 0) at most: Erlang C is >= 0.045 away on both sides of the answer


def mmc_crossing(start: str = "current", booths: int = 12, days: int = 6, **search) -> dict:
    """A one-desk-stage crossing: Poisson arrivals constant within 6-hour blocks, exponential service."""
    rates = [a / SERVICE_MINUTES for a in LOADS]                      # per minute
    weights = [rate for rate in rates for _ in range(6)]
    targets = {f"block{b}": {"measure": "share_waiting", "at_most": LIMIT, "per": "day",
                             "hours": [6 * b + 2, 6 * b + 6], "source": "test"} for b in range(4)}
    return {
        "name": "mmc", "crossing": {"name": "test", "kz_post": "a", "cn_post": "b", "latitude": 0, "longitude": 0},
        "calendar": {"start_date": "2025-07-07", "days": days, "warmup_days": 1, "drain": "1 d"},
        "run": {"replications": 4, "seed": 11},
        "demand": {"daily_volume": 60 * sum(weights), "hour_weights": weights},
        "classes": {"car": {"share": 1.0, "directions": {"KZ_to_CN": 1.0, "CN_to_KZ": 0.0}}},
        "stages": {"desk": {"side": "KZ", "service_time": {"car": {"dist": "exponential", "mean": f"{SERVICE_MINUTES} min"}},
                            "pools": {"lanes": {"serves": ["car"], "booths": booths}}}},
        "routes": {"KZ_to_CN": ["desk"], "CN_to_KZ": []},
        "staffing_targets": {"targets": targets, "pools": {"desk.lanes": {"min": 1, "max": 12}},
                             "change_hours": [0, 6, 12, 18], "min_shift": "6 h",
                             "search": {"start": start, "replications": 4, "max_replications": 16, **search}},
    }


def erlang_minimum(load: float) -> int:
    c = math.floor(load) + 1
    while erlang_c(c, load) > LIMIT:
        c += 1
    return c


def test_theory_start_is_the_erlang_c_minimum_per_block():
    plan = load_plan(load_scenario(mmc_crossing(start="theory")))
    assert theory_roster(plan)["desk.lanes"].tolist() == [[erlang_minimum(a) for a in LOADS]]


def test_planner_finds_the_erlang_c_minimum_from_the_lanes():
    """From every lane open (12 booths all day), the simulation search ends at Erlang C's answer."""
    result = plan_staffing(load_scenario(mmc_crossing()), progress=False, workers=1)
    assert result.outcome == "optimal"
    assert result.after["desk.lanes"].tolist() == [[erlang_minimum(a) for a in LOADS]]
    assert result.all_met
    assert result.info["replications_simulated"] == sum(e.replications for e in result.history) + \
        result.before_evaluation.replications


def test_shift_rule_runs_and_repair():
    blocks = [(0, 6), (6, 7), (7, 13), (13, 24)]
    assert shift_ok(np.array([2, 2, 2, 2]), blocks, 4)
    assert not shift_ok(np.array([2, 3, 4, 2]), blocks, 4)          # 6-7 h lasts one hour
    repaired = repair_shifts(np.array([2, 3, 4, 2]), blocks, 4)
    assert shift_ok(repaired, blocks, 4) and (repaired >= [2, 3, 4, 2]).all()
    assert shift_ok(np.array([3, 1, 1, 3]), [(0, 2), (2, 12), (12, 22), (22, 24)], 4)   # 22-02 joined at midnight


def test_booth_rules_round_trip():
    data = mmc_crossing()
    levels = np.array([[4, 10, 10, 2]])
    blocks = [(0, 6), (6, 12), (12, 18), (18, 24)]
    rules = booth_rules(levels, blocks, ("all",))
    assert rules == {"default": 10, "rules": [{"hours": [0, 6], "booths": 4}, {"hours": [18, 24], "booths": 2}]}
    data["stages"]["desk"]["pools"]["lanes"]["booths"] = rules
    plan = load_plan(load_scenario(data))
    assert current_roster(plan)["desk.lanes"].tolist() == levels.tolist()


@pytest.mark.parametrize("change, message", [
    ({"pools": {"desk.lane": {"max": 3}}}, "stage desk has no pool 'lane'"),
    ({"targets": {"t": {"measure": "wait_p90", "at_most": 60}}}, "write at_most with units"),
    ({"targets": {"t": {"measure": "share_within", "at_least": "80 %"}}}, "needs 'within'"),
    ({"targets": {"t": {"measure": "lost_share", "at_most": "2 %"}}}, "needs impatience"),
    ({"targets": {"t": {"measure": "wait_mean", "at_most": "5 min", "classes": ["bus"]}}}, "unknown class 'bus'"),
    ({"pools": {"desk.lanes": {"min": 5, "max": 3}}}, "expected min <= max"),
    ({"change_hours": [0, 25]}, "expected hours of the day 0-23"),
])
def test_bad_blocks_name_the_field(change, message):
    data = mmc_crossing()
    data["staffing_targets"] = {**data["staffing_targets"], **change}
    with pytest.raises(ScenarioError) as error:
        load_plan(load_scenario(data))
    text = str(error.value)
    assert message in text and "staffing_targets" in text


def test_a_file_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    import yaml
    data = mmc_crossing()
    data["staffing_targets"]["pools"] = {"desk.lanez": {"max": 3}}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_plan(path)
    problem = error.value.problems[0]
    assert problem.file == str(path) and problem.path == "staffing_targets.pools.desk.lanez" and problem.line
    assert "did you mean" in problem.message


def _write(path, data) -> None:
    import yaml
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_staff_command_writes_the_plan_and_resumes_without_simulating(tmp_path, capsys):
    """`checkpoint-sim staff`: the folder, a roster file that extends the original and loads to
    the plan, and --resume replays the search from the stored evaluations (no replication run)."""
    import json

    from sim.cli import main

    scenario = tmp_path / "mmc.yaml"
    _write(scenario, mmc_crossing(start="theory", days=3))
    out = tmp_path / "plan"
    assert main(["staff", str(scenario), "--out", str(out), "--workers", "1"]) == 0
    for name in ("report.html", "booth_hours.csv", "service_levels.csv", "binding.csv", "frontier.csv",
                 "staffing_booths.png", "staffing_frontier.png", "staffing_result.json", "mmc_roster.yaml"):
        assert (out / name).is_file(), name
    roster = load_scenario(out / "mmc_roster.yaml")
    first = json.loads((out / "staffing_result.json").read_text())
    assert first["replications_simulated"] > 0
    plan = load_plan(scenario)
    expected = [[erlang_minimum(a) for a in LOADS]]
    assert current_roster(plan, roster)["desk.lanes"].tolist() == expected
    assert "extends: ../mmc.yaml" in (out / "mmc_roster.yaml").read_text()
    result = plan_staffing(scenario, out, resume=True, progress=False)
    assert result.info["replications_simulated"] == 0
    assert result.after["desk.lanes"].tolist() == expected
    capsys.readouterr()
    assert main(["staff", str(scenario), "--out", str(out)]) == 2                  # never overwritten
    assert "already exists" in capsys.readouterr().err


def test_staff_command_bad_input_exits_2_with_one_line(tmp_path, capsys):
    from sim.cli import main

    data = mmc_crossing()
    del data["staffing_targets"]
    scenario = tmp_path / "none.yaml"
    _write(scenario, data)
    assert main(["staff", str(scenario), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "staffing_targets" in err[0] and "missing" in err[0]
    assert not (tmp_path / "x").exists()


def test_shipped_staffing_scenarios_load():
    for name in ("khorgos_staffing", "jeminay_staffing"):
        plan = load_plan(f"scenarios/{name}.yaml")
        assert plan.pools and all(p.minimum <= p.maximum for p in plan.pools)
        before = current_roster(plan)
        assert all((before[p.name] >= 0).all() for p in plan.pools)


def test_too_few_lanes_is_reported_infeasible_with_the_lanes_binding():
    """With 5 lanes, the 06-12 block (Erlang-C minimum 10) cannot meet its target."""
    data = mmc_crossing(start="theory", days=3)
    data["staffing_targets"]["pools"]["desk.lanes"]["max"] = 5
    result = plan_staffing(load_scenario(data), progress=False)
    assert result.outcome == "infeasible" and not result.all_met
    assert result.binding[("desk.lanes", 0, 1)].startswith("lanes (max)")
    assert "block1" in result.binding[("desk.lanes", 0, 1)]


def test_day_type_rosters_round_trip():
    data = mmc_crossing()
    data["staffing_targets"]["roster"] = "day_type"
    levels = np.array([[4, 10, 8, 4], [6, 12, 8, 4]])
    rules = booth_rules(levels, [(0, 6), (6, 12), (12, 18), (18, 24)], ("weekday", "weekend"))
    assert {"hours": [6, 12], "booths": 12, "days": "weekend"} in rules["rules"]
    data["stages"]["desk"]["pools"]["lanes"]["booths"] = rules
    plan = load_plan(load_scenario(data))
    assert plan.day_types == ("weekday", "weekend")
    assert current_roster(plan)["desk.lanes"].tolist() == levels.tolist()


def test_ctrl_c_message_gives_the_resume_command(tmp_path):
    import argparse

    from sim.cli import interrupted_message

    args = argparse.Namespace(command="staff", scenario=tmp_path / "s.yaml", staff_folder=tmp_path / "out",
                              replications=None, max_evaluations=30)
    assert interrupted_message(args) == "no staffing folder was written"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "staffing.json").write_text("{}")
    message = interrupted_message(args)
    assert "--resume --out" in message and "--max-evaluations 30" in message
