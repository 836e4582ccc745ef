"""Model mechanics on small scenarios, checked on the raw records of single replications."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import sim
from sim.model import simulate
from sim.metrics import entity_table
from sim.plan import build_layout
from conftest import MINUTES_PER_DAY, SMALL_YAML, load, mmc_scenario, small_scenario, write_yaml


def simulate_one(data: dict, seed: int = 3, replication: int = 0):
    """(scenario, layout, records) of one replication."""
    scenario = load(data)
    layout = build_layout(scenario)
    return scenario, layout, simulate(scenario, seed, replication, layout)


def staffed_at(schedule, times) -> np.ndarray:
    """Open booths of a pool schedule ``(change times, booths)`` at each of ``times``."""
    change_times, booths = schedule
    return booths[np.searchsorted(change_times, np.asarray(times), side="right") - 1]


def with_trucks(data: dict, share: float, quota: dict, accepted: dict | None = None, backlog: dict | None = None,
                release_hours=(0, 24), truck_service: str = "2 min") -> dict:
    """Add a cargo class ``truck`` (KZ_to_CN only) with its own lane at every stage on that route."""
    data = copy.deepcopy(data)
    scale = 1.0 - share
    for spec in data["classes"].values():
        spec["share"] = spec["share"] * scale
    data["classes"]["truck"] = {"share": share, "directions": {"KZ_to_CN": 1.0}, "cargo": True}
    for stage_name in data["routes"]["KZ_to_CN"]:
        stage = data["stages"][stage_name]
        stage["service_time"]["truck"] = {"dist": "exponential", "mean": truck_service}
        stage["pools"]["truck_lane"] = {"serves": ["truck"], "booths": 1}
        if "visit_probability" in stage:
            stage["visit_probability"]["truck"] = 0.2
    data["cargo"] = {"daily_release_quota": quota, "accepted_per_day": accepted or {},
                     "release_hours": list(release_hours), "initial_backlog": backlog or {}}
    return data


# --------------------------------------------------------------------------------------------
# conservation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cargo", [False, True], ids=["travelers", "with-cargo-backlog"])
def test_conservation_when_stopped_mid_run(cargo):
    """With no drain, the run stops at the horizon with people inside: every arrival has either
    left, or is in exactly one place (queued or in service at one stage, or in the truck backlog)."""
    data = small_scenario()
    data["calendar"].update(days=2, warmup_days=1, drain="0 min")
    data["demand"]["daily_volume"] = 4000           # overloaded: queues at the stop
    if cargo:
        data = with_trucks(data, 0.1, {"KZ_to_CN": 40}, backlog={"KZ_to_CN": 60})
    scenario, layout, records = simulate_one(data)
    horizon = scenario.calendar.days * MINUTES_PER_DAY
    assert records.end_time == pytest.approx(horizon)
    arrivals, visits = records.arrivals, records.visits
    assert np.all(arrivals.time < horizon)
    count = len(arrivals)

    exited = ~np.isnan(records.exit_time)
    queued = np.isnan(visits["start"])
    in_service = ~queued & (visits["end"] > records.end_time)
    open_visit = queued | in_service
    in_queue_or_booth = np.zeros(count, bool)
    in_queue_or_booth[visits["entity"][open_visit]] = True
    in_backlog = np.zeros(count, bool)
    if cargo:
        trucks = arrivals.class_index == layout.class_names.index("truck")
        in_backlog = trucks & np.isnan(records.release_time)
        assert in_backlog.sum() > 0
    assert (~exited).sum() > 0 and open_visit.sum() > 0, "the scenario should be stopped with people inside"

    # arrived = departed + inside, with "inside" counted from the visits and the backlog alone
    assert count == exited.sum() + in_queue_or_booth.sum() + in_backlog.sum()
    assert not np.any(exited & (in_queue_or_booth | in_backlog))
    assert not np.any(in_queue_or_booth & in_backlog)
    # an entity inside is at one stage only
    stages_open = {}
    for entity, stage in zip(visits["entity"][open_visit], visits["stage"][open_visit]):
        stages_open.setdefault(entity, set()).add(stage)
    assert all(len(s) == 1 for s in stages_open.values())
    # everyone who left finished all their visits, the last one at their exit time
    done = ~open_visit
    assert np.all(exited[visits["entity"][done]] | in_queue_or_booth[visits["entity"][done]])
    last_end = np.full(count, -np.inf)
    np.maximum.at(last_end, visits["entity"][done], visits["end"][done])
    assert np.allclose(records.exit_time[exited], last_end[exited])
    # queued tokens never started, tokens in service ended after the stop
    assert np.all(np.isnan(visits["end"][queued]))


def test_everyone_leaves_with_enough_drain():
    scenario, layout, records = simulate_one(small_scenario())
    assert not np.isnan(records.exit_time).any()
    assert not np.isnan(records.visits["start"]).any()
    assert records.end_time <= scenario.calendar.days * MINUTES_PER_DAY + scenario.calendar.drain


# --------------------------------------------------------------------------------------------
# queue discipline
# --------------------------------------------------------------------------------------------
def _check_fifo(arrive: np.ndarray, start: np.ndarray) -> None:
    """Tokens of one queue: service starts in order of arrival; those never started came last."""
    order = np.lexsort((np.nan_to_num(start, nan=np.inf), arrive))
    started = ~np.isnan(start[order])
    if (~started).any():
        assert not started[np.argmax(~started):].any(), "a later arrival started while an earlier one still waits"
    starts = start[order][started]
    assert np.all(np.diff(starts) >= 0), "service starts out of arrival order"


def test_fifo_within_each_priority_level():
    data = mmc_scenario(1.9, 1.0, 2, 3, 1, drain="0 min", green_channel="priority",
                        classes={"green": {"share": 0.3, "green_channel_share": 1.0}, "other": {"share": 0.7}})
    scenario, layout, records = simulate_one(data)
    visits = records.visits
    green = records.arrivals.green[visits["entity"]]
    assert green.sum() > 100 and (~green).sum() > 100
    waited = visits["start"] > visits["arrive"]
    assert waited.mean() > 0.5 and np.isnan(visits["start"]).any()  # heavy load, queue left at the stop
    for level in (True, False):
        mask = green == level
        _check_fifo(visits["arrive"][mask], visits["start"][mask])

    # non-preemptive priority: nobody ordinary starts while a green-channel traveler waits
    g_arrive = np.sort(visits["arrive"][green])
    g_start = np.sort(np.nan_to_num(visits["start"][green], nan=np.inf))
    other_starts = visits["start"][~green & ~np.isnan(visits["start"])]
    green_waiting = np.searchsorted(g_arrive, other_starts, side="left") - \
        np.searchsorted(g_start, other_starts, side="right")
    assert np.all(green_waiting == 0)
    # ...and priority was actually exercised: green travelers overtook ordinary ones
    o_arrive = np.sort(visits["arrive"][~green])
    o_start = np.sort(np.nan_to_num(visits["start"][~green], nan=np.inf))
    green_starts = visits["start"][green & ~np.isnan(visits["start"])]
    others_waiting = np.searchsorted(o_arrive, green_starts, side="left") - \
        np.searchsorted(o_start, green_starts, side="right")
    assert (others_waiting > 0).mean() > 0.3


def test_fifo_in_every_pool_of_a_crossing():
    """Several stages, pools, per-person bus tokens: FIFO holds in each pool's queue."""
    data = small_scenario()
    data["demand"]["daily_volume"] = 1200
    scenario, layout, records = simulate_one(data)
    visits = records.visits
    assert (visits["start"] > visits["arrive"]).mean() > 0.3
    for pool in range(len(layout.pool_names)):
        mask = visits["pool"] == pool
        assert mask.sum() > 20, layout.pool_names[pool]
        _check_fifo(visits["arrive"][mask], visits["start"][mask])


