"""Comparisons: common random numbers, paired differences, verdicts, the comparison folder and
``checkpoint-sim compare``."""
from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.comparison import (COMPARED_METRICS, DIFFERENCE_COLUMNS, compare, describe_change, format_change,
                         load_comparison, scenario_differences)
from sim.publish import publish_comparison
from sim.runner import run_replication
from sim.stats import paired_difference_ci
from conftest import load, mmc_scenario, small_scenario, write_yaml

REPLICATIONS = 3


def _priority_desk(name: str, green: bool) -> dict:
    """One desk at rho ~0.85 where 30 % of travelers are eligible for priority (or not, when off)."""
    data = mmc_scenario(arrival_rate_per_min=0.85, service_mean_min=1.0, servers=1, days=3, warmup_days=1,
                        classes={"traveler": {"share": 0.8, "green_channel_share": 0.3},
                                 "car": {"share": 0.2}}, green_channel="priority", name=name)
    data["green_channel"] = {"enabled": green}
    return data


@pytest.fixture(scope="module")
def green(tmp_path_factory):
    """Priority on (base) vs off, paired, written to a comparison folder."""
    comparison = compare([load(_priority_desk("desk", True)), load(_priority_desk("desk_no_green", False))],
                         replications=REPLICATIONS, seed=4)
    folder = publish_comparison(comparison, tmp_path_factory.mktemp("compare") / "out")
    return comparison, folder


def test_identical_scenarios_differ_by_exactly_zero():
    """Common random numbers: the same scenario under another name gives the same numbers."""
    base = small_scenario()
    twin = copy.deepcopy(base)
    twin["name"] = "small_twin"
    comparison = compare([load(base), load(twin)], replications=2, seed=9)
    differences = comparison.differences
    assert set(differences["metric"]) == set(COMPARED_METRICS) - {"backlog_time_mean"}   # no cargo class here
    assert (differences["difference"] == 0).all() and (differences["ci_low"] == 0).all()
    lines = comparison.verdicts("small_twin")
    assert comparison.identical("small_twin") and lines[0].startswith("no effect: every result is the same as")
    assert all(line.count("no change") >= 1 and "significant" not in line for line in lines[1:])


def test_a_change_that_never_acts_on_the_measured_days_is_called_no_effect():
    """A weekend-only booth rule measured over weekdays (2025-07-07 is a Monday) gives the base's
    numbers exactly: the verdict says so and names the change and the days, instead of a bare
    'no change'; measured over a weekend, the same change does act."""
    base = small_scenario()
    variant = copy.deepcopy(base)
    variant["name"] = "weekend_booths"
    pool = variant["stages"]["passport"]["pools"]["foot"]
    pool["booths"] = {"default": pool["booths"], "rules": [{"booths": 5, "days": "weekend"}]}
    comparison = compare([load(base), load(variant)], replications=2, seed=9)
    note = comparison.verdicts("weekend_booths")[0]
    assert note.startswith("no effect") and "stages.passport.pools.foot.booths" in note
    assert "2025-07-08 to 2025-07-09 (2 days, 0 at a weekend)" in note
    weekend = compare([load(base), load(variant)], replications=2, seed=9,
                      overrides={"calendar.start_date": "2025-07-12"})
    assert not weekend.identical("weekend_booths")
    assert not weekend.verdicts("weekend_booths")[0].startswith("no effect")


def test_green_channel_off_costs_eligible_travelers_and_helps_the_others(green):
    comparison, _ = green
    rows = comparison.differences.set_index(["group", "metric"])
    eligible = rows.loc[("green_channel=eligible", "wait_mean")]
    others = rows.loc[("green_channel=not_eligible", "wait_mean")]
    assert eligible["ci_low"] > 0, eligible.to_dict()                 # priority lost: eligible wait longer
    assert others["ci_high"] < 0, others.to_dict()                     # the others no longer give way
    line = [v for v in comparison.verdicts("desk_no_green") if v.startswith("green channel:")][0]
    assert line.startswith(f"green channel: eligible travelers' mean wait +{eligible['difference']:.1f} min [+")
    assert "; others −" in line


