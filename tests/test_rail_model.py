"""The rail model (issue 14): stations expanded to stages, tracks with waiting outside, the daily
interchange limit, unit-level gauge change, 24 h stations, conservation of containers."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.conservation import conservation_problems
from sim.errors import ScenarioError
from sim.model import simulate
from sim.plan import build_layout
from sim.rail_metrics import binding_constraint, yard_balance
from sim.replication import replication_metrics
from sim.yard import INTERCHANGE, OUTSIDE
from conftest import MINUTES_PER_DAY, load, mmc_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
FIXED = {"dist": "deterministic", "value": "60 min"}


def rail_data(per_day: int = 4, tracks: int = 1, documents: dict | None = None, gauge_change: list | None = None,
              interchange: dict | None = None, days: int = 3, delay: dict | None = None) -> dict:
    """A quiet road desk plus one KZ station for westbound trains arriving evenly."""
    data = mmc_scenario(0.01, 1.0, 1, days, 0, drain="2 d")
    line = {"name": "west", "train_type": "container", "direction": "CN_to_KZ", "per_day": per_day}
    if delay is not None:
        line["delay"] = delay
    data["rail"] = {
        "train_types": {"container": {"wagons": {"dist": "fixed", "value": 10},
                                      "containers": {"dist": "fixed", "value": 8}}},
        "daily_paths": [line],
        "stations": {"yard": {"side": "KZ", "directions": ["CN_to_KZ"], "tracks": tracks,
                              "documents": documents or FIXED, "gauge_change": gauge_change or []}},
    }
    if interchange is not None:
        data["rail"]["interchange"] = {"trains_per_day": interchange}
    return data


def trains_of(records, layout):
    return np.flatnonzero(np.isin(records.arrivals.class_index, layout.rail.train_classes))


def test_rail_block_becomes_classes_stages_and_routes():
    scenario = sim.load_scenario(SCENARIOS / "dostyk_rail.yaml")
    assert {"train_container", "train_bulk"} <= set(scenario.classes) and "train" not in scenario.classes
    assert scenario.routes["CN_to_KZ"][-3:] == ["alashankou_documents", "dostyk_documents", "dostyk_transshipment"]
    assert scenario.routes["KZ_to_CN"][-4:] == ["dostyk_documents", "alashankou_documents",
                                               "alashankou_transshipment", "alashankou_wagon_reload"]
    assert scenario.stages["dostyk_transshipment"].pools["cranes"].booths == 5
    assert scenario.stages["dostyk_transshipment"].per_person == ["train_container"]
    # dumped and loaded again (a variant with an override): the same expansion, not a second one
    again = sim.load_scenario(scenario, {"rail.stations.dostyk.tracks": 4})
    assert list(again.stages) == list(scenario.stages) and again.routes == scenario.routes
    assert again.stages["dostyk_documents"].pools["tracks"].booths == 4


def test_one_track_trains_wait_outside_exactly():
    """Trains every 6 h, a deterministic 60 min on one track: nobody waits; every 30 min (48 a day)
    with 60 min of work: train k waits 30 k min outside (a D/D/1 queue that grows)."""
    quiet = load(rail_data(per_day=4))
    records = simulate(quiet, 1, 0)
    layout = build_layout(quiet)
    trains = trains_of(records, layout)
    assert len(trains) == 12
    np.testing.assert_allclose(records.exit_time[trains] - records.arrivals.time[trains], 60.0)
    assert len(records.yard["wait_entity"]) == 0
    busy = load(rail_data(per_day=48, days=1))
    records = simulate(busy, 1, 0)
    trains = trains_of(records, build_layout(busy))
    order = np.argsort(records.arrivals.time[trains])
    dwell = (records.exit_time - records.arrivals.time)[trains][order]
    np.testing.assert_allclose(dwell, 60.0 + 30.0 * np.arange(48))
    waits = records.yard["wait_end"] - records.yard["wait_start"]
    assert np.all(records.yard["wait_kind"] == OUTSIDE)
    np.testing.assert_allclose(np.sort(waits), 30.0 * np.arange(1, 48))


def test_tracks_are_never_overbooked():
    data = rail_data(per_day=30, tracks=2, delay={"dist": "exponential", "mean": "2 h"},
                     documents={"dist": "exponential", "mean": "70 min"})
    scenario = load(data)
    records = simulate(scenario, 5, 0)
    yard = records.yard
    times = np.concatenate((yard["track_start"], yard["track_end"]))
    change = np.concatenate((np.ones(len(yard["track_start"])), -np.ones(len(yard["track_end"]))))
    order = np.lexsort((change, times))         # at equal times, a release before the next holding
    assert np.cumsum(change[order]).max() == 2
    assert len(yard["wait_entity"]) > 0         # the station was full at times: trains waited outside


def test_transshipment_serves_each_container_on_a_crane():
    method = {"method": "transshipment", "cranes": 2, "move_time": {"dist": "deterministic", "value": "5 min"}}
    scenario = load(rail_data(per_day=2, gauge_change=[method]))
    records = simulate(scenario, 1, 0)
    layout = build_layout(scenario)
    stage = layout.stage_names.index("yard_transshipment")
    visits = records.visits
    at = visits["stage"] == stage
    assert np.bincount(visits["entity"][at]).max() == 8             # 8 containers a train
    assert len(np.unique(visits["booth"][at])) == 2                  # both cranes work
    trains = trains_of(records, layout)
    # 60 min documents, then 8 moves of 5 min on 2 cranes = 20 min
    np.testing.assert_allclose(records.exit_time[trains] - records.arrivals.time[trains], 80.0)


def test_bogie_exchange_counts_wagons_and_locomotive_change_one_service():
    bogie = {"method": "bogie_exchange", "lines": 5, "per_wagon": {"dist": "deterministic", "value": "10 min"}}
    data = rail_data(per_day=2, gauge_change=[bogie])
    del data["rail"]["train_types"]["container"]["containers"]
    scenario = load(data)
    records = simulate(scenario, 1, 0)
    trains = trains_of(records, build_layout(scenario))
    np.testing.assert_allclose(records.exit_time[trains] - records.arrivals.time[trains], 60.0 + 10 * 10 / 5)
    loco = {"method": "locomotive_change", "time": {"dist": "deterministic", "value": "25 min"}}
    scenario = load(rail_data(per_day=2, gauge_change=[loco]))
    records = simulate(scenario, 1, 0)
    trains = trains_of(records, build_layout(scenario))
    np.testing.assert_allclose(records.exit_time[trains] - records.arrivals.time[trains], 85.0)


def test_interchange_limit_carries_a_backlog_across_days():
    """6 trains a day, 4 may be handed over: 2 a day wait for the next midnight and the backlog grows."""
    scenario = load(rail_data(per_day=6, tracks=10, interchange={"CN_to_KZ": 4}, days=4))
    records = simulate(scenario, 1, 0)
    yard = records.yard
    gate = yard["wait_kind"] == INTERCHANGE
    assert gate.sum() > 0
    left = records.exit_time[trains_of(records, build_layout(scenario))]
    per_day = np.bincount((left[np.isfinite(left)] // MINUTES_PER_DAY).astype(int))
    # 24 trains, 4 a day: the backlog (2, 4, 6, 8 at the day ends, then 4, 0 in the drain) fills every day
    assert per_day.tolist() == [4] * 6
    released = yard["wait_end"][gate]
    released = released[np.isfinite(released)]
    np.testing.assert_allclose(released % MINUTES_PER_DAY, 0.0)   # handed over at midnight
    # handed over without waiting: day 0's first 4, and day 1's first 2 (midnight's backlog of 2 took
    # the rest of the quota); from day 2 the backlog at midnight uses the whole quota: 24 - 6 waited
    assert gate.sum() == 24 - (4 + 2)
    assert np.isnan(yard["wait_end"][gate]).sum() == 0


def test_containers_are_conserved_in_the_yard_each_day():
    scenario = sim.load_scenario(SCENARIOS / "dostyk_rail.yaml", {"calendar.days": 4, "calendar.warmup_days": 1})
    records = simulate(scenario, 3, 0)
    balance = yard_balance(records, build_layout(scenario), scenario.calendar.days)
    assert conservation_problems(balance) == []
    assert balance["entered"].sum() > 0 and balance["reported_in_yard"].max() > 0
    # the check can fail: the yard's own day-end count, off by one container, is caught
    records.yard["stock_at_day_end"][1] += 1
    assert conservation_problems(yard_balance(records, build_layout(scenario), scenario.calendar.days))


def test_bakhty_rail_trains_do_not_take_the_road_hours():
    scenario = sim.load_scenario(SCENARIOS / "bakhty_rail.yaml", {"calendar.days": 4, "calendar.warmup_days": 1})
    assert scenario.calendar.opening_hours != "24h"                # the road post keeps 09:00-20:00
    records = simulate(scenario, 2, 0)
    layout = build_layout(scenario)
    visits = records.visits
    train_visit = np.isin(records.arrivals.class_index[visits["entity"]], layout.rail.train_classes)
    hour = (visits["start"][train_visit] % MINUTES_PER_DAY) // 60
    assert np.any((hour < 9) | (hour >= 20))                       # trains served at night
    road = ~train_visit & np.isfinite(visits["start"])
    road_hour = (visits["start"][road] % MINUTES_PER_DAY) / 60
    assert np.all((road_hour >= 9) & (road_hour <= 20))
    trains = trains_of(records, layout)
    dwell = (records.exit_time - records.arrivals.time)[trains]
    assert np.nanmean(dwell) < 12 * 60                             # no night closure in the train waits


def test_rail_summary_rows_and_binding_constraint():
    data = rail_data(per_day=30, tracks=1, documents={"dist": "exponential", "mean": "40 min"}, days=3)
    scenario = load(data)
    metrics = replication_metrics(scenario, 1, 0)
    rows = {(g, m): v for g, m, v in metrics.rows()}
    assert rows["all", "rail_trains_per_day"] > 0
    assert rows["all", "rail_dwell_p90_h"] >= rows["all", "rail_dwell_mean_h"] * 0.5
    assert 0 < rows["stage=yard_documents", "rail_track_utilization"] <= 1
    summary = pd.DataFrame([(g, m, v) for g, m, v in metrics.rows()], columns=["group", "metric", "mean"])
    assert binding_constraint(summary).what == "tracks at yard (waiting outside)"


@pytest.mark.parametrize("change, message", [
    (lambda d: d["rail"]["stations"]["yard"].update(gauge_change=[
        {"method": "transshipment", "cranes": 1, "move_time": FIXED}]) or
     d["rail"]["train_types"]["container"].pop("containers"), "carry no containers"),
    (lambda d: d["classes"].update(train_container={"share": 0.5, "directions": {"KZ_to_CN": 1.0}}) or
     d["classes"]["traveler"].update(share=0.5), "already a road class"),
    (lambda d: d["rail"].update(interchange={"trains_per_day": {"KZ_to_CN": 3}}), "no station serves"),
])
def test_rail_problems_are_scenario_errors(change, message):
    data = copy.deepcopy(rail_data())
    change(data)
    with pytest.raises(ScenarioError, match=message):
        load(data)


def test_rail_yard_validation_cases_match_dmc_and_mdc():
    """validate-model's rail yards (reduced: 40 replications of 11 days): the D/M/2 and M/D/2 waits
    outside contain the exact values (sim.analytic.dmc_wait, mdc_wait) in their 99 % CIs."""
    from sim.replication import run_replication
    from sim.stats import mean_ci
    from sim.validation import rail_yard_cases
    cases = rail_yard_cases(reduced=True)
    assert [case.name[:13] for case in cases] == ["rail yard D/M", "rail yard M/D"]
    for case in cases:
        scenario = sim.load_scenario(case.scenario)
        values = np.array([case.checks[0].extract(run_replication(scenario, case.seed, r, keep_entities=False))
                           for r in range(case.replications)])
        mean, low, high = mean_ci(values, 0.99)
        assert low <= case.checks[0].reference <= high, (case.name, mean, low, high)
        assert case.checks[0].reference > 5                       # a real queue, not a trivial pass


def test_rail_outputs_console_report_and_figures():
    """A rail run prints the trains and station tables with the binding constraint, has a "Rail"
    report section and draws rail.png; a sweep over two rail parameters draws rail_bottleneck.png."""
    from sim.console import key_figures
    from sim.plots import close, rail_bottleneck_map, run_figure, run_figures_planned
    from sim.report import run_report
    scenario = load(rail_data(per_day=30, tracks=1, documents={"dist": "exponential", "mean": "40 min"}, days=3))
    results = sim.run(scenario, replications=2, workers=1)
    printed = key_figures(results)
    assert "trains (rail)" in printed and "binding constraint: tracks at yard (waiting outside)" in printed
    assert "rail_backlog" in results.timeline.columns
    by_hour = results.hourly[results.hourly["group"] == "all"]["rail_backlog"]
    assert len(by_hour) == 24 and by_hour.max() > 0            # one track, 30 trains a day: a queue
    timeline = results.timeline[results.timeline["group"] == "all"]["rail_backlog"]
    assert by_hour.mean() == pytest.approx(timeline.iloc[:72].mean())    # the 3 measured days (no warm-up)
    assert "rail.png" in run_figures_planned(results)
    figure = run_figure(results, "rail.png")
    assert len(figure.axes) == 2 and figure.axes[1].patches         # the bars of the wait components
    close(figure)
    html = run_report(results, {})
    assert 'id="rail"' in html and "Binding constraint" in html
    points = []
    for tracks in (1, 3):
        for per_day in (10, 30):
            summary = sim.run(load(rail_data(per_day=per_day, tracks=tracks, days=2)), replications=1,
                              workers=1).summary
            points.append(summary.assign(**{"rail.stations.yard.tracks": tracks, "rail.daily_paths.0.per_day": per_day}))
    figure = rail_bottleneck_map(pd.concat(points), "rail.stations.yard.tracks", "rail.daily_paths.0.per_day")
    assert len(figure.axes[0].patches) == 4
    close(figure)
    # a road-only run has none of it
    road = sim.run(load(mmc_scenario(0.2, 1.0, 1, 2, 0)), replications=1, workers=1)
    assert "trains (rail)" not in key_figures(road) and "rail.png" not in run_figures_planned(road)


def test_a_station_stage_cannot_be_changed_apart_from_its_station():
    """A station's stages are made from the rail block: an override of one is refused by name
    (it would otherwise be made again from the station and silently lost); the unchanged
    expansion loads again as before."""
    scenario = load(rail_data(per_day=4))
    assert sim.load_scenario(scenario).stages == scenario.stages
    with pytest.raises(ScenarioError, match=r"stages\.yard_documents\.queue_capacity: is made from the rail block.s stations"):
        sim.load_scenario(scenario, {"stages.yard_documents.queue_capacity": 1,
                                     "stages.yard_documents.when_full": "block"})
    moved = sim.load_scenario(scenario, {"rail.stations.yard.tracks": 3})
    assert moved.stages["yard_documents"].pools["tracks"].booths == 3
