"""Impatience (issue 11): patience, queue caps, deferral; against Erlang-A and M/M/c/K.

The engine checks reneging lazily (when a booth would serve a token), so the tests pin what that
must give: leavers wait exactly their patience, nobody leaves where the route forbids it, a
variant with another patience changes no other draw, and the steady state matches the exact
birth-death values of M/M/c+M (Erlang-A) and M/M/c/K.
"""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim import analytic
from sim.metrics import ReplicationMetrics
from sim.model import simulate
from sim.demand import generate_arrivals
from sim.plan import build_layout, draw_plan
from sim.catalogue import METRICS
from sim.console import key_figures
from sim.records import BALKED, RENEGED
from conftest import MINUTES_PER_DAY, assert_matches_theory, load, mmc_scenario, small_scenario


def _impatient(rate: float, service_mean: float, servers: int, days: int, patience: dict | None = None,
               capacity: int | None = None, on_leave: str = "lost", warmup_days: int = 1) -> dict:
    """An M/M/c desk; the class has ``patience`` and the desk a ``queue_capacity`` if given."""
    spec = {"share": 1.0, "on_leave": on_leave}
    if patience is not None:
        spec["patience"] = patience
    data = mmc_scenario(rate, service_mean, servers, days=days, warmup_days=warmup_days,
                        classes={"traveler": spec})
    if capacity is not None:
        data["stages"]["desk"]["queue_capacity"] = capacity
    return data


def _two_stages(patience: dict, allow_leave: bool = False) -> dict:
    """Two desks in a row, each an overloaded M/M/1, so waits exceed patience at both."""
    data = _impatient(1.0, 0.95, 1, days=2, patience=patience)
    desk = data["stages"]["desk"]
    data["stages"]["second"] = {**desk, "allow_leave": allow_leave}
    data["routes"]["KZ_to_CN"] = ["desk", "second"]
    return data


def _metrics(scenario: sim.Scenario, replication: int, seed: int = 1):
    layout = build_layout(scenario)
    records = simulate(scenario, seed, replication, layout)
    return records, {(g, m): v for g, m, v in ReplicationMetrics(records, layout, scenario).rows()}


EXPONENTIAL_4 = {"dist": "exponential", "mean": "4 min"}


# --- the scenario format ---------------------------------------------------------------------
def test_defaults_are_infinite_patience_and_no_cap():
    scenario = load(mmc_scenario(1.0, 1.0, 2, days=1, warmup_days=0))
    traveler, desk = scenario.classes["traveler"], scenario.stages["desk"]
    assert traveler.patience is None and traveler.on_leave == "lost"
    assert desk.queue_capacity is None and desk.allow_leave is False
    assert not build_layout(scenario).impatient


def test_a_queue_cap_after_the_first_stage_needs_allow_leave():
    data = _two_stages(EXPONENTIAL_4)
    data["stages"]["second"]["queue_capacity"] = 10
    with pytest.raises(sim.ScenarioError, match="stages.second.queue_capacity.*allow_leave"):
        load(data)
    data["stages"]["second"]["allow_leave"] = True
    assert load(data).stages["second"].queue_capacity == 10


# --- the engine ------------------------------------------------------------------------------
def test_leavers_wait_exactly_their_patience_and_the_served_less():
    scenario = load(_impatient(1.0, 0.9, 1, days=2, patience={"dist": "deterministic", "value": "5 min"}))
    records, metrics = _metrics(scenario, 0)
    visits = records.visits
    left = ~np.isnan(visits["left"])
    assert left.any() and (records.outcome == RENEGED).sum() == left.sum()
    assert np.allclose(visits["left"][left] - visits["arrive"][left], 5.0)
    served = ~np.isnan(visits["start"])
    assert (visits["start"][served] - visits["arrive"][served]).max() <= 5.0
    assert metrics["all", "wait_max"] <= 5.0 + 1e-9
    assert metrics["all", "unfinished"] == 0                  # leavers are neither finished nor inside
    assert metrics["all", "wait_mean_lost"] == pytest.approx(5.0)


def test_nobody_leaves_after_the_first_stage_unless_allowed():
    for allow_leave in (False, True):
        scenario = load(_two_stages({"dist": "deterministic", "value": "3 min"}, allow_leave))
        records, _ = _metrics(scenario, 0)
        visits = records.visits
        left_at_second = (~np.isnan(visits["left"]) & (visits["stage"] == 1)).any()
        assert left_at_second == allow_leave
        assert (~np.isnan(visits["left"]) & (visits["stage"] == 0)).any()


