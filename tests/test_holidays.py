"""Named public holidays (the ``holidays`` package): periods, closures, factors, displacement.

* The holidays the sources and the issue name are known: Chinese New Year / Spring Festival,
  Golden Week, Nauryz, Kazakhstan's 1, 7 and 9 May; their periods include the official bridge
  days (Spring Festival 2025: 28 Jan - 4 Feb).
* A closed holiday shuts the crossing (no demand, no booth) like a closure date; a factor
  multiplies the demand over the period; a misspelt name is an error with a hint.
* Displacement moves shares of a closed day's demand to the open days around the closure
  (exactly, on expected counts), and Kolzhat's Dragon Boat closure shows a pre-closure rush and a
  post-closure rebound in simulated daily throughput (paired replications, > 3 standard errors).
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import sim
from sim import holidays
from sim.calendar import MINUTES_PER_DAY, day_dates, open_days
from sim.demand import daily_volumes
from sim.plan import build_layout
from conftest import SCENARIOS, load, mean_se, small_scenario


def _dates(*isos: str) -> list[dt.date]:
    return [dt.date.fromisoformat(iso) for iso in isos]


def _span(first: str, last: str) -> list[dt.date]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]


@pytest.mark.parametrize("country, name, year, expected", [
    ("CN", "Spring Festival", 2025, _span("2025-01-28", "2025-02-04")),
    ("CN", "Chinese New Year", 2024, _span("2024-02-10", "2024-02-16")),   # the package lists 10-16 Feb
    ("CN", "Golden Week", 2025, _span("2025-10-01", "2025-10-08")),
    ("CN", "National Day", 2024, _span("2024-10-01", "2024-10-07")),
    ("CN", "Dragon Boat Festival", 2025, _span("2025-05-31", "2025-06-02")),
    ("KZ", "Nauryz", 2025, _span("2025-03-21", "2025-03-25")),
    ("KZ", "Kazakhstan's People Solidarity Holiday", 2025, _dates("2025-05-01")),
    ("KZ", "Defender of the Fatherland Day", 2025, _dates("2025-05-07")),
    ("KZ", "Victory Day", 2025, _dates("2025-05-09")),
])
def test_holidays_are_known_by_name_with_their_periods(country, name, year, expected):
    assert holidays.holiday_period(country, name, (year,)) == expected


def test_names_are_case_insensitive_and_unknown_names_have_no_period():
    assert holidays.holiday_period("KZ", "nauryz", (2025,)) == holidays.holiday_period("KZ", "Nowruz Holiday", (2025,))
    assert holidays.holiday_period("KZ", "Golden Week", (2025,)) == []       # a Chinese holiday
    assert not holidays.is_known("CN", "Nauryz", (2025,))


def _with_holidays(entries, start="2025-01-27", days=10, displacement=None) -> dict:
    data = small_scenario()
    data["calendar"].update(start_date=start, days=days, warmup_days=1, holidays=entries)
    if displacement is not None:
        data["calendar"]["displacement"] = displacement
    return data


def test_a_misspelt_holiday_is_an_error_with_a_hint():
    data = _with_holidays([{"country": "KZ", "name": "Nauriz", "closed": True}])
    with pytest.raises(sim.ScenarioError) as raised:
        load(data)
    (problem,) = raised.value.problems
    assert problem.path == "calendar.holidays.0.name"
    assert "no KZ holiday named 'Nauriz'" in problem.message and "Nowruz Holiday" in problem.message


def test_a_closed_holiday_shuts_the_crossing_and_its_demand():
    scenario = load(_with_holidays([{"country": "CN", "name": "Spring Festival", "closed": True}]))
    closed = [date for date, is_open in zip(day_dates(scenario.calendar, 10), open_days(scenario.calendar, 10))
              if not is_open]
    assert closed == _span("2025-01-28", "2025-02-04")
    volumes = daily_volumes(scenario)
    assert np.all(volumes[1:9] == 0) and volumes[0] > 0 and volumes[9] > 0
    layout = build_layout(scenario)
    noon = np.arange(1, 9) * MINUTES_PER_DAY + 720.0                       # 28 Jan ... 4 Feb at 12:00
    for times, booths in layout.schedules:
        assert np.all(booths[np.searchsorted(times, noon, side="right") - 1] == 0)
        assert booths[np.searchsorted(times, 720.0, side="right") - 1] > 0  # 27 Jan: open


def test_a_holiday_factor_multiplies_the_demand_of_its_period():
    base = load(_with_holidays([]))
    rush = load(_with_holidays([{"country": "CN", "name": "Spring Festival", "factor": 1.6}]))
    ratio = daily_volumes(rush) / daily_volumes(base)
    assert np.allclose(ratio, [1.0] + [1.6] * 8 + [1.0])


def test_displacement_moves_shares_of_the_closed_days_to_the_days_around_them():
    """By construction on expected counts: 30 % of the closed days' demand spread over the 2 open
    days before, 50 % over the 2 after; the other days keep theirs; 20 % is lost."""
    entries = [{"country": "KZ", "name": "Nauryz", "closed": True}]            # 21-25 March 2025
    plain = load(_with_holidays([], start="2025-03-17", days=14))
    closed = load(_with_holidays(entries, start="2025-03-17", days=14,
                                 displacement={"before": 0.3, "after": 0.5, "days": 2}))
    before, after = daily_volumes(plain), daily_volumes(closed)
    lost = before[4:9].sum()                                                # 21-25 March
    expected = before.copy()
    expected[4:9] = 0
    expected[2:4] += 0.3 * lost / 2                                         # 19, 20 March
    expected[9:11] += 0.5 * lost / 2                                        # 26, 27 March
    assert np.allclose(after, expected)
    assert after.sum() == pytest.approx(before.sum() - 0.2 * lost)


def test_displacement_shares_over_one_are_refused():
    data = _with_holidays([], displacement={"before": 0.7, "after": 0.5})
    with pytest.raises(sim.ScenarioError) as raised:
        load(data)
    assert [p.path for p in raised.value.problems] == ["calendar.displacement"]


def test_kolzhat_shows_a_rush_before_and_a_rebound_after_its_closure():
    """Kolzhat's Dragon Boat closure (Sat 31 May - Mon 2 June 2025, a named CN holiday): more
    leave on the two open days before (Thu 29, Fri 30 May) and the two after (Tue 3, Wed 4 June)
    than on the ordinary open days measured (Wed 28 May, Thu 5, Fri 6 June), per replication,
    by more than 3 standard errors of the paired difference (3 replications, 12 days)."""
    scenario = sim.load_scenario(SCENARIOS / "kolzhat.yaml", {"calendar.days": 12})
    assert not any(open_days(scenario.calendar, 12)[5:8])
    results = sim.run(scenario, replications=3, seed=scenario.run.seed, workers=1, keep_entities=True)
    entities = results.entities
    exits = entities.assign(day=entities["exit_min"] // MINUTES_PER_DAY).groupby(["replication", "day"]).size()
    per_day = exits.unstack(fill_value=0)
    ordinary = per_day[[2, 10, 11]].mean(axis=1).to_numpy()
    rush, rebound = per_day[[3, 4]].mean(axis=1).to_numpy(), per_day[[8, 9]].mean(axis=1).to_numpy()
    for label, days in (("rush", rush), ("rebound", rebound)):
        difference, se, _ = mean_se(days - ordinary)
        assert np.all(days > ordinary) and difference > 3 * se, (label, days, ordinary)
    # and by construction: Thu 29 May gets 40 % / 2 of the closed Saturday's and Monday's demand
    # (400 x weekday factors 1.05 and 1.1; the Sunday is closed every week and moves nothing)
    expected = daily_volumes(scenario)
    assert expected[3] - expected[10] == pytest.approx(0.4 * (400 * 1.05 + 400 * 1.1) / 2)