def test_entities_join_the_shortest_lane():
    """Two identical pools for one class: both are used, about equally."""
    data = mmc_scenario(1.5, 1.0, 1, 2, 1, drain="1 d")
    data["stages"]["desk"]["pools"] = {"left": {"serves": ["traveler"], "booths": 1},
                                       "right": {"serves": ["traveler"], "booths": 1}}
    scenario, layout, records = simulate_one(data)
    pools = records.visits["pool"]
    share_left = np.mean(pools == 0)
    assert 0.45 < share_left < 0.6   # ties go to the first listed pool


# --------------------------------------------------------------------------------------------
# opening hours, closures, staffing
# --------------------------------------------------------------------------------------------
def test_opening_hours_and_closed_days():
    data = mmc_scenario(0.3, 1.0, 2, 7, 1, drain="2 d")
    data["calendar"].update(opening_hours={"open": "09:00", "close": "18:00"},
                            closed_dates=["2025-07-09"], closed_weekdays=["sun"])
    scenario, layout, records = simulate_one(data)
    visits, arrivals = records.visits, records.arrivals
    start = visits["start"]
    assert not np.isnan(start).any()
    day, minute = start // MINUTES_PER_DAY, start % MINUTES_PER_DAY
    # no service starts outside opening hours, nor on the closed date (day 2) or Sunday (day 6)
    assert np.all((minute >= 540) & (minute < 1080))
    assert not np.isin(day, [2, 6]).any()
    # no arrivals on closed days; arrivals do come at night (flat hour weights)
    arrival_day = arrivals.time // MINUTES_PER_DAY
    assert not np.isin(arrival_day, [2, 6]).any()
    night = (arrivals.time % MINUTES_PER_DAY < 540) | (arrivals.time % MINUTES_PER_DAY >= 1080)
    assert night.mean() == pytest.approx(15 / 24, abs=0.05)
    # night arrivals wait for the next opening: 09:00 the same day, or the next open day
    next_open = {0: 0, 1: 1, 3: 3, 4: 4, 5: 5}    # before 09:00: same day
    after_close = {0: 1, 1: 3, 3: 4, 4: 5, 5: 7}   # after 18:00: next open day
    first_start = np.full(len(arrivals), np.nan)
    np.fmin.at(first_start, visits["entity"], visits["start"])
    for entity in np.flatnonzero(night):
        d, m = int(arrival_day[entity]), arrivals.time[entity] % MINUTES_PER_DAY
        opening = 540.0 + MINUTES_PER_DAY * (next_open[d] if m < 540 else after_close[d])
        assert first_start[entity] >= opening
    # the booths start serving exactly at 09:00 on each open day (night queue waiting)
    for d in (0, 1, 3, 4, 5):
        assert np.min(start[day == d]) == pytest.approx(d * MINUTES_PER_DAY + 540)
    # entities arriving on open days during opening hours may be served at once
    assert np.any(visits["start"] == visits["arrive"])