def test_longer_patience_changes_no_other_draw():
    """Common random numbers: patience has its own stream; an ample patience serves everyone as
    without impatience."""
    base = mmc_scenario(1.0, 1.8, 2, days=2, warmup_days=0)
    patient = _impatient(1.0, 1.8, 2, days=2, warmup_days=0, patience={"dist": "deterministic", "value": "300 d"})
    plain, ample = load(base), load(patient)
    short = load(_impatient(1.0, 1.8, 2, days=2, warmup_days=0, patience=EXPONENTIAL_4))
    plans = []
    for scenario in (plain, ample, short):
        layout = build_layout(scenario)
        arrivals = generate_arrivals(scenario, 3, 0)
        plans.append((arrivals, draw_plan(scenario, layout, arrivals, 3, 0)))
    for arrivals, plan in plans[1:]:
        assert np.array_equal(arrivals.time, plans[0][0].time)
        assert plan.service == plans[0][1].service
    assert np.all(np.frombuffer(plans[1][1].patience) == 300 * MINUTES_PER_DAY)
    assert plans[0][1].patience is None
    a, b = simulate(plain, 3, 0), simulate(ample, 3, 0)
    for column in ("entity", "arrive", "start", "end"):
        assert np.array_equal(a.visits[column], b.visits[column])


def test_balking_at_a_full_queue_keeps_it_under_its_cap():
    scenario = load(_impatient(1.0, 2.5, 2, days=2, capacity=4))
    records, metrics = _metrics(scenario, 0)
    assert metrics["all", "queue_length_max"] <= 4
    assert metrics["all", "balked"] > 0 and metrics["all", "reneged"] == 0
    balked = records.outcome == BALKED
    assert np.isnan(records.exit_time[balked]).all()
    in_window = records.arrivals.time >= MINUTES_PER_DAY
    assert metrics["all", "lost_share"] == pytest.approx(np.mean(balked[in_window]))


def test_deferred_travellers_come_back_once_the_next_day():
    """Booths shut at night: who reneges in the evening queue is back the next evening."""
    data = _impatient(1.0, 1.5, 1, days=3, patience={"dist": "deterministic", "value": "20 min"},
                      on_leave="defer")
    records, metrics = _metrics(load(data), 0)
    deferred = records.deferred_stage >= 0
    back = records.came_back
    assert deferred.any() and back.any() and not (back & ~deferred).any()
    visits = records.visits
    for entity in np.flatnonzero(back)[:50]:
        rows = visits["entity"] == entity
        assert rows.sum() == 2                      # one token, logged on each day
        arrive = np.sort(visits["arrive"][rows])
        assert arrive[1] - arrive[0] >= MINUTES_PER_DAY - 1e-9
    again = back & (records.outcome > 0)            # left a second time: lost
    assert np.all(records.deferred_stage[again] == 0)
    assert metrics["all", "deferred"] > 0
    arrived = records.arrivals.time >= MINUTES_PER_DAY
    assert metrics["all", "arrivals_per_day"] == pytest.approx(arrived[records.arrivals.time < 3 * MINUTES_PER_DAY].sum() / 2)


# --- exact values ----------------------------------------------------------------------------
def test_erlang_a_known_values():
    # patience rate = service rate: the number in system is that of M/M/inf, Poisson(a)
    a, c, mu = 2.0, 2, 0.5
    n = np.arange(100.0)
    poisson = np.exp(-a + n * np.log(a) - np.cumsum(np.log(np.maximum(n, 1.0))))
    queue = np.sum(np.maximum(n - c, 0) * poisson)
    result = analytic.erlang_a(a * mu, mu, mu, c)
    assert result.abandon_probability == pytest.approx(queue * mu / (a * mu), rel=1e-12)
    assert result.wait_probability == pytest.approx(poisson[c:].sum(), rel=1e-12)
    assert result.abandon_probability == pytest.approx(0.2706705664732254, rel=1e-12)   # 2 e^-2
    # nearly no abandonment: Erlang C
    slow = analytic.erlang_a(0.8, 1.0, 1e-9, 1)
    assert slow.wait_mean_served == pytest.approx(analytic.mmc_wait_mean(0.8, 1.0, 1), rel=1e-6)
    assert slow.wait_probability == pytest.approx(0.8, rel=1e-6)
    # abandonment = patience rate x mean wait of everyone (exponential patience)
    over = analytic.erlang_a(3.0, 1.0, 0.2, 2)
    assert over.abandon_probability == pytest.approx(0.2 * over.wait_mean, rel=1e-9)


def test_mmck_blocking_known_values():
    assert analytic.mmck_blocking(1.0, 1.0, 1, 0) == pytest.approx(0.5)         # Erlang B(1, 1)
    assert analytic.mmck_blocking(2.0, 1.0, 2, 0) == pytest.approx(0.4)         # Erlang B(2, 2)
    # M/M/1/K at rho = 1: uniform over 0 ... K + 1 in system
    assert analytic.mmck_blocking(1.0, 1.0, 1, 3) == pytest.approx(1 / 5)


