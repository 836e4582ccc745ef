"""The numbers a planner reads: per-day denominators, the unfinished, peak hours, warnings, verdicts.

Each test checks a summary figure against a count made by hand from the entity table (or from
the scenario), so a wrong denominator or a dropped traveller cannot pass.
"""
from __future__ import annotations

import json

import numpy as np
import yaml
import pandas as pd
import pytest

import sim
from sim.catalogue import METRICS, UnknownMetric, metric
from sim.cli import main
from sim.comparison import compare
from sim.console import key_figures
from sim.diagnostics import precision_warnings
from sim.stats import replications_needed
from test_mechanics import with_trucks

from conftest import MINUTES_PER_DAY, SCENARIOS, load, mmc_scenario, small_scenario, summary_row, window_mask

START_MONDAY = "2025-07-07"


def _run(data: dict, replications: int = 2, **overrides):
    return sim.run(load(data, overrides or None), replications=replications, seed=3, progress=False)


# --------------------------------------------------------------------------------------------
# per-day figures divide by the group's own days
# --------------------------------------------------------------------------------------------
def test_day_groups_divide_by_their_own_number_of_days():
    data = small_scenario()
    data["calendar"].update(start_date=START_MONDAY, days=9, warmup_days=1)   # measured: Tue 8 .. Tue 15 July
    results = _run(data, replications=1)
    entities = results.entities
    window = (MINUTES_PER_DAY, 9 * MINUTES_PER_DAY)
    exits = entities[(entities["exit_min"] >= window[0]) & (entities["exit_min"] < window[1])]
    exit_day = (exits["exit_min"] // MINUTES_PER_DAY).astype(int)
    weekend = (pd.to_datetime(START_MONDAY) + pd.to_timedelta(exit_day, unit="D")).dt.day_of_week.to_numpy() >= 5
    weekend_days, weekday_days = 2, 6                                        # 12-13 July; 8-11, 14-15 July
    assert summary_row(results, "throughput_per_day", "day=weekend")["mean"] == pytest.approx(weekend.sum() / weekend_days)
    assert summary_row(results, "throughput_per_day", "day=weekday")["mean"] == pytest.approx((~weekend).sum() / weekday_days)
    persons = exits["group_size"].to_numpy()
    assert summary_row(results, "persons_per_day", "day=weekend")["mean"] == pytest.approx(persons[weekend].sum() / 2)
    # the day groups share out everyone's exits: 2 weekend days + 6 weekdays = 8 measured days
    everyone = summary_row(results, "throughput_per_day", "all")["mean"]
    assert 2 * summary_row(results, "throughput_per_day", "day=weekend")["mean"] + \
        6 * summary_row(results, "throughput_per_day", "day=weekday")["mean"] == pytest.approx(8 * everyone)


def test_day_group_hourly_arrivals_average_over_the_groups_days():
    data = small_scenario()
    data["calendar"].update(start_date=START_MONDAY, days=9, warmup_days=1)
    results = _run(data, replications=1)
    entities = results.entities
    measured = window_mask(entities, results.scenario)
    day = (entities["arrival_min"] // MINUTES_PER_DAY).astype(int)
    weekend = (pd.to_datetime(START_MONDAY) + pd.to_timedelta(day, unit="D")).dt.day_of_week.to_numpy() >= 5
    hour = ((entities["arrival_min"] % MINUTES_PER_DAY) // 60).astype(int)
    hourly = results.hourly.set_index(["group", "hour"])
    for h in (3, 12):
        count = np.sum(measured & weekend & (hour == h).to_numpy())
        assert hourly.loc[("day=weekend", h), "arrivals_per_day"] == pytest.approx(count / 2)


# --------------------------------------------------------------------------------------------
# nobody is dropped from a wait statistic
# --------------------------------------------------------------------------------------------
def _overloaded() -> dict:
    """One booth, twice as much work as it can do, a short drain: many still queued at the stop."""
    return mmc_scenario(arrival_rate_per_min=1.0, service_mean_min=2.0, servers=1, days=2, warmup_days=0,
                        drain="1 h")


def test_travellers_still_inside_count_with_their_wait_so_far():
    results = _run(_overloaded(), replications=1)
    entities, scenario = results.entities, results.scenario
    end = scenario.calendar.days * MINUTES_PER_DAY + scenario.calendar.drain
    unfinished = entities["exit_min"].isna()
    queued = unfinished & entities["service_desk"].isna()
    assert queued.sum() > 1000, "the scenario should stop with a long queue"
    # the wait so far of those still queued is the time from arrival to the stop ...
    np.testing.assert_allclose(entities.loc[queued, "wait_total"], end - entities.loc[queued, "arrival_min"])
    # ... and the finished waited from arrival to the start of their service
    done = ~unfinished
    by_hand = entities.loc[done, "exit_min"] - entities.loc[done, "service_desk"] - entities.loc[done, "arrival_min"]
    np.testing.assert_allclose(entities.loc[done, "wait_total"], by_hand, atol=1e-9)
    assert (entities["finished"] == done).all()
    # the summary's waits are over everyone who arrived, the finished-only mean is apart
    assert summary_row(results, "wait_mean")["mean"] == pytest.approx(entities["wait_total"].mean())
    assert summary_row(results, "wait_p90")["mean"] == pytest.approx(np.percentile(entities["wait_total"], 90))
    assert summary_row(results, "wait_mean_finished")["mean"] == pytest.approx(entities.loc[done, "wait_total"].mean())
    assert summary_row(results, "unfinished")["mean"] == unfinished.sum()
    assert summary_row(results, "unfinished_share")["mean"] == pytest.approx(unfinished.mean())
    assert summary_row(results, "unfinished_wait_mean")["mean"] == pytest.approx(entities.loc[unfinished, "wait_total"].mean())
    assert summary_row(results, "wait_mean")["mean"] > summary_row(results, "wait_mean_finished")["mean"]


def test_less_capacity_never_reads_as_shorter_waits():
    """Halving the booths of an overloaded desk must not 'improve' its waits by dropping the stuck."""
    waits = {}
    for servers in (1, 2, 3):
        data = mmc_scenario(arrival_rate_per_min=1.2, service_mean_min=2.0, servers=servers, days=2,
                            warmup_days=0, drain="2 h")
        waits[servers] = summary_row(_run(data, replications=2), "wait_mean")["mean"]
    assert waits[1] > waits[2] > waits[3]


def test_cargo_backlog_of_trucks_still_waiting_counts_until_the_stop():
    data = with_trucks(small_scenario(), 0.2, {"KZ_to_CN": 10})                     # far below truck demand
    results = _run(data, replications=1)
    entities, scenario = results.entities, results.scenario
    end = scenario.calendar.days * MINUTES_PER_DAY + scenario.calendar.drain
    trucks = entities[window_mask(entities, scenario) & (entities["class"] == "truck").to_numpy()]
    released = trucks["release_min"].fillna(end)
    assert trucks["release_min"].isna().sum() > 10
    assert summary_row(results, "backlog_time_mean", "class=truck")["mean"] == pytest.approx(
        (released - trucks["arrival_min"]).mean())


# --------------------------------------------------------------------------------------------
# runs with nobody crossing are results, not crashes
# --------------------------------------------------------------------------------------------
def test_a_closed_season_gives_a_results_folder_that_says_nobody_crossed(tmp_path, capsys):
    out = tmp_path / "closed"
    status = main(["run", str(_narynkol_in_winter(tmp_path)), "--replications", "2", "--workers", "1",
                   "--no-plots", "--out", str(out)])
    assert status == 0
    summary = pd.read_csv(out / "summary.csv").set_index(["group", "metric"])
    assert summary.loc[("all", "throughput_per_day"), "mean"] == 0
    assert summary.loc[("all", "arrivals_per_day"), "mean"] == 0
    assert "nobody arrived" in capsys.readouterr().out


def _narynkol_in_winter(tmp_path):
    """The shipped Narynkol scenario started on 6 January, when the pass is closed for the winter."""
    path = tmp_path / "narynkol_winter.yaml"
    path.write_text(f"extends: {SCENARIOS / 'narynkol.yaml'}\n"
                    "calendar: {start_date: 2025-01-06}\n", encoding="utf-8")
    return path


def test_no_demand_at_all_runs():
    data = small_scenario()
    data["demand"]["daily_volume"] = 0
    results = _run(data, replications=2)
    assert summary_row(results, "throughput_per_day")["mean"] == 0
    assert summary_row(results, "unfinished")["mean"] == 0
    assert results.entities.empty


# --------------------------------------------------------------------------------------------
# peak hours, the catalogue, the console
# --------------------------------------------------------------------------------------------
def test_peak_hour_wait_is_the_mean_wait_of_arrivals_in_the_demand_peak():
    data = small_scenario()
    data["demand"]["hour_weights"] = [0.5] * 7 + [3.0] * 3 + [1.0] * 14        # peak 7-10 AM
    results = _run(data, replications=1)
    entities = results.entities
    measured = entities[window_mask(entities, results.scenario)]
    hour = (measured["arrival_min"] % MINUTES_PER_DAY) // 60
    peak = measured[hour.between(7, 9)]
    assert summary_row(results, "peak_hour_wait_mean")["mean"] == pytest.approx(peak["wait_total"].mean())
    cars = peak[peak["class"] == "car"]
    assert summary_row(results, "peak_hour_wait_mean", "class=car")["mean"] == pytest.approx(cars["wait_total"].mean())


def test_every_metric_a_run_produces_is_in_the_catalogue():
    data = with_trucks(small_scenario(), 0.1, {"KZ_to_CN": 30})
    results = _run(data, replications=2)
    produced = set(results.summary["metric"]) | {c for c in results.hourly.columns
                                                 if c not in ("hour", "group") and not c.endswith(("_ci_low", "_ci_high"))}
    assert produced - set(METRICS) == set()
    assert {"peak_hour_wait_mean", "wait_mean_finished", "backlog_time_mean", "unfinished_share"} <= produced
    for entry in METRICS.values():
        assert entry.label and entry.phrase and entry.unit and entry.better in ("lower", "higher", "neutral")
    assert results.summary["unit"].notna().all()


def test_catalogue_directions_and_unknown_names():
    assert metric("wait_p90").meets(50, 60) and not metric("wait_p90").meets(70, 60)
    assert metric("throughput_per_day").meets(7100, 7000) and not metric("throughput_per_day").meets(6300, 7000)
    assert not metric("utilization").meets(0.5, 0.8) and not metric("utilization").meets(0.9, 0.8)
    with pytest.raises(UnknownMetric, match="did you mean 'wait_max'"):
        metric("wait_avg")


def test_console_shows_peak_hour_wait_and_cargo_backlog_beside_the_wait():
    data = with_trucks(small_scenario(), 0.1, {"KZ_to_CN": 30})
    results = _run(data, replications=2)
    text = key_figures(results)
    header = next(line for line in text.splitlines() if line.startswith("group"))
    assert "peak-hour wait" in header and "cargo backlog" in header and "still inside" in header
    truck = next(line for line in text.splitlines() if line.startswith("class=truck"))
    backlog = summary_row(results, "backlog_time_mean", "class=truck")["mean"]
    assert f"{backlog:,.1f}" in truck
    pedestrian = next(line for line in text.splitlines() if line.startswith("class=pedestrian"))
    assert pedestrian.split()[-3] == "-"                                # no backlog for pedestrians
    weekend = summary_row(results, "share_wait_over_60min")["mean"]
    assert f"{100 * weekend:.1f}" in next(line for line in text.splitlines() if line.startswith("all "))


def test_replications_needed_inverts_the_t_interval():
    assert replications_needed(10, 2.0, 2.0) == 10
    needed = replications_needed(10, 2.0, 1.0)
    assert 30 <= needed < 40          # under 4x: half-width scales with 1/sqrt(n), and t shrinks
    from scipy.special import stdtrit
    spread = 2.0 * np.sqrt(10) / stdtrit(9, 0.975)
    assert stdtrit(needed - 1, 0.975) * spread / np.sqrt(needed) <= 1.0
    assert stdtrit(needed - 2, 0.975) * spread / np.sqrt(needed - 1) > 1.0


def test_a_ci_wider_than_its_estimate_is_warned_with_the_replications_that_fix_it():
    summary = pd.DataFrame([("class=bus", "wait_mean", 10.0, 2.0, 18.0, "min"),
                            ("class=car", "wait_mean", 10.0, 8.0, 12.0, "min")],
                           columns=["group", "metric", "mean", "ci_low", "ci_high", "unit"])
    warnings = precision_warnings(summary, 3)
    assert len(warnings) == 1 and "class=bus" in warnings[0] and "more headline" not in warnings[0]
    assert f"--replications {replications_needed(3, 8.0, 5.0)}" in warnings[0]
    # several wide intervals: one sentence, the widest named, enough replications for all of them;
    # an interval cut at 0 (10 ± 20 is [0, 30]) is judged by its t half-width, 20, not by 15
    summary.loc[1, ["ci_low", "ci_high"]] = (0.0, 30.0)
    warnings = precision_warnings(summary, 3)
    assert len(warnings) == 1 and "class=car" in warnings[0] and "and 1 more headline figure" in warnings[0]
    assert f"--replications {replications_needed(3, 20.0, 5.0)}" in warnings[0]
    assert replications_needed(3, 20.0, 5.0) > replications_needed(3, 15.0, 5.0)
    assert "one replication" in precision_warnings(summary, 1)[0]


def test_unfinished_travellers_are_warned_on_the_console():
    results = _run(_overloaded(), replications=2)
    text = key_figures(results)
    share = summary_row(results, "unfinished_share", "class=traveler")["mean"]
    assert any(line.startswith("warning: class=traveler:") and f"{100 * share:.1f} %" in line
               for line in text.splitlines())
    assert not any(line.startswith("warning: all:") for line in text.splitlines())   # the class says it
    assert results.info["warnings"] == [line[len("warning: "):] for line in text.splitlines()
                                        if line.startswith("warning: ")]


def test_compare_verdicts_put_cargo_backlog_beside_the_checkpoint_wait():
    base = with_trucks(small_scenario(), 0.1, {"KZ_to_CN": 30})
    base["name"] = "base"
    variant = with_trucks(small_scenario(), 0.1, {"KZ_to_CN": 60})
    variant["name"] = "more_quota"
    comparison = compare([load(base), load(variant)], replications=3, seed=2, progress=False)
    lines = comparison.verdicts("more_quota")
    mean_wait = next(line for line in lines if line.startswith("mean wait:"))
    assert "truck" in mean_wait and "at the checkpoint, mean cargo backlog time" in mean_wait
    assert not any(line.startswith("mean cargo backlog time") for line in lines)
    assert any(line.startswith("peak-hour mean wait:") for line in lines)


def test_every_catalogue_metric_is_documented():
    text = (SCENARIOS.parent / "docs" / "outputs.md").read_text(encoding="utf-8")
    assert [name for name in METRICS if f"`{name}`" not in text] == []


def test_a_pool_shut_all_run_is_warned_on_the_console_and_in_run_json(tmp_path, capsys):
    data = small_scenario()
    data["stages"]["passport"]["pools"]["cars"]["booths"] = {"default": 0, "rules": [{"months": [1], "booths": 2}]}
    path = tmp_path / "shut.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(path), "--replications", "2", "--workers", "1", "--no-plots", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    warning = next(line for line in printed.splitlines() if "pool cars of stage passport" in line)
    assert warning.startswith("warning:") and "car travellers have no other lane there" in warning
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert warning[len("warning: "):] in info["warnings"]
    # and those cars are stuck: every one still inside, their waits counted so far
    summary = pd.read_csv(out / "summary.csv").set_index(["group", "metric"])["mean"]
    assert summary[("class=car", "unfinished_share")] == 1.0
    assert summary[("class=car", "wait_mean")] > 24 * 60


def test_group_names_round_trip_and_unknown_names_are_refused():
    from sim.groups import Group, label, of_kinds
    for name in ("all", "class=car", "stage=cn_passport_entry", "direction=KZ_to_CN", "green_channel=eligible",
                 "day=weekend"):
        assert str(Group.parse(name)) == name
    assert label("direction=KZ_to_CN") == "KZ → CN" and label("all") == "everyone" and label("day=weekend") == "weekends"
    assert of_kinds(["all", "stage=a", "class=car", "class=car", "day=weekday"], "all", "class") == ["all", "class=car"]
    with pytest.raises(ValueError, match="not a group name"):
        Group.parse("klass=car")


def test_the_unfinished_warning_calls_the_cargo_backlog_time_a_lower_bound():
    from sim.diagnostics import unfinished_warnings
    rows = [("class=truck", "unfinished_share", 0.2), ("class=truck", "unfinished", 30.0),
            ("class=truck", "unfinished_wait_mean", 12.0), ("class=truck", "backlog_time_mean", 900.0),
            ("class=car", "unfinished_share", 0.1), ("class=car", "unfinished", 5.0),
            ("class=car", "unfinished_wait_mean", 40.0)]
    summary = pd.DataFrame([(g, m, v, v, v) for g, m, v in rows], columns=["group", "metric", "mean", "ci_low", "ci_high"])
    truck, car = unfinished_warnings(summary)
    assert truck.startswith("class=truck") and "cargo backlog time" in truck and "calendar.drain" in truck
    assert car.startswith("class=car") and "cargo backlog" not in car and "lower bound" in car


# ---- issue 15: the lean metrics compute exactly what the dense entity x stage arrays gave
def test_rows_are_summed_stage_by_stage_exactly_as_numpy_sums_a_row():
    from sim.metrics import nansum_rows
    rng = np.random.default_rng(15)
    for columns in [*range(0, 20), 130]:        # numpy adds 8 partial sums per block; halves above 128
        dense = rng.exponential(30.0, (2000, columns))
        dense[rng.random(dense.shape) < 0.3] = np.nan
        summed = nansum_rows(lambda j: dense[:, j].copy(), columns, len(dense))
        assert np.array_equal(summed, np.nansum(dense, axis=1))        # bit for bit, not approximately


def test_the_queue_maximum_read_in_ranges_equals_the_one_from_sorted_copies():
    from sim import metrics
    rng = np.random.default_rng(16)
    count = metrics.SWEEP_CHUNK * 16 + 5000           # above the size read a range of values at a time
    starts = np.round(rng.uniform(0.0, 5000.0, count), 1)          # ties on purpose
    ends = starts + np.round(rng.exponential(20.0, count), 1)
    windows = np.array([[100.0, 1500.0], [2000.0, 4000.0]])
    where = rng.random(count) < 0.6

    def reference(s: np.ndarray, e: np.ndarray) -> float:   # open intervals at each window start and each start
        points = np.concatenate((windows[:, 0], s[((s >= windows[0, 0]) & (s < windows[0, 1]))
                                                  | ((s >= windows[1, 0]) & (s < windows[1, 1]))]))
        s, e = np.sort(s), np.sort(e)
        return float(max((np.searchsorted(s, points, side="right") - np.searchsorted(e, points, side="right")).max(),
                         0))
    assert metrics.maximum_open(starts, ends, windows) == reference(starts, ends)
    assert metrics.maximum_open(starts, ends.copy(), windows, owned="ends") == reference(starts, ends)
    assert metrics.maximum_open(starts, ends[where].copy(), windows, owned="ends", where=where) == \
        reference(starts[where], ends[where])
    edges = np.arange(0.0, 6001.0, 60.0)
    assert np.array_equal(metrics.occupancy(lambda: starts.copy(), lambda: ends.copy(), edges),
                          metrics.occupancy(starts, ends, edges))


def test_the_per_stage_entity_columns_equal_the_entity_x_stage_arrays():
    from sim.metrics import entity_view, waited_until
    from sim.model import simulate
    from sim.plan import build_layout
    scenario = load(small_scenario())
    layout = build_layout(scenario)
    records = simulate(scenario, 3, 0, layout)
    visits, count, stages = records.visits, len(records.arrivals), len(layout.stage_names)
    key = visits["entity"].astype(np.int64) * stages + visits["stage"]       # the dense computation it replaced
    tokens = np.bincount(key, minlength=count * stages).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        wait = (np.bincount(key, weights=waited_until(records) - visits["arrive"], minlength=count * stages)
                / tokens).reshape(count, stages)
    started = ~np.isnan(visits["start"])
    service = np.bincount(key[started], weights=(visits["end"] - visits["start"])[started], minlength=count * stages)
    service[np.bincount(key[started], minlength=count * stages) == 0] = np.nan
    lane = np.full(count * stages, -1, dtype=np.int32)
    lane[key] = visits["pool"]
    view = entity_view(records, layout)
    assert np.array_equal(view.total_wait, np.nansum(wait, axis=1))
    for stage in range(stages):
        assert np.array_equal(view.stage_wait(stage), wait[:, stage], equal_nan=True)
        assert np.array_equal(view.stage_service(stage), service.reshape(count, stages)[:, stage], equal_nan=True)
        assert np.array_equal(view.stage_lane(stage), lane.reshape(count, stages)[:, stage])


def test_the_queue_maximum_counts_the_open_intervals_at_window_starts_and_starts_inside(monkeypatch):
    """maximum_open against a brute-force count, on random intervals and windows (fixed seed):
    the starts before each window are counted piece by piece of the sorted starts, so the pieces
    are made tiny here to have many of them."""
    from sim import metrics
    monkeypatch.setattr(metrics, "SWEEP_CHUNK", 7)
    rng = np.random.default_rng(20261202)
    at_a_window_start = 0
    for _ in range(150):
        count = int(rng.integers(1, 300))
        starts = np.round(rng.uniform(0.0, 1000.0, count), int(rng.integers(0, 2)))     # ties, some of them
        ends = starts + np.round(rng.exponential(rng.choice([5.0, 200.0]), count), 1)
        edges = np.sort(rng.choice(np.arange(0.0, 1200.0, 10.0), 2 * int(rng.integers(1, 5)), replace=False))
        windows = edges.reshape(-1, 2)
        where = rng.random(count) < 0.5 if rng.random() < 0.5 else None
        s, e = (starts, ends) if where is None else (starts[where], ends[where])

        def open_at(point: float, low_inclusive: bool) -> int:   # intervals open just after ``point``
            began = s <= point if low_inclusive else s < point
            return int(np.count_nonzero(began & (e > point)))
        inside = [p for p in s if ((p >= windows[:, 0]) & (p < windows[:, 1])).any()]
        at_starts = max([open_at(begin, False) for begin in windows[:, 0]], default=0)
        expected = float(max(at_starts, max((open_at(p, True) for p in inside), default=0), 0))
        at_a_window_start += at_starts == expected > 0
        assert metrics.maximum_open(starts, e.copy(), windows, owned="ends", where=where) == expected
        if where is None:
            assert metrics.maximum_open(starts, ends, windows) == expected
            assert metrics.maximum_open(starts.copy(), ends.copy(), windows, owned="both") == expected
    assert at_a_window_start > 10          # the window starts are where the maximum is, often enough to test them


def test_the_entity_table_from_kept_stage_waits_is_the_one_recomputed():
    from sim.metrics import entity_table, entity_view
    from sim.model import simulate
    from sim.plan import build_layout
    scenario = load(small_scenario())
    layout = build_layout(scenario)
    records = simulate(scenario, 3, 0, layout)
    kept, plain = entity_view(records, layout, keep_stage_waits=True), entity_view(records, layout)
    assert np.array_equal(kept.total_wait, plain.total_wait) and plain.kept_waits is None
    assert len(kept.kept_waits) == len(layout.stage_names) > 1
    table = entity_table(records, layout, kept)
    assert kept.kept_waits is None                       # taken over by the table
    pd.testing.assert_frame_equal(table, entity_table(records, layout, plain), check_exact=True)