def test_differences_are_paired_by_replication(green):
    comparison, _ = green
    table = comparison.replications
    for group, metric in (("all", "wait_mean"), ("class=car", "wait_p90"), ("green_channel=eligible", "wait_p95")):
        values = {name: table[(table["scenario"] == name) & (table["group"] == group) & (table["metric"] == metric)]
                  .sort_values("replication")["value"].to_numpy() for name in ("desk", "desk_no_green")}
        expected = paired_difference_ci(values["desk_no_green"], values["desk"])
        row = comparison.differences.query("group == @group and metric == @metric").iloc[0]
        np.testing.assert_allclose([row["difference"], row["ci_low"], row["ci_high"]], expected)
        assert row["base_mean"] == pytest.approx(values["desk"].mean())


def test_green_channel_groups_follow_the_summary_definitions():
    """The eligible / not-eligible groups split everyone: throughputs add up, waits pool."""
    scenario = load(_priority_desk("desk", True))
    output = run_replication(scenario, seed=4, replication=0)
    rows = {(g, m): v for g, m, v in output.metrics}
    assert rows[("green_channel=eligible", "throughput_per_day")] + \
        rows[("green_channel=not_eligible", "throughput_per_day")] == pytest.approx(rows[("all", "throughput_per_day")])
    entities = output.entities
    eligible = entities["green_channel"].to_numpy(dtype=bool)
    window = (entities["arrival_min"] >= 1440) & (entities["arrival_min"] < 3 * 1440) & entities["exit_min"].notna()
    n_yes, n_no = int((window & eligible).sum()), int((window & ~eligible).sum())
    pooled = (n_yes * rows[("green_channel=eligible", "wait_mean")]
              + n_no * rows[("green_channel=not_eligible", "wait_mean")]) / (n_yes + n_no)
    assert pooled == pytest.approx(rows[("all", "wait_mean")])
    nobody = run_replication(load(mmc_scenario(1.0, 0.5, 1, 2, 1)), seed=4, replication=0, keep_entities=False)
    assert not any(group.startswith("green_channel=") for group, _, _ in nobody.metrics)


def test_a_class_only_one_scenario_has_is_not_compared():
    base = small_scenario()
    variant = copy.deepcopy(base)
    variant["name"] = "small_no_bus"
    variant["classes"].pop("bus")
    variant["classes"]["car"]["share"] = 0.4
    for stage in variant["stages"].values():
        stage["service_time"].pop("bus", None)
        stage.get("visit_probability", {}).pop("bus", None)
        stage["per_person"] = [c for c in stage.get("per_person", []) if c != "bus"]
        for pool in stage["pools"].values():
            pool["serves"] = [c for c in pool["serves"] if c != "bus"]
    comparison = compare([load(base), load(variant)], replications=2, seed=2)
    groups = set(comparison.differences["group"])
    assert "class=car" in groups and "class=bus" not in groups
    assert "bus (small)" in comparison.skipped_note()
    assert not any("bus" in line for line in comparison.verdicts("small_no_bus"))


def test_comparison_folder_round_trips(green):
    comparison, folder = green
    names = {p.name for p in folder.iterdir()}
    assert {"compare.csv", "summary.csv", "hourly.csv", "replications.csv", "compare.json", "compare.png",
            "report.html", "scenarios"} <= names
    table = pd.read_csv(folder / "compare.csv")
    assert list(table.columns) == DIFFERENCE_COLUMNS
    assert set(table["scenario"]) == {"desk_no_green"}
    assert table.query("metric == 'share_wait_over_60min'")["unit"].eq("fraction").all()
    again = load_comparison(folder)
    assert [s.name for s in again.scenarios] == ["desk", "desk_no_green"]
    pd.testing.assert_frame_equal(again.differences, comparison.differences, check_dtype=False)
    assert again.verdicts("desk_no_green") == comparison.verdicts("desk_no_green")
    info = json.loads((folder / "compare.json").read_text(encoding="utf-8"))
    assert info["seed"] == 4 and info["replications"] == REPLICATIONS
    assert info["verdicts"]["desk_no_green"] == comparison.verdicts("desk_no_green")