def test_staffing_changes_take_effect_at_their_times():
    data = mmc_scenario(0.14, 20.0, 3, 3, 1, drain="1 d")
    data["stages"]["desk"]["service_time"]["traveler"] = {"dist": "lognormal", "mean": "20 min", "cv": 0.3}
    data["stages"]["desk"]["pools"]["booths"]["booths"] = {
        "default": 3, "rules": [{"hours": [2, 4], "booths": 0}, {"hours": [10, 14], "booths": 1}]}
    scenario, layout, records = simulate_one(data)
    schedule = layout.schedules[0]
    visits = records.visits
    start, end, booth = visits["start"], visits["end"], visits["booth"]
    assert not np.isnan(start).any()
    minute = start % MINUTES_PER_DAY
    # nobody is served while no booth is open
    assert not np.any((minute >= 120) & (minute < 240))
    # every service starts at a booth that is open at that moment (booths close highest first)
    assert np.all(booth < staffed_at(schedule, start))
    # one service at a time per booth
    for b in range(3):
        mask = booth == b
        order = np.argsort(start[mask])
        assert np.all(start[mask][order][1:] >= end[mask][order][:-1] - 1e-9)
    # when booths reopen with a queue waiting, all open booths start at once
    for day in range(scenario.calendar.days):
        assert sorted(booth[np.isclose(start, day * MINUTES_PER_DAY + 240)]) == [0, 1, 2], day
        reopen = day * MINUTES_PER_DAY + 840
        waiting = np.sum((visits["arrive"] < reopen) & (start > reopen))
        started_now = set(booth[np.isclose(start, reopen)])
        if waiting >= 2:
            assert {1, 2} <= started_now, day
    # a booth that closes at a shift change finishes its service: some services run past the
    # drops at 02:00 and 10:00, and the traveler leaves at the planned end, not at the change
    change_times, booths = schedule
    drops = [t for t, b, previous in zip(change_times[1:], booths[1:], booths[:-1]) if b < previous]
    overrun = 0
    for drop in drops:
        new_count = staffed_at(schedule, [drop])[0]
        across = (start < drop) & (end > drop) & (booth >= new_count)
        overrun += across.sum()
        assert np.allclose(records.exit_time[visits["entity"][across]], end[across])
        # ...and those booths take nobody new until they reopen
        later = (start >= drop) & (booth >= new_count)
        reopen = change_times[change_times > drop][0]
        assert not np.any(later & (start < reopen))
    assert overrun >= 3
    # simultaneous services never exceed the open booths, except booths finishing a service
    # started before the latest drop
    for t in start:
        running = (start <= t) & (end > t)
        allowed = staffed_at(schedule, [t])[0]
        last_drop = max([d for d in drops if d <= t], default=-np.inf)
        finishing = running & (booth >= allowed) & (start < last_drop)
        assert running.sum() <= allowed + finishing.sum()
    # the hourly table reports the staffing profile
    results = sim.run(scenario, replications=1, seed=3, keep_entities=False)
    staffed = results.hourly[results.hourly["group"] == "all"].set_index("hour")["staffed_booths"]
    expected = np.array([3, 3, 0, 0, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1] + [3] * 10)
    assert np.allclose(staffed.sort_index().to_numpy(), expected)


