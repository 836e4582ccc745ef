"""What demand counts (entities, persons, vehicles), per-side clocks and per-stage opening hours.

* ``demand.counts`` converts ``daily_volume`` to entity arrivals exactly: persons divide by the
  mean group size of the class mix, vehicles by the share of the vehicle classes; simulated
  persons (or vehicles) a day then match the volume within their confidence interval.
* ``vehicles_per_day`` counts the exits of ``demand.vehicle_classes`` (only when they are named,
  so results of scenarios that name none keep their rows).
* A Chinese stage open 09:00-18:00 (UTC+8) beside a Kazakh stage open 24 h, on a UTC+5 model
  clock, has booths open 06:00-15:00, and travellers arriving at 05:00 wait there until 06:00.
* Every shipped base scenario states its counting unit in its own file.
"""
from __future__ import annotations

import numpy as np
import pytest
import yaml

import sim
from sim.calendar import MINUTES_PER_DAY
from sim.demand import daily_volumes
from sim.metrics import entity_table
from sim.model import simulate
from sim.plan import build_layout
from sim.report import assumptions_section
from sim.staffing import booth_schedule
from conftest import SCENARIOS, load, mean_se, mmc_scenario, small_scenario, summary_row


def _problems(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(sim.ScenarioError) as raised:
        load(data)
    return [(problem.path, problem.message) for problem in raised.value.problems]


# ---- counting units ----------------------------------------------------------------------------
def test_persons_volume_is_divided_by_the_mean_group_size_of_the_mix():
    data = small_scenario()
    data["demand"].update(daily_volume=1000, counts="persons")
    scenario = load(data)
    # shares 0.6 / 0.35 / 0.05 with group sizes 1, 1-4 (mean 2.5), 5-12 (mean 8.5)
    persons_per_entity = 0.6 * 1 + 0.35 * 2.5 + 0.05 * 8.5
    assert scenario.demand.units_per_entity(scenario.classes) == pytest.approx(persons_per_entity)
    entities = load(small_scenario())      # the same file counting entities: 600 a day
    ratio = daily_volumes(scenario) / daily_volumes(entities)
    assert np.allclose(ratio, 1000 / persons_per_entity / 600)


def test_vehicles_volume_counts_only_the_vehicle_classes():
    data = small_scenario()
    data["demand"].update(daily_volume=400, counts="vehicles", vehicle_classes=["car", "bus"])
    scenario = load(data)
    assert scenario.demand.entities_per_day(scenario.classes) == pytest.approx(400 / 0.40)


def test_simulated_persons_and_vehicles_a_day_match_the_stated_volume():
    """Arrivals counted in the stated unit, per measured day, across 8 replications: the volume
    lies inside mean +- 3 standard errors, and the CI is tight enough to see a 10 % error."""
    data = small_scenario()
    data["calendar"].update(days=4, warmup_days=0)
    data["demand"].update(weekday_factors=[1] * 7)
    for counts, volume in (("persons", 900.0), ("vehicles", 250.0)):
        data["demand"].update(daily_volume=volume, counts=counts, vehicle_classes=["car", "bus"])
        scenario = load(data)
        layout = build_layout(scenario)
        per_day = []
        for replication in range(8):
            arrivals = simulate(scenario, 5, replication, layout).arrivals
            classes = np.asarray(layout.class_names)[arrivals.class_index]
            if counts == "persons":
                per_day.append(arrivals.group_size.sum() / 4)
            else:
                per_day.append(np.isin(classes, ["car", "bus"]).sum() / 4)
        mean, se, _ = mean_se(per_day)
        assert abs(mean - volume) <= 3 * se and 3 * se < 0.1 * volume, (counts, mean, se)


def test_vehicles_per_day_counts_exits_of_the_vehicle_classes():
    data = small_scenario()
    data["demand"]["vehicle_classes"] = ["car", "bus"]
    scenario = load(data)
    results = sim.run(scenario, replications=2, seed=3, workers=1, keep_entities=True)
    entities = results.entities
    window = (entities["exit_min"] >= MINUTES_PER_DAY) & (entities["exit_min"] < 3 * MINUTES_PER_DAY)
    vehicles = entities[window & entities["class"].isin(["car", "bus"])]
    expected = vehicles.groupby("replication").size().mean() / 2          # two measured days
    assert summary_row(results, "vehicles_per_day")["mean"] == pytest.approx(expected)
    assert summary_row(results, "vehicles_per_day", "class=pedestrian")["mean"] == 0
    without = sim.run(load(small_scenario()), replications=1, seed=3, workers=1, keep_entities=False)
    assert "vehicles_per_day" not in set(without.summary["metric"])


@pytest.mark.parametrize("change, path, message", [
    ({"counts": "people"}, "demand.counts", "'entities', 'persons' or 'vehicles'"),
    ({"counts": "vehicles"}, "demand.vehicle_classes", "expected the list of vehicle classes"),
    ({"vehicle_classes": ["lorry"]}, "demand.vehicle_classes.0", "unknown class 'lorry'"),
])
def test_bad_counting_units_are_refused_with_their_field(change, path, message):
    data = small_scenario()
    data["demand"].update(change)
    problems = _problems(data)
    assert any(p == path and message in m for p, m in problems), problems


SHIPPED_BASES = sorted(p for p in SCENARIOS.glob("*.yaml")
                       if "extends" not in yaml.safe_load(p.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", SHIPPED_BASES, ids=lambda p: p.stem)
def test_every_shipped_crossing_states_what_its_volume_counts(path):
    """The default (entities) keeps old files working; a shipped crossing must say it explicitly,
    with its reason in a comment, and name its time zones."""
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["demand"].get("counts") in ("entities", "persons", "vehicles")
    assert "reading" in text.split("\ndemand:", 1)[1].split("\nclasses:", 1)[0].lower(), "say why this reading"
    assert set(data["crossing"].get("time_zones", {})) == {"KZ", "CN"}


def test_khorgos_variant_reads_the_same_figure_as_persons():
    base, persons = (sim.load_scenario(SCENARIOS / f"{name}.yaml") for name in ("khorgos", "khorgos_persons"))
    assert (base.demand.daily_volume, base.demand.counts) == (7000, "entities")
    assert (persons.demand.daily_volume, persons.demand.counts) == (7000, "persons")
    assert daily_volumes(persons).sum() == pytest.approx(
        daily_volumes(base).sum() / persons.demand.units_per_entity(persons.classes))
    assert persons.demand.units_per_entity(persons.classes) == pytest.approx(1.95)   # 0.52 + 0.28 x 2.5 + 0.02 x 27.5 + 0.18


# ---- per-side clocks and per-stage opening hours ---------------------------------------------
def _two_sides(cn_hours: dict | str = "24h", clock: str = "KZ", zones: dict | None = None) -> dict:
    """Kazakh exit desk open 24 h, then a Chinese entry desk; everyone arrives 05:00-06:00."""
    data = mmc_scenario(arrival_rate_per_min=0.2, service_mean_min=0.5, servers=1, days=2, warmup_days=0)
    data["crossing"].update(time_zones=zones if zones is not None else {"KZ": "UTC+5", "CN": "UTC+08:00"},
                            clock=clock)
    data["demand"]["hour_weights"] = [0.0] * 5 + [1.0] + [0.0] * 18
    data["stages"]["desk"]["service_time"]["traveler"] = {"dist": "deterministic", "value": "1 s"}
    data["stages"]["cn_entry"] = {
        "side": "CN", "opening_hours": cn_hours,
        "service_time": {"traveler": {"dist": "deterministic", "value": "5 s"}},
        "pools": {"booths": {"serves": ["traveler"], "booths": 4}}}
    data["routes"] = {"KZ_to_CN": ["desk", "cn_entry"]}
    return data


def test_a_chinese_stage_open_9_to_18_is_open_6_to_15_on_the_kazakh_clock():
    scenario = load(_two_sides({"open": "09:00", "close": "18:00"}))
    stage = scenario.stages["cn_entry"]
    times, booths = booth_schedule(stage.pools["booths"], scenario.calendar, 2, stage, scenario.crossing)
    assert times.tolist() == [0, 360, 900, 1440 + 360, 1440 + 900]
    assert booths.tolist() == [0, 4, 0, 4, 0]
    kz = scenario.stages["desk"]
    times, booths = booth_schedule(kz.pools["booths"], scenario.calendar, 2, kz, scenario.crossing)
    assert times.tolist() == [0] and booths.tolist() == [1]                  # open 24 h


def test_travellers_arriving_at_5_wait_for_the_6_oclock_opening():
    scenario = load(_two_sides({"open": "09:00", "close": "18:00"}))
    layout = build_layout(scenario)
    table = entity_table(simulate(scenario, 1, 0, layout), layout)
    assert len(table) > 50
    reached = table["arrival_min"] + table["wait_desk"] + table["service_desk"]
    start = reached + table["wait_cn_entry"]
    minute = (start % MINUTES_PER_DAY).to_numpy()
    assert np.all(minute >= 360 - 1e-9) and np.all(minute < 420)             # served from 06:00
    assert np.all(table["wait_cn_entry"] > 0)                                # everyone waited for it
    first = start.groupby(table["arrival_min"] // MINUTES_PER_DAY).min()
    assert first.tolist() == pytest.approx([360.0, 1440 + 360.0])            # the opening, not later
    # on one unstated clock the same stage opens at 09:00: everyone waits three hours longer
    one_clock = load(_two_sides({"open": "09:00", "close": "18:00"}, zones={}))
    layout_one = build_layout(one_clock)
    table_one = entity_table(simulate(one_clock, 1, 0, layout_one), layout_one)
    assert np.allclose(table_one["wait_cn_entry"] - table["wait_cn_entry"], 180.0)


def test_hours_moved_across_midnight_open_on_both_sides_of_it():
    """02:00-18:00 in China is 23:00-15:00 in Kazakhstan; a Kazakh 09:00-18:00 stage is
    12:00-21:00 on a Chinese model clock."""
    scenario = load(_two_sides({"open": "02:00", "close": "18:00"}))
    stage = scenario.stages["cn_entry"]
    times, booths = booth_schedule(stage.pools["booths"], scenario.calendar, 2, stage, scenario.crossing)
    assert list(zip(times.tolist(), booths.tolist())) == [(0, 4), (900, 0), (1380, 4), (1440 + 900, 0), (1440 + 1380, 4)]
    data = _two_sides(clock="CN")
    data["stages"]["desk"]["opening_hours"] = {"open": "09:00", "close": "18:00"}
    scenario = load(data)
    stage = scenario.stages["desk"]
    times, booths = booth_schedule(stage.pools["booths"], scenario.calendar, 1, stage, scenario.crossing)
    assert list(zip(times.tolist(), booths.tolist())) == [(0, 0), (720, 1), (1260, 0)]
    assert scenario.crossing.clock_label() == "UTC+08:00 (CN local time)"


@pytest.mark.parametrize("change, path, message", [
    ({"crossing": {"time_zones": {"KZ": "GMT+5", "CN": "UTC+8"}}}, "crossing.time_zones.KZ", "expected a time zone"),
    ({"crossing": {"time_zones": {"KZ": "UTC+5"}}}, "crossing.time_zones", "missing ['CN']"),
    ({"stage_hours": {"open": "18:00", "close": "09:00"}}, "stages.cn_entry.opening_hours", "'open' before 'close'"),
])
def test_bad_clocks_are_refused_with_their_field(change, path, message):
    data = _two_sides()
    if "crossing" in change:
        data["crossing"].update(change["crossing"])
    else:
        data["stages"]["cn_entry"]["opening_hours"] = change["stage_hours"]
    problems = _problems(data)
    assert any(p == path and message in m for p, m in problems), problems


def test_time_zones_alone_change_nothing():
    """Stating the clocks (all stages 24 h) leaves every record as it was."""
    plain = load(_two_sides(zones={}))
    zoned = load(_two_sides())
    layout = build_layout(plain)
    a, b = simulate(plain, 2, 0, layout), simulate(zoned, 2, 0, build_layout(zoned))
    assert np.array_equal(a.exit_time, b.exit_time)


def test_the_report_says_what_the_volume_counts_and_which_clock():
    text = assumptions_section(sim.load_scenario(SCENARIOS / "khorgos_persons.yaml"))
    assert "7,000 persons a day (3,590 entities, both directions)" in text
    assert "UTC+05:00 (KZ local time)" in text
    assert "7,000 arrivals a day (entities" in assumptions_section(sim.load_scenario(SCENARIOS / "khorgos.yaml"))
    assert "CN Dragon Boat Festival" in assumptions_section(sim.load_scenario(SCENARIOS / "kolzhat.yaml"))