def test_report_of_a_comparison_is_self_contained(green):
    from test_report import assert_self_contained, parse
    _, folder = green
    text = (folder / "report.html").read_text(encoding="utf-8")
    structure = parse(text)
    assert_self_contained(text, structure)
    assert {"verdict", "differences", "figures", "side-by-side", "changes", "assumptions",
            "sources"} <= set(structure.ids)
    assert len(structure.images) == 1
    words = " ".join(structure.text)
    assert "green channel: eligible travelers' mean wait" in words
    assert "green_channel.enabled" in words                       # what the variant changes


def test_scenario_differences_list_changed_fields():
    base = load(small_scenario())
    variant = load(small_scenario(), {"stages.passport.pools.foot.booths": 3, "green_channel.enabled": False})
    changed = {path: (a, b) for path, a, b in scenario_differences(base, variant)}
    assert changed == {"stages.passport.pools.foot.booths": ("2", "3"), "green_channel.enabled": ("true", "false")}


def test_verdict_wording_and_units():
    assert format_change("wait_mean", -38.2, "+", -41.0, -35.4) == "−38 min [−41, −35]"
    assert format_change("wait_mean", 2.04, "+", 1.2, 2.9) == "+2.0 min [+1.2, +2.9]"
    assert format_change("share_wait_over_60min", 0.015, "+", 0.01, 0.02) == "+1.5 pp [+1.0, +2.0]"
    assert format_change("share_wait_over_60min", 0.25, "") == "25 %"
    assert format_change("throughput_per_day", 6.0, "+", 5.2, 6.8) == "+6.0 a day [+5.2, +6.8]"
    # a CI bound that is not 0 never reads 0
    assert format_change("wait_mean", -0.4, "+", -0.8, -0.001) == "−0.400 min [−0.800, −0.001]"
    assert describe_change("wait_mean", 0.3, -0.2, 0.8) == "no significant change (+0.30 min [−0.20, +0.80])"
    assert describe_change("wait_mean", -5.0, -6.0, -4.0) == "−5.0 min [−6.0, −4.0]"
    assert describe_change("wait_mean", 0.0, 0.0, 0.0) == "no change"
    assert describe_change("wait_mean", 1.0, float("nan"), float("nan")).endswith(
        "(one replication: no confidence interval)")


# --------------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------------
def test_cli_compare_writes_the_folder_and_prints_verdicts(tmp_path, capsys):
    base = write_yaml(tmp_path / "base.yaml", _priority_desk("desk", True))
    variant = tmp_path / "variant.yaml"
    variant.write_text("extends: base.yaml\nname: desk_no_green\ngreen_channel: {enabled: false}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["compare", str(base), str(variant), "--replications", "2", "--seed", "3", "--workers", "1",
                 "--days", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "desk_no_green vs desk (2 paired replications, seed 3):" in printed
    assert "green channel: eligible travelers' mean wait" in printed and "mean wait: everyone" in printed
    assert {"compare.csv", "compare.png", "report.html"} <= {p.name for p in out.iterdir()}
    assert load_comparison(out).scenarios[0].calendar.days == 2
    (out / "compare.png").unlink()
    assert main(["plot", str(out)]) == 0 and (out / "compare.png").exists()
    # an existing folder is never overwritten
    assert main(["compare", str(base), str(variant), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["missing", "bad_field", "same_name"])
def test_cli_compare_bad_input_exits_2_without_traceback(tmp_path, capsys, case):
    base = write_yaml(tmp_path / "base.yaml", _priority_desk("desk", True))
    variant = tmp_path / "variant.yaml"
    variant.write_text({"missing": "", "bad_field": "extends: base.yaml\nname: v\ngreen_chanel: {enabled: false}\n",
                        "same_name": "extends: base.yaml\ngreen_channel: {enabled: false}\n"}[case], encoding="utf-8")
    if case == "missing":
        variant.unlink()
    out = tmp_path / "out"
    assert main(["compare", str(base), str(variant), "--replications", "2", "--workers", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert {"missing": "file not found", "bad_field": "did you mean 'green_channel'",
            "same_name": "give each variant its own name"}[case] in err
    assert not out.exists()
