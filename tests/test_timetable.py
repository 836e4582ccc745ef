"""Timetabled train arrivals (sim.timetable) and the draft rail block (sim.scenario.rail)."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import yaml
import pytest
from pydantic import ValidationError

import sim
from sim.scenario.rail import Rail
from sim.scenario.schema import DIRECTIONS, Calendar
from sim.timetable import train_arrivals
from conftest import assert_matches_theory

MONDAY = dt.date(2025, 7, 7)


def rail(**overrides) -> Rail:
    data = {
        "train_types": {
            "container": {"wagons": {"dist": "uniform", "min": 50, "max": 57},
                          "containers": {"dist": "empirical", "values": [41, 57], "weights": [1, 3]}},
            "bulk": {"wagons": {"dist": "fixed", "value": 60}},
        },
        "timetable": [{"train_type": "container", "direction": "CN_to_KZ", "times": ["13:00", "01:30"]}],
        "daily_paths": [{"train_type": "bulk", "direction": "KZ_to_CN", "per_day": 4}],
    }
    data.update(overrides)
    return Rail.model_validate(data)


def calendar(days: int = 3, **fields) -> Calendar:
    return Calendar(start_date=MONDAY, days=days, **fields)


def test_zero_delay_gives_the_exact_timetable():
    trains = train_arrivals(rail(), calendar(3), seed=1, replication=0)
    container = [d * 1440 + m for d in range(3) for m in (90, 780)]
    bulk = [d * 1440 + m for d in range(3) for m in (0, 360, 720, 1080)]
    assert len(trains) == 18
    assert np.array_equal(trains.time, np.sort(container + bulk))
    assert np.all(np.diff(trains.time) >= 0) and np.array_equal(trains.time, trains.scheduled)
    is_container = trains.train_type == 0
    assert np.array_equal(trains.time[is_container], container)
    assert set(trains.direction[is_container]) == {DIRECTIONS.index("CN_to_KZ")}
    assert set(trains.direction[~is_container]) == {DIRECTIONS.index("KZ_to_CN")}
    assert np.all(trains.wagons[~is_container] == 60) and np.all(trains.containers[~is_container] == 0)
    assert np.all((trains.wagons[is_container] >= 50) & (trains.wagons[is_container] <= 57))
    assert set(trains.containers[is_container]) <= {41, 57}


def test_random_spread_keeps_the_daily_count_inside_the_window():
    spec = rail(timetable=[], daily_paths=[{"train_type": "bulk", "direction": "KZ_to_CN", "per_day": 7,
                                            "spread": "random", "window": {"start": "06:00", "end": "18:00"}}])
    trains = train_arrivals(spec, calendar(20), seed=3, replication=0)
    day, minute = np.divmod(trains.time, 1440)
    assert np.array_equal(np.bincount(day.astype(int), minlength=20), np.full(20, 7))
    assert minute.min() >= 360 and minute.max() < 1080
    assert abs(minute.mean() - 720) < 3 * 12 * 60 / np.sqrt(12 * 140)      # uniform: 3 SE
    even = rail(timetable=[], daily_paths=[{"train_type": "bulk", "direction": "KZ_to_CN", "per_day": 3,
                                            "window": {"start": "06:00", "end": "18:00"}}])
    assert list(train_arrivals(even, calendar(1), 3, 0).time) == [360, 600, 840]


@pytest.mark.parametrize("delay, mean, sd", [({"dist": "gamma", "mean": "45 min", "cv": 1.2}, 45.0, 54.0),
                                             ({"dist": "exponential", "mean": "2 h"}, 120.0, 120.0),
                                             ({"dist": "deterministic", "value": "20 min"}, 20.0, 0.0)])
def test_the_delay_distribution_mean_is_recovered(delay, mean, sd):
    spec = rail(timetable=[{"train_type": "container", "direction": "CN_to_KZ", "delay": delay,
                            "times": [f"{h:02d}:15" for h in range(24)]}], daily_paths=[])
    per_replication = []
    for replication in range(10):
        trains = train_arrivals(spec, calendar(30), seed=5, replication=replication)
        assert np.allclose(trains.time, trains.scheduled + trains.delay)
        assert np.all(trains.delay >= 0)
        per_replication.append(trains.delay.mean())
    if sd == 0:
        assert np.all(np.asarray(per_replication) == mean)
    else:
        assert_matches_theory("delay mean", mean, per_replication, max_rel_half_width=0.05)
        # and the spread: the sample SD of one replication within 15 % of the stated one
        assert np.std(trains.delay, ddof=1) == pytest.approx(sd, rel=0.15)


def test_composition_frequencies():
    spec = rail(timetable=[{"train_type": "container", "direction": "CN_to_KZ",
                            "times": [f"{h:02d}:00" for h in range(24)]}], daily_paths=[])
    trains = train_arrivals(spec, calendar(100), seed=11, replication=0)          # 2400 trains
    share_57 = np.mean(trains.containers == 57)
    assert abs(share_57 - 0.75) < 3 * np.sqrt(0.75 * 0.25 / 2400)
    assert set(np.unique(trains.wagons)) == set(range(50, 58))                     # uniform, inclusive
    assert abs(trains.wagons.mean() - 53.5) < 3 * np.sqrt((8 * 8 - 1) / 12 / 2400)


def test_reproducible_and_common_random_numbers():
    delayed = {"dist": "lognormal", "mean": "1 h", "cv": 0.8}
    base = rail(timetable=[{"name": "express", "train_type": "container", "direction": "CN_to_KZ",
                            "times": ["02:00", "14:00"], "delay": delayed}], daily_paths=[])
    first = train_arrivals(base, calendar(10), seed=9, replication=2)
    again = train_arrivals(base, calendar(10), seed=9, replication=2)
    assert all(np.array_equal(getattr(first, f), getattr(again, f)) for f in ("time", "wagons", "containers"))
    assert not np.array_equal(first.time, train_arrivals(base, calendar(10), seed=9, replication=3).time)
    # another line added (before it) leaves the named line's draws alone
    more = rail(timetable=[{"train_type": "container", "direction": "KZ_to_CN", "times": ["03:00"], "delay": delayed},
                           base.timetable[0].model_dump(by_alias=True, mode="json")],
                daily_paths=[{"train_type": "bulk", "direction": "KZ_to_CN", "per_day": 9, "spread": "random"}])
    mine = train_arrivals(more, calendar(10), seed=9, replication=2)
    express = mine.line == 1
    assert np.array_equal(mine.time[express], first.time) and np.array_equal(mine.containers[express], first.containers)
    # a closure removes that day's paths and leaves the other paths' delays as they were
    closed = train_arrivals(base, calendar(10, closed_dates=[MONDAY + dt.timedelta(days=4)]), seed=9, replication=2)
    kept = (first.scheduled // 1440) != 4
    assert np.array_equal(np.sort(closed.delay), np.sort(first.delay[kept]))


def test_closures_cancel_or_hold_paths():
    spec = rail(daily_paths=[])
    # Monday 7 July 2025 + 7 days: closed on Wednesday the 9th and on Sundays
    cal = calendar(7, closed_dates=[dt.date(2025, 7, 9)], closed_weekdays=["sun"])
    cancelled = train_arrivals(spec, cal, seed=1, replication=0)
    days = (cancelled.time // 1440).astype(int)
    assert sorted(set(days)) == [0, 1, 3, 4, 5] and len(cancelled) == 10
    held = train_arrivals(rail(daily_paths=[], on_closed_days="held"), cal, seed=1, replication=0)
    # Wednesday's two paths run at Thursday 00:00; Sunday's have no open day left: cancelled
    assert len(held) == 12
    assert list(held.time[(held.time >= 3 * 1440) & (held.time < 4 * 1440)]) == [4320, 4320, 4320 + 90, 4320 + 780]


def test_day_selection():
    spec = rail(timetable=[{"train_type": "container", "direction": "CN_to_KZ", "times": ["12:00"], "days": "weekend"},
                           {"train_type": "container", "direction": "CN_to_KZ", "times": ["08:00"], "days": ["mon", "thu"]}],
                daily_paths=[])
    trains = train_arrivals(spec, calendar(7), seed=1, replication=0)
    assert list(trains.time) == [480, 3 * 1440 + 480, 5 * 1440 + 720, 6 * 1440 + 720]


@pytest.mark.parametrize("change, message", [
    ({"timetable": [{"train_type": "tank", "direction": "CN_to_KZ", "times": ["01:00"]}]}, "not one of the train_types"),
    ({"timetable": [{"train_type": "bulk", "direction": "CN_to_KZ", "times": ["24:00"]}]}, "clock time"),
    ({"timetable": [{"train_type": "bulk", "direction": "north", "times": ["01:00"]}]}, "KZ_to_CN"),
    ({"daily_paths": [{"train_type": "bulk", "direction": "KZ_to_CN", "per_day": 2,
                       "window": {"start": "10:00", "end": "09:00"}}]}, "end after start"),
    ({"train_types": {"bulk": {"wagons": {"dist": "uniform", "min": 9, "max": 3}}}, "timetable": []}, "max >= min"),
    ({"timetable": [{"name": "a", "train_type": "bulk", "direction": "KZ_to_CN", "times": ["01:00"]}],
      "daily_paths": [{"name": "a", "train_type": "bulk", "direction": "KZ_to_CN", "per_day": 1}]}, "must differ"),
    ({"timetable": [{"train_type": "bulk", "direction": "KZ_to_CN", "times": ["01:00"],
                     "delay": {"dist": "gamma", "mean": 30, "cv": 1}}]}, "duration"),
])
def test_bad_rail_blocks_are_refused(change, message):
    with pytest.raises(ValidationError, match=message):
        rail(**change)


def test_poisson_paths_are_a_poisson_process():
    spec = rail(timetable=[], daily_paths=[{"train_type": "bulk", "direction": "KZ_to_CN", "per_day": 12,
                                            "spread": "poisson"}])
    trains = train_arrivals(spec, calendar(200), seed=4, replication=0)
    counts = np.bincount((trains.time // 1440).astype(int), minlength=200)
    assert abs(counts.mean() - 12) < 3 * np.sqrt(12 / 200)
    assert counts.var(ddof=1) == pytest.approx(12, rel=0.3)          # Poisson: variance = mean
    gaps = np.diff(trains.time)
    assert np.all(gaps >= 0)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.06)  # exponential gaps: CV 1


def test_docs_rail_drafts_validate():
    """The `rail:` block of docs/rail.md's worked example and those of the shipped rail scenarios
    validate and draw their arrivals: per_day paths every day of a week without closures."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "rail.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]
    drafts = [block["rail"] for block in blocks if isinstance(block, dict) and "rail" in block]
    assert len(drafts) == 1
    specs = [Rail.model_validate(data) for data in drafts] + [
        sim.load_scenario(root / "scenarios" / f"{name}.yaml").rail
        for name in ("dostyk_rail", "khorgos_rail", "bakhty_rail", "dostyk_rail_shift")]
    for spec in specs:
        trains = train_arrivals(spec, calendar(7), seed=1, replication=0)
        expected = 7 * (sum(line.per_day for line in spec.daily_paths) + sum(len(line.times) for line in spec.timetable))
        assert len(trains) == expected
        assert np.all(trains.wagons > 0)