def test_booth_reduction_holds_when_a_service_ends_at_the_change():
    """Deterministic 60-min services from 09:00 end exactly at 10:00, when the schedule drops from 2
    booths to 1: booth 1 must not take anyone new at 10:00."""
    data = mmc_scenario(0.2, 60.0, 3, 2, 1, drain="1 d")
    data["calendar"]["opening_hours"] = {"open": "09:00", "close": "18:00"}
    data["stages"]["desk"]["service_time"]["traveler"] = {"dist": "deterministic", "value": "60 min"}
    data["stages"]["desk"]["pools"]["booths"]["booths"] = {
        "default": 3, "rules": [{"hours": [9.5, 10], "booths": 2}, {"hours": [10, 12], "booths": 1}]}
    scenario, layout, records = simulate_one(data)
    visits = records.visits
    at_ten = np.isclose(visits["start"], 600.0)
    assert at_ten.any(), "a service should start at 10:00 (booth 0, queue waiting)"
    started = ~np.isnan(visits["start"])
    booth, start = visits["booth"][started], visits["start"][started]
    assert np.all(booth < staffed_at(layout.schedules[0], start)), \
        [(b, s) for b, s in zip(booth, start) if s % MINUTES_PER_DAY == 600.0]


# --------------------------------------------------------------------------------------------
# groups, cargo, optional stages, green lanes
# --------------------------------------------------------------------------------------------
def test_bus_passengers_are_checked_one_by_one_at_per_person_stages():
    data = small_scenario()
    data["classes"]["bus"]["share"] = 0.15
    data["classes"]["pedestrian"]["share"] = 0.5
    scenario, layout, records = simulate_one(data)
    arrivals, visits = records.arrivals, records.visits
    bus = layout.class_names.index("bus")
    passport, customs = layout.stage_names.index("passport"), layout.stage_names.index("customs")
    buses = np.flatnonzero(arrivals.class_index == bus)
    assert len(buses) > 10
    assert len(set(arrivals.group_size[buses])) > 3
    per_stage = {s: np.bincount(visits["entity"][visits["stage"] == s], minlength=len(arrivals))
                 for s in (passport, customs)}
    assert np.array_equal(per_stage[passport][buses], arrivals.group_size[buses])
    assert np.all(per_stage[customs][buses] == 1)
    # cars carry several people too, but are checked as one vehicle everywhere
    cars = np.flatnonzero(arrivals.class_index == layout.class_names.index("car"))
    assert arrivals.group_size[cars].max() > 1
    assert np.all(per_stage[passport][cars] == 1)
    # a bus moves on when its last passenger is done (KZ_to_CN: passport, then customs)
    kz_to_cn = buses[arrivals.direction_index[buses] == 0]
    assert len(kz_to_cn) > 3
    for entity in kz_to_cn:
        mine = visits["entity"] == entity
        at_passport = mine & (visits["stage"] == passport)
        at_customs = mine & (visits["stage"] == customs)
        assert visits["arrive"][at_customs][0] == pytest.approx(visits["end"][at_passport].max())
    # the entity table gives the members' mean wait at the per-person stage
    table = entity_table(records, layout)
    entity = kz_to_cn[0]
    member_waits = (visits["start"] - visits["arrive"])[(visits["entity"] == entity) & (visits["stage"] == passport)]
    assert table.loc[entity, "wait_passport"] == pytest.approx(member_waits.mean())