def _erlang_a_check(rate: float, service_mean: float, servers: int, patience_mean: float, days: int,
                    replications: int) -> None:
    scenario = load(_impatient(rate, service_mean, servers, days=days,
                               patience={"dist": "exponential", "mean": f"{patience_mean} min"}))
    exact = analytic.erlang_a(rate, 1 / service_mean, 1 / patience_mean, servers)
    lost, served_wait, wait, little = [], [], [], []
    for replication in range(replications):
        _, metrics = _metrics(scenario, replication)
        lost.append(metrics["all", "lost_share"])
        served_wait.append(metrics["all", "wait_mean_served"])
        wait.append(metrics["all", "wait_mean"])
        arrival_rate = metrics["all", "arrivals_per_day"] / MINUTES_PER_DAY
        little.append(metrics["all", "queue_length_mean"] / (arrival_rate * metrics["all", "wait_mean"]))
    label = f"M/M/{servers}+M rho={rate * service_mean / servers:.2f}"
    assert_matches_theory(f"{label} P(abandon)", exact.abandon_probability, lost)
    assert_matches_theory(f"{label} served wait", exact.wait_mean_served, served_wait)
    assert_matches_theory(f"{label} wait", exact.wait_mean, wait)
    # Little's law with abandonment: leavers are in the queue until they leave, and only then
    assert np.allclose(little, 1.0, atol=0.03), little


def test_erlang_a():
    _erlang_a_check(1.0, 2.0, 2, 2.0, days=4, replications=8)


@pytest.mark.slow
@pytest.mark.parametrize("rate,service_mean,servers,patience_mean",
                         [(0.9, 1.0, 1, 5.0), (2.0, 4.0, 6, 10.0), (1.5, 4.0, 4, 3.0)])   # rho 0.9, 1.33, 1.5
def test_erlang_a_long(rate, service_mean, servers, patience_mean):
    _erlang_a_check(rate, service_mean, servers, patience_mean, days=10, replications=12)


def _mmck_check(rate: float, service_mean: float, servers: int, capacity: int, days: int, replications: int) -> None:
    scenario = load(_impatient(rate, service_mean, servers, days=days, capacity=capacity))
    exact = analytic.mmck_blocking(rate, 1 / service_mean, servers, capacity)
    blocked = [_metrics(scenario, replication)[1]["all", "lost_share"] for replication in range(replications)]
    assert_matches_theory(f"M/M/{servers}/{servers + capacity} blocking", exact, blocked)


def test_mmck_blocking():
    _mmck_check(1.0, 2.0, 2, 3, days=4, replications=8)


def test_a_zero_queue_cap_is_erlang_b():
    """queue_capacity 0: who finds a free booth is served, who finds none is lost (M/M/c/c)."""
    _mmck_check(1.0, 2.0, 3, 0, days=4, replications=8)


@pytest.mark.slow
def test_mmck_blocking_long():
    _mmck_check(1.2, 4.0, 4, 5, days=10, replications=12)


# --- a whole run -----------------------------------------------------------------------------
def test_a_run_with_impatience_reports_leaving_everywhere():
    """The small crossing with impatient pedestrians and deferring cars: the new metrics are in
    the summary (and the catalogue), the console shows the lost share, and a scenario without
    impatience has none of them."""
    data = small_scenario()
    data["classes"]["pedestrian"]["patience"] = {"dist": "exponential", "mean": "3 min"}
    data["classes"]["car"]["patience"] = {"dist": "deterministic", "value": "2 min"}
    data["classes"]["car"]["on_leave"] = "defer"
    results = sim.run(data, replications=2, progress=False)
    produced = set(results.summary["metric"])
    leaving = {"balked", "reneged", "deferred", "lost_share", "wait_mean_served", "wait_mean_lost"}
    assert leaving - {"balked"} <= produced and produced <= set(METRICS)
    assert "lost" in key_figures(results).splitlines()[1]
    entities = results.entities
    assert set(entities["outcome"]) <= {"served", "inside", "balked", "reneged"}
    reneged = entities["outcome"] == "reneged"
    assert reneged.any() and entities["left_min"][reneged].notna().all() and entities["exit_min"][reneged].isna().all()
    assert (entities["deferred_at"][entities["class"] == "car"] != "").any()
    assert (entities["deferred_at"][entities["class"] != "car"] == "").all()
    plain = sim.run(small_scenario(), replications=1, progress=False)
    assert not leaving & set(plain.summary["metric"])
    assert "lost" not in key_figures(plain).splitlines()[1]
    assert "outcome" not in plain.entities.columns