def test_cargo_gate_releases_at_most_the_quota_and_carries_the_backlog():
    data = small_scenario()
    data["calendar"].update(days=5, warmup_days=1, drain="0 min")
    data = with_trucks(data, 0.1, {"KZ_to_CN": 30}, accepted={"KZ_to_CN": 20}, backlog={"KZ_to_CN": 45},
                       release_hours=(6, 18))
    scenario, layout, records = simulate_one(data)
    arrivals = records.arrivals
    trucks = np.flatnonzero(arrivals.class_index == layout.class_names.index("truck"))
    others = np.setdiff1d(np.arange(len(arrivals)), trucks)
    assert np.isnan(records.release_time[others]).all()
    released = trucks[~np.isnan(records.release_time[trucks])]
    release = records.release_time[released]
    # the initial backlog is there at time zero
    assert np.sum(arrivals.time[trucks] == 0) == 45
    # ~60 trucks a day arrive, the other side accepts 20: exactly 20 a day leave the queue,
    # within the release hours
    per_day = np.bincount((release // MINUTES_PER_DAY).astype(int), minlength=5)
    assert list(per_day) == [20] * 5
    assert np.all((release % MINUTES_PER_DAY >= 360) & (release % MINUTES_PER_DAY < 1080))
    # first in, first out of the electronic queue; the backlog carries over from day to day
    order = np.argsort(release, kind="stable")
    assert np.all(np.diff(released[order]) > 0)
    assert np.all(arrivals.time[released[order][:45]] == 0)
    assert np.any((release >= 2 * MINUTES_PER_DAY) & (arrivals.time[released] == 0))
    still_queued = trucks[np.isnan(records.release_time[trucks])]
    assert len(still_queued) == len(trucks) - 100
    assert still_queued.min() > released.max()
    # released trucks enter the checkpoint at their release time
    visits = records.visits
    first_arrive = np.full(len(arrivals), np.inf)
    np.minimum.at(first_arrive, visits["entity"], visits["arrive"])
    assert np.allclose(first_arrive[released], records.release_time[released])
    assert not np.isin(still_queued, visits["entity"]).any()


def test_cargo_gate_without_acceptance_limit_releases_the_quota():
    data = small_scenario()
    data["calendar"].update(days=3, warmup_days=1, drain="0 min")
    data = with_trucks(data, 0.05, {"KZ_to_CN": 12}, backlog={"KZ_to_CN": 10})
    scenario, layout, records = simulate_one(data)
    trucks = records.arrivals.class_index == layout.class_names.index("truck")
    release = records.release_time[trucks]
    arrived = records.arrivals.time[trucks]
    per_day = np.bincount((release[~np.isnan(release)] // MINUTES_PER_DAY).astype(int), minlength=3)
    # 10 in the backlog + ~30 a day arriving: the quota binds every day
    assert (arrived < MINUTES_PER_DAY).sum() > 12
    assert list(per_day) == [12, 12, 12]


def test_visit_probability_gives_the_share_of_secondary_inspections():
    data = small_scenario()
    data["calendar"]["days"] = 6
    scenario, layout, records = simulate_one(data)
    table = entity_table(records, layout)
    kz_to_cn = table[table["direction"] == "KZ_to_CN"]
    for name, probability in scenario.stages["secondary"].visit_probability.items():
        rows = kz_to_cn[kz_to_cn["class"] == name]
        n = len(rows)
        assert n > 40, name
        share = rows["secondary"].mean()
        assert abs(share - probability) <= 4 * np.sqrt(probability * (1 - probability) / n), (name, share, n)
        assert rows["lane_secondary"].eq("inspection").mean() == share
    # the secondary stage is not on the CN_to_KZ route
    assert not table.loc[table["direction"] == "CN_to_KZ", "secondary"].any()
    # probability 0 and 1 are exact
    data["stages"]["secondary"]["visit_probability"] = {"pedestrian": 0.0, "car": 1.0, "bus": 1.0}
    scenario, layout, records = simulate_one(data)
    table = entity_table(records, layout)
    kz_to_cn = table[table["direction"] == "KZ_to_CN"]
    assert not kz_to_cn.loc[kz_to_cn["class"] == "pedestrian", "secondary"].any()
    assert kz_to_cn.loc[kz_to_cn["class"] != "pedestrian", "secondary"].all()


def test_dedicated_green_lanes_serve_only_eligible_travelers():
    scenario, layout, records = simulate_one(small_scenario())
    table = entity_table(records, layout)
    pedestrians = table[table["class"] == "pedestrian"]
    green = pedestrians["green_channel"]
    assert 0.1 < green.mean() < 0.3
    assert (pedestrians.loc[green, "lane_passport"] == "green").all()
    assert (pedestrians.loc[~green, "lane_passport"] == "foot").all()
    assert (table.loc[table["class"] != "pedestrian", "lane_passport"] != "green").all()
    # green-channel pedestrians use ordinary lanes at stages without a green lane
    assert (pedestrians.loc[green, "lane_customs"] == "all").all()

    # with the green channel switched off, the dedicated lane serves everyone of its classes
    data = small_scenario()
    data["green_channel"] = {"enabled": False}
    scenario, layout, records = simulate_one(data)
    table = entity_table(records, layout)
    pedestrians = table[table["class"] == "pedestrian"]
    lanes = pedestrians.groupby("green_channel")["lane_passport"].agg(lambda lanes: set(lanes))
    assert lanes[False] == {"green", "foot"}


def test_green_travelers_use_ordinary_lanes_while_the_green_lane_is_closed():
    """Documented in sim.model: eligible travelers use ordinary pools while every dedicated pool of
    the stage is closed; everyone else never uses the green lane."""
    data = small_scenario()
    data["calendar"]["days"] = 4
    data["stages"]["passport"]["pools"]["green"]["booths"] = {"default": 0, "rules": [{"hours": [8, 20], "booths": 1}]}
    scenario, layout, records = simulate_one(data)
    visits, arrivals = records.visits, records.arrivals
    passport = layout.stage_names.index("passport")
    green_pool = layout.pool_names.index("passport/green")
    at_passport = (visits["stage"] == passport) & (arrivals.class_index[visits["entity"]] == 0)
    green = arrivals.green[visits["entity"]] & at_passport
    open_now = staffed_at(layout.schedules[green_pool], visits["arrive"]) > 0
    assert (green & open_now).sum() > 20 and (green & ~open_now).sum() > 5
    assert np.all(visits["pool"][green & open_now] == green_pool)
    assert not np.any(visits["pool"][green & ~open_now] == green_pool)
    assert not np.any(visits["pool"][at_passport & ~green] == green_pool)

    # while the whole checkpoint is closed (night, opening hours 09-18), eligible travelers queue
    # at the green lane, which opens with the others
    data = small_scenario()
    data["calendar"]["opening_hours"] = {"open": "09:00", "close": "18:00"}
    scenario, layout, records = simulate_one(data)
    table = entity_table(records, layout)
    eligible = table[(table["class"] == "pedestrian") & table["green_channel"]]
    night = (eligible["arrival_min"] % MINUTES_PER_DAY < 540) | (eligible["arrival_min"] % MINUTES_PER_DAY >= 1080)
    assert night.sum() > 5
    assert (eligible["lane_passport"] == "green").all()


def test_extends_and_overrides_change_only_the_named_field(tmp_path):
    base_path = tmp_path / "small.yaml"
    base_path.write_text(SMALL_YAML, encoding="utf-8")
    (tmp_path / "variants").mkdir()
    child_path = tmp_path / "variants" / "more_booths.yaml"
    child_path.write_text("extends: ../small.yaml\n"
                          "stages:\n  passport:\n    pools:\n      foot:\n        booths: 3\n", encoding="utf-8")
    base = sim.load_scenario(base_path).model_dump(mode="json", by_alias=True)
    child = sim.load_scenario(child_path).model_dump(mode="json", by_alias=True)
    assert flatten(child) != flatten(base)
    assert diff(base, child) == {"stages.passport.pools.foot.booths": (1, 3)}

    # the same variant through dotted overrides, on the file and on the loaded scenario
    overridden = sim.load_scenario(base_path, {"stages.passport.pools.foot.booths": 3})
    assert overridden.model_dump(mode="json", by_alias=True) == child
    again = sim.load_scenario(sim.load_scenario(base_path), {"stages.passport.pools.foot.booths": 3})
    assert again == overridden
    assert diff(base, sim.load_scenario(base_path, {"calendar.days": 9}).model_dump(mode="json", by_alias=True)) \
        == {"calendar.days": (2, 9)}

    # a chain of extends, a list replaced wholesale, the child's name wins
    grandchild = write_yaml(tmp_path / "variants" / "night.yaml",
                            {"extends": "more_booths.yaml", "name": "night",
                             "demand": {"hour_weights": [1] * 24}})
    result = sim.load_scenario(grandchild).model_dump(mode="json", by_alias=True)
    changes = diff(child, result)
    assert set(changes) == {"name"} | {f"demand.hour_weights.{h}" for h in range(6, 18)}
    assert result["demand"]["daily_volume"] == base["demand"]["daily_volume"]


def test_override_of_a_loaded_scenario_changes_nothing_else():
    base = load(small_scenario())
    variant = sim.load_scenario(base, {"calendar.days": base.calendar.days})   # same value
    assert variant.stages["passport"].service_time["pedestrian"].mean == \
        base.stages["passport"].service_time["pedestrian"].mean
    assert variant == base


def flatten(data, prefix: str = "") -> dict:
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return {prefix: data}
    flat = {}
    for key, value in items:
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def diff(before: dict, after: dict) -> dict:
    a, b = flatten(before), flatten(after)
    return {key: (a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)}
