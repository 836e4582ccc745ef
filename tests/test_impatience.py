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
from sim.model import Checkpoint, simulate
from sim.demand import generate_arrivals
from sim.plan import build_layout, draw_plan
from sim.catalogue import METRICS
from sim.console import key_figures
from sim.records import BALKED, RENEGED
from sim.scenario.schema import DIRECTIONS
from scipy.sparse import lil_matrix
from scipy.sparse.linalg import spsolve

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


# --- spill-back: a full stage blocks the one before it (when_full: block) ----------------------
def _tandem(capacity: int, first_mean: float = 0.8, second_mean: float = 0.9, days: int = 2, rate: float = 1.0,
            warmup_days: int = 0) -> dict:
    """An M/M/1 desk feeding a second M/M/1 desk whose waiting space holds ``capacity`` and blocks."""
    data = _impatient(rate, first_mean, 1, days=days, warmup_days=warmup_days)
    desk = data["stages"]["desk"]
    data["stages"]["second"] = {**desk, "service_time": {"traveler": {"dist": "exponential", "mean": f"{second_mean} min"}},
                                "queue_capacity": capacity, "when_full": "block"}
    data["routes"]["KZ_to_CN"] = ["desk", "second"]
    return data


def _booth_intervals_do_not_overlap(visits: dict) -> bool:
    """Every booth serves (or is held by) one token at a time: [start, held_until or end)."""
    started = ~np.isnan(visits["start"])
    busy_until = np.where(np.isnan(visits["held_until"]), visits["end"], visits["held_until"])
    for pool in np.unique(visits["pool"][started]):
        for booth in np.unique(visits["booth"][started & (visits["pool"] == pool)]):
            rows = np.flatnonzero(started & (visits["pool"] == pool) & (visits["booth"] == booth))
            rows = rows[np.argsort(visits["start"][rows])]
            if np.any(visits["start"][rows][1:] < busy_until[rows][:-1] - 1e-9):
                return False
    return True


def _most_waiting(joined: np.ndarray, starts: np.ndarray) -> int:
    """The most tokens in a waiting space at once, given when they got in and when their service
    started (NaN: never); a start and a join at the same instant count the start first."""
    starts = starts[~np.isnan(starts)]
    events = np.concatenate([np.c_[joined, np.ones(len(joined))], np.c_[starts, -np.ones(len(starts))]])
    events = events[np.lexsort((events[:, 1], events[:, 0]))]
    return int(np.cumsum(events[:, 1]).max())


def test_a_full_stage_holds_the_booth_before_it():
    """Spill-back: the second desk's waiting space never holds more than its cap; a token that
    finds it full holds its first-desk booth (held_until), which serves nobody meanwhile; its wait
    at the second desk counts from the end of its first service, so no minute vanishes."""
    records, metrics = _metrics(load(_tandem(2)), 0)
    visits = records.visits
    held = ~np.isnan(visits["held_until"])
    assert held.any() and (visits["stage"][held] == 0).all()
    assert (visits["held_until"][held] > visits["end"][held]).all()
    assert _booth_intervals_do_not_overlap(visits)
    first, second = (np.flatnonzero(visits["stage"] == s) for s in (0, 1))
    by_entity = {int(e): row for e, row in zip(visits["entity"][first], first)}
    ready = np.array([visits["end"][by_entity[int(e)]] for e in visits["entity"][second]])
    assert np.array_equal(visits["arrive"][second], ready)      # waits from the end of the first service
    entered = visits["entered"][second]
    outside = ~np.isnan(entered)
    assert outside.any()
    # each token held outside entered when the booth it held was freed
    freed = np.array([visits["held_until"][by_entity[int(e)]] for e in visits["entity"][second][outside]])
    assert np.array_equal(entered[outside], freed)
    # in the waiting space (entered or arrived .. start) never more than the cap
    assert _most_waiting(np.where(outside, entered, visits["arrive"][second]), visits["start"][second]) <= 2
    assert metrics["all", "unfinished"] == 0 and (records.outcome == 0).all()    # nobody lost: they wait
    # the minutes booths were held are the minutes tokens waited outside, all in the second stage's wait
    assert np.sum(visits["held_until"][held] - visits["end"][held]) == pytest.approx(
        np.sum(entered[outside] - visits["arrive"][second][outside]))
    assert metrics["stage=second", "wait_mean"] > 0


def test_blocking_at_the_first_stage_keeps_arrivals_waiting_outside():
    """At a route's first stage, arrivals that find the hall full wait in the approach: their wait
    counts from arrival, the hall holds at most its cap, and nobody is lost."""
    data = _impatient(1.0, 2.5, 2, days=2, capacity=3)
    data["stages"]["desk"]["when_full"] = "block"
    records, metrics = _metrics(load(data), 0)
    visits = records.visits
    outside = ~np.isnan(visits["entered"])
    assert outside.any() and "held_until" not in visits
    assert np.array_equal(visits["arrive"], records.arrivals.time[visits["entity"]])
    assert _most_waiting(np.where(outside, visits["entered"], visits["arrive"]), visits["start"]) <= 3
    assert (records.outcome == 0).all() and metrics["all", "wait_max"] > 0
    # the same desk with an uncapped hall: the same waits in total, only where they are spent differs
    open_hall = _impatient(1.0, 2.5, 2, days=2)
    assert _metrics(load(open_hall), 0)[1]["all", "wait_mean"] == pytest.approx(metrics["all", "wait_mean"], rel=1e-9)


def test_trucks_that_cannot_enter_stay_in_the_cargo_backlog():
    """The cargo gate does not release into a full first stage: the truck's release is when it
    enters, so the time counts as backlog time, and the stage's waiting space stays under its cap."""
    data = _impatient(0.5, 3.0, 1, days=3)
    data["classes"]["traveler"]["cargo"] = True
    data["cargo"] = {"daily_release_quota": {"KZ_to_CN": 700}, "release_hours": [0, 24]}
    data["stages"]["desk"]["queue_capacity"] = 1
    data["stages"]["desk"]["when_full"] = "block"
    records, _ = _metrics(load(data), 0)
    visits = records.visits
    assert "entered" not in visits                       # nobody waited outside the stage: they stayed in the backlog
    released = records.release_time[visits["entity"]]
    assert np.array_equal(visits["arrive"], released)
    slots = np.diff(np.sort(records.release_time[~np.isnan(records.release_time)]))
    assert (slots > 1440 / 700 + 1e-6).any()             # some releases waited beyond their slot
    assert _most_waiting(visits["arrive"], visits["start"]) <= 1


# --- balking by the queue in front, and by the announced wait ---------------------------------
def _balking(rate: float, service_mean: float, servers: int, days: int, balking: dict, warmup_days: int = 1,
             patience: dict | None = None) -> dict:
    data = _impatient(rate, service_mean, servers, days=days, warmup_days=warmup_days, patience=patience)
    data["stages"]["desk"]["balking"] = balking
    return data


def test_a_certain_balk_at_a_queue_length_is_a_queue_cap():
    """by_queue [[k-1, 0], [k, 1]]: whoever sees k waiting turns away, as with queue_capacity k;
    the same draws, the same records."""
    stepped = load(_balking(1.0, 2.5, 2, days=2, balking={"by_queue": [[3, 0.0], [4, 1.0]]}))
    capped = load(_impatient(1.0, 2.5, 2, days=2, capacity=4))
    a, b = simulate(stepped, 1, 0), simulate(capped, 1, 0)
    for column in ("entity", "arrive", "start", "end", "left"):
        assert np.array_equal(a.visits[column], b.visits[column], equal_nan=True)
    assert np.array_equal(a.outcome, b.outcome) and (a.outcome == BALKED).any()


def _balking_birth_death(rate: float, service_mean: float, servers: int, curve: list) -> tuple[float, float]:
    """Exact M/M/c with balking p(queue) (linear between the curve's points): (P(balk), mean wait
    of the admitted), from the birth-death chain truncated where it is negligible."""
    lengths, chances = zip(*curve)
    n = np.arange(2000)
    queue = np.maximum(n - servers, 0)
    balk = np.interp(queue, lengths, chances)
    birth = rate * (1 - balk)
    death = np.minimum(n + 1, servers) / service_mean
    log_pi = np.concatenate(([0.0], np.cumsum(np.log(np.maximum(birth[:-1], 1e-300)) - np.log(death[:-1]))))
    pi = np.exp(log_pi - log_pi.max())
    pi /= pi.sum()
    admitted = rate * np.sum(pi * (1 - balk))
    return float(np.sum(pi * balk)), float(np.sum(pi * queue) / admitted)


def _balking_check(rate, service_mean, servers, curve, days, replications):
    scenario = load(_balking(rate, service_mean, servers, days=days, balking={"by_queue": curve}))
    balked, served_wait = [], []
    for replication in range(replications):
        _, metrics = _metrics(scenario, replication)
        balked.append(metrics["all", "lost_share"])
        served_wait.append(metrics["all", "wait_mean_served"])
    exact_balk, exact_wait = _balking_birth_death(rate, service_mean, servers, curve)
    label = f"M/M/{servers} balking {curve}"
    assert_matches_theory(f"{label} P(balk)", exact_balk, balked)
    assert_matches_theory(f"{label} wait of the admitted", exact_wait, served_wait)


def test_balking_by_queue_length_matches_the_birth_death_chain():
    _balking_check(1.0, 2.2, 2, [[0, 0.0], [10, 0.6]], days=4, replications=8)       # rho 1.1 offered


@pytest.mark.slow
@pytest.mark.parametrize("rate,service_mean,servers,curve", [(0.9, 1.0, 1, [[0, 0.2]]),
                                                              (1.5, 4.0, 4, [[2, 0.0], [5, 0.5], [20, 1.0]])])
def test_balking_by_queue_length_long(rate, service_mean, servers, curve):
    _balking_check(rate, service_mean, servers, curve, days=10, replications=12)


def test_balking_draws_have_their_own_stream():
    """Common random numbers: a variant with another balking curve, or none, changes no other draw,
    and the same entity keeps its balking draw."""
    variants = [_impatient(1.0, 2.2, 2, days=2, patience=EXPONENTIAL_4),
                _balking(1.0, 2.2, 2, days=2, balking={"by_queue": [[0, 0.1]]}, patience=EXPONENTIAL_4),
                _balking(1.0, 2.2, 2, days=2, balking={"by_queue": [[0, 0.0], [5, 0.9]]}, patience=EXPONENTIAL_4)]
    plans = []
    for data in variants:
        scenario = load(data)
        arrivals = generate_arrivals(scenario, 3, 0)
        plans.append(draw_plan(scenario, build_layout(scenario), arrivals, 3, 0))
    assert plans[0].balk_draw is None
    for plan in plans[1:]:
        assert plan.service == plans[0].service and plan.patience == plans[0].patience
    assert plans[1].balk_draw[0] == plans[2].balk_draw[0]
    uniform = np.frombuffer(plans[1].balk_draw[0])
    assert 0.45 < uniform.mean() < 0.55


def test_balking_by_the_announced_wait():
    """The board shows the mean wait of the last N tokens served; an arrival balks exactly when it
    exceeds the threshold (recomputed here from the records), or its own patience without one."""
    board = {"last": 5, "threshold": "10 min"}
    records, metrics = _metrics(load(_balking(1.0, 1.2, 1, days=2, balking={"by_announced_wait": board})), 0)
    visits = records.visits
    served = ~np.isnan(visits["start"])
    order = np.argsort(visits["start"][served], kind="stable")
    starts = visits["start"][served][order]
    waits = (visits["start"] - visits["arrive"])[served][order]
    cumulative = np.concatenate(([0.0], np.cumsum(waits)))
    arrive = visits["arrive"]
    seen = np.searchsorted(starts, arrive, side="left")
    shown = np.where(seen > 0, (cumulative[seen] - cumulative[np.maximum(seen - 5, 0)]) / np.maximum(np.minimum(seen, 5), 1), 0.0)
    balked = ~np.isnan(visits["left"])
    assert balked.any() and (~balked).any()
    assert np.array_equal(balked, shown > 10.0)
    assert metrics["all", "balked"] > 0 and metrics["all", "reneged"] == 0
    # without a threshold each traveller compares the board with its own patience
    own = _balking(1.0, 1.2, 1, days=2, balking={"by_announced_wait": {"last": 5}},
                   patience={"dist": "deterministic", "value": "1000 min"})
    assert (simulate(load(own), 1, 0).outcome == 0).all()       # a patience no board reaches: nobody balks


# --- patience from the crossing; deferral to the next opening -------------------------------------
def test_patience_from_the_crossing_counts_every_stage_queue():
    """patience_from: crossing: a traveller leaves once its waits since arrival add up to its
    patience, wherever it is; patience_from: stage restarts the clock at each queue."""
    patience = {"dist": "deterministic", "value": "6 min"}
    data = _two_stages(patience, allow_leave=True)
    data["classes"]["traveler"]["patience_from"] = "crossing"
    crossing, _ = _metrics(load(data), 0)
    stage, _ = _metrics(load(_two_stages(patience, allow_leave=True)), 0)
    for records, from_crossing in ((crossing, True), (stage, False)):
        lost = records.outcome > 0
        since_arrival = records.leave_time[lost] - records.arrivals.time[lost]
        assert lost.any() and since_arrival.min() >= 6.0 - 1e-9
        visits = records.visits
        at_second = visits["stage"] == 1
        left_second = at_second & ~np.isnan(visits["left"])
        assert left_second.any()
        waited = visits["left"][left_second] - visits["arrive"][left_second]
        assert (waited < 6.0 - 1e-9).any() == from_crossing    # the clock started at the crossing
        served = at_second & ~np.isnan(visits["start"])
        if from_crossing:          # served travellers never waited longer than their patience in all
            entity = visits["entity"][served]
            first_wait = np.zeros(len(records.arrivals))
            first = (visits["stage"] == 0) & ~np.isnan(visits["start"])
            first_wait[visits["entity"][first]] = (visits["start"] - visits["arrive"])[first]
            total = first_wait[entity] + (visits["start"] - visits["arrive"])[served]
            assert total.max() <= 6.0 + 1e-9


def test_deferred_travellers_come_back_at_the_next_opening():
    """on_leave: next_opening at a post open 09:00-18:00: who gives up (in the evening queue, or at
    night before the booths open) comes back when the booths open, counted once."""
    data = _impatient(0.3, 4.0, 1, days=3, patience={"dist": "deterministic", "value": "30 min"},
                      on_leave="next_opening")
    data["calendar"]["opening_hours"] = {"open": "09:00", "close": "18:00"}
    records, metrics = _metrics(load(data), 0)
    back = np.flatnonzero(records.came_back)
    assert len(back) > 10
    visits = records.visits
    for entity in back:
        arrive = np.sort(visits["arrive"][visits["entity"] == entity])
        assert len(arrive) == 2 and arrive[1] % MINUTES_PER_DAY == pytest.approx(9 * 60)
        assert arrive[1] > arrive[0]
    assert metrics["all", "deferred"] > 0
    # a post that never closes: the next day at the clock time the traveller joined, as 'defer'
    always = _impatient(1.0, 1.5, 1, days=3, patience={"dist": "deterministic", "value": "20 min"}, on_leave="next_opening")
    day_later = _impatient(1.0, 1.5, 1, days=3, patience={"dist": "deterministic", "value": "20 min"}, on_leave="defer")
    a, b = simulate(load(always), 1, 0), simulate(load(day_later), 1, 0)
    assert a.came_back.any()
    returned = np.flatnonzero(a.came_back)[:20]
    for entity in returned:
        rows_a, rows_b = a.visits["entity"] == entity, b.visits["entity"] == entity
        # leave time + 24 h (next_opening's fallback) vs join time + 24 h (defer): 20 min apart
        assert np.sort(a.visits["arrive"][rows_a])[1] - np.sort(b.visits["arrive"][rows_b])[1] == pytest.approx(20.0)


# --- jockeying ---------------------------------------------------------------------------------
def _two_lanes(rate: float, service: dict, jockeying: bool, days: int = 2, warmup_days: int = 0) -> dict:
    """One desk with two one-booth lanes serving the same class."""
    data = _impatient(rate, 1.0, 1, days=days, warmup_days=warmup_days)
    desk = data["stages"]["desk"]
    desk["service_time"] = {"traveler": service}
    desk["pools"] = {"left": {"serves": ["traveler"], "booths": 1}, "right": {"serves": ["traveler"], "booths": 1}}
    desk["jockeying"] = jockeying
    return data


def test_jockeying_lanes_serve_as_one_pooled_queue():
    """Equal deterministic services: with jockeying no booth idles while someone waits, so the
    service starts are those of one pool of two booths; without it a lane idles beside a queue."""
    service = {"dist": "deterministic", "value": "2 min"}
    pooled = _impatient(0.9, 2.0, 2, days=2, warmup_days=0)
    pooled["stages"]["desk"]["service_time"] = {"traveler": service}
    reference = np.sort(simulate(load(pooled), 1, 0).visits["start"])
    jockeying = simulate(load(_two_lanes(0.9, service, True)), 1, 0).visits
    fixed = simulate(load(_two_lanes(0.9, service, False)), 1, 0).visits
    assert np.array_equal(np.sort(jockeying["start"]), reference)
    assert not np.array_equal(np.sort(fixed["start"]), reference)
    assert (jockeying["pool"] == 0).any() and (jockeying["pool"] == 1).any()


def _jockeying_check(rate: float, days: int, replications: int) -> None:
    scenario = load(_two_lanes(rate, {"dist": "exponential", "mean": "1 min"}, True, days=days, warmup_days=1))
    waits = [_metrics(scenario, replication)[1]["all", "wait_mean"] for replication in range(replications)]
    assert_matches_theory(f"two lanes with jockeying = M/M/2 at rho {rate / 2}", analytic.mmc_wait_mean(rate, 1.0, 2), waits)


def test_jockeying_lanes_wait_as_erlang_c():
    _jockeying_check(1.4, days=6, replications=8)


@pytest.mark.slow
def test_jockeying_lanes_wait_as_erlang_c_long():
    _jockeying_check(1.8, days=10, replications=12)


# --- bad impatience input names its field ---------------------------------------------------------
@pytest.mark.parametrize("change,field", [
    (lambda d: d["stages"]["desk"].update(when_full="block"), "stages.desk.when_full"),
    (lambda d: d["stages"]["desk"].update(jockeying=True), "stages.desk.jockeying"),
    (lambda d: d["stages"]["desk"].update(balking={}), "stages.desk.balking"),
    (lambda d: d["stages"]["desk"].update(balking={"by_queue": [[5, 0.1], [2, 0.3]]}), "stages.desk.balking.by_queue"),
    (lambda d: d["stages"]["desk"].update(balking={"by_queue": [[0, 1.5]]}), "stages.desk.balking.by_queue"),
    (lambda d: d["stages"]["desk"].update(balking={"by_announced_wait": {"last": 0}}), "stages.desk.balking.by_announced_wait.last"),
    (lambda d: d["stages"]["desk"].update(balking={"by_announced_wait": {"last": 5}}),
     "stages.desk.balking.by_announced_wait.threshold"),
    (lambda d: d["classes"]["traveler"].update(patience_from="crossing"), "classes.traveler.patience_from"),
    (lambda d: d["classes"]["traveler"].update(patience_from="queue"), "classes.traveler.patience_from"),
    (lambda d: d["classes"]["traveler"].update(on_leave="tomorrow"), "classes.traveler.on_leave"),
    (lambda d: d["stages"]["desk"].update(when_full="spill"), "stages.desk.when_full"),
])
def test_bad_impatience_input_names_the_field(change, field):
    data = _impatient(1.0, 1.0, 1, days=1, warmup_days=0)
    change(data)
    with pytest.raises(sim.ScenarioError) as caught:
        load(data)
    assert field in str(caught.value), str(caught.value)


def test_balking_after_exit_control_needs_allow_leave():
    data = _two_stages(EXPONENTIAL_4)
    data["stages"]["second"]["balking"] = {"by_queue": [[0, 0.1]]}
    with pytest.raises(sim.ScenarioError, match="stages.second.balking.*allow_leave"):
        load(data)
    data["stages"]["second"]["queue_capacity"] = 3
    data["stages"]["second"]["when_full"] = "block"
    del data["stages"]["second"]["balking"]
    assert load(data).stages["second"].when_full == "block"      # blocking needs no leaving


def test_waiting_outside_when_the_run_stops_still_counts():
    """The second desk shuts for good on day 2: its waiting space fills, the first desk's booth
    stays held to the end of the run, and the traveller holding it still has its visit at the
    second desk (never started, waiting since its first service ended): no wait vanishes."""
    data = _tandem(2, days=2)
    data["stages"]["second"]["pools"]["booths"]["booths"] = {"default": 1, "rules": [{"from": "2025-07-08", "booths": 0}]}
    records, metrics = _metrics(load(data), 0)
    visits = records.visits
    first, second = visits["stage"] == 0, visits["stage"] == 1
    done_first = first & ~np.isnan(visits["start"])
    assert np.array_equal(np.sort(visits["entity"][done_first]), np.sort(visits["entity"][second]))
    held = ~np.isnan(visits["held_until"])
    assert visits["held_until"][held].max() == records.end_time
    stuck = visits["entity"][held & (visits["held_until"] == records.end_time)]
    rows = np.flatnonzero(second & np.isin(visits["entity"], stuck))
    assert len(rows) == len(stuck) and np.isnan(visits["start"][rows]).all()
    assert metrics["all", "unfinished"] > 0 and metrics["all", "unfinished_wait_mean"] > 0


def _tandem_blocking_wait(rate: float, first_mean: float, second_mean: float, capacity: int,
                          first_max: int = 300) -> float:
    """Exact mean wait (sojourn less both services; blocked time is wait) of two M/M/1 desks in
    tandem where the second holds ``capacity`` waiting and a token finding it full holds the first
    desk's booth: the Markov chain of (at desk 1 incl. a blocked token, at desk 2, blocked),
    truncated at ``first_max`` at desk 1 (negligible mass there at the loads tested)."""
    mu1, mu2, full = 1 / first_mean, 1 / second_mean, capacity + 1
    states = [(n1, n2, b) for n1 in range(first_max + 1) for n2 in range(full + 1) for b in (0, 1)
              if not b or (n1 >= 1 and n2 == full)]
    index = {state: i for i, state in enumerate(states)}
    generator = lil_matrix((len(states), len(states)))
    for state in states:
        n1, n2, blocked = state
        moves = []
        if n1 < first_max:
            moves.append(((n1 + 1, n2, blocked), rate))
        if n1 >= 1 and not blocked:
            moves.append(((n1 - 1, n2 + 1, 0) if n2 < full else (n1, n2, 1), mu1))
        if n2 >= 1:         # a service ends at desk 2: the blocked token, if any, takes the space
            moves.append(((n1 - 1, n2, 0) if blocked else (n1, n2 - 1, 0), mu2))
        for target, transition_rate in moves:
            generator[index[state], index[target]] += transition_rate
            generator[index[state], index[state]] -= transition_rate
    balance = generator.T.tolil()
    balance[0, :] = 1.0                                   # probabilities add up to 1
    right = np.zeros(len(states))
    right[0] = 1.0
    pi = spsolve(balance.tocsr(), right)
    in_system = sum(p * (n1 + n2) for p, (n1, n2, _) in zip(pi, states))
    return float(in_system / rate - first_mean - second_mean)


def test_tandem_blocking_matches_its_markov_chain():
    """Spill-back against theory: the mean wait (blocked time included) of a blocking tandem of
    two M/M/1 desks, and the chain's own check: a large waiting space gives two M/M/1 queues."""
    rate, first_mean, second_mean = 0.6, 0.8, 0.9
    free = _tandem_blocking_wait(rate, first_mean, second_mean, 60)
    mm1 = sum(rate * m * m / (1 - rate * m) for m in (first_mean, second_mean))
    assert free == pytest.approx(mm1, rel=1e-9)
    exact = _tandem_blocking_wait(rate, first_mean, second_mean, 1)
    assert exact > 1.2 * free                                # the blocking is felt
    scenario = load(_tandem(1, first_mean, second_mean, days=8, rate=rate, warmup_days=1))
    waits = [_metrics(scenario, replication)[1]["all", "wait_mean"] for replication in range(8)]
    assert_matches_theory("M/M/1 -> M/M/1 with 1 waiting place, blocking", exact, waits)


def test_held_booths_count_as_occupied_and_apart_as_blocked():
    """Spill-back: a booth held by a served token whose next stage is full is not free. Its held
    minutes count in the stage's utilization and, apart, in its blocked share; both checked by
    hand against the visit records (one booth open all the time at each desk)."""
    scenario = load(_tandem(1, first_mean=0.8, second_mean=0.95))
    records, metrics = _metrics(scenario, 0)
    visits, window = records.visits, (0.0, 2 * MINUTES_PER_DAY)

    def minutes(starts: np.ndarray, ends: np.ndarray) -> float:
        ends = np.minimum(ends, records.end_time)
        return float(np.sum(np.clip(np.minimum(ends, window[1]) - np.maximum(starts, window[0]), 0, None)))

    desk = (visits["stage"] == 0) & ~np.isnan(visits["start"])
    held = np.where(np.isnan(visits["held_until"]), visits["end"], visits["held_until"])
    open_minutes = window[1] - window[0]
    serving = minutes(visits["start"][desk], visits["end"][desk]) / open_minutes
    blocked = minutes(visits["end"][desk], held[desk]) / open_minutes
    assert blocked > 0.02                                   # the case does block
    assert metrics["stage=desk", "utilization"] == pytest.approx(serving + blocked, rel=1e-9)
    assert metrics["stage=desk", "blocked_share"] == pytest.approx(blocked, rel=1e-9)
    assert metrics["stage=second", "blocked_share"] == 0 and metrics["stage=desk", "utilization"] <= 1
    without = _metrics(load(_tandem(10_000, first_mean=0.8, second_mean=0.95)), 0)[1]
    assert ("stage=desk", "blocked_share") not in without           # no booth ever held: no such metric


def test_patience_by_direction_replaces_the_class_patience_for_that_direction_only():
    """`patience_by_direction` draws from its own stream per direction: travellers of the other
    direction keep the class's patience draws exactly, and only the direction's change."""
    def both_ways(rate: float, service_mean: float, servers: int, spec: dict) -> dict:
        data = mmc_scenario(rate, service_mean, servers, days=2, warmup_days=0, classes={"traveler": {
            "share": 1.0, "directions": {"KZ_to_CN": 0.5, "CN_to_KZ": 0.5}, **spec}})
        data["routes"]["CN_to_KZ"] = ["desk"]
        return data

    def plan_of(spec: dict):
        scenario = load(both_ways(1.0, 1.8, 2, spec))
        arrivals = generate_arrivals(scenario, 3, 0)
        return arrivals, np.frombuffer(draw_plan(scenario, build_layout(scenario), arrivals, 3, 0).patience)
    arrivals, both = plan_of({"patience": EXPONENTIAL_4})
    _, split = plan_of({"patience": EXPONENTIAL_4,
                        "patience_by_direction": {"CN_to_KZ": {"dist": "deterministic", "value": "7 min"}}})
    _, only = plan_of({"patience_by_direction": {"CN_to_KZ": {"dist": "deterministic", "value": "7 min"}}})
    west = arrivals.direction_index == DIRECTIONS.index("CN_to_KZ")
    assert west.any() and (~west).any()
    assert np.array_equal(split[~west], both[~west])                 # the other direction: same draws
    assert np.all(split[west] == 7.0) and np.all(only[west] == 7.0)
    assert np.all(np.isinf(only[~west]))                              # no class patience: they never leave
    records, _ = _metrics(load(both_ways(1.0, 0.95, 1, {
        "patience_by_direction": {"CN_to_KZ": {"dist": "deterministic", "value": "7 min"}}})), 0)
    left = records.outcome != 0
    assert left.any() and np.all(records.arrivals.direction_index[left] == DIRECTIONS.index("CN_to_KZ"))


# --- the bookkeeping that keeps spill-back cheap (block-speed) -------------------------------
def test_the_count_of_queued_tokens_is_what_the_queues_hold_after_every_event():
    """``Checkpoint.waiting``, which queue caps and balking curves read instead of adding up the
    lanes of the stage, is the number of tokens in the stage's queues after every event: with
    groups, a green lane, jockeying, a balking curve, a cap that balks and one that blocks."""
    data = small_scenario()
    data["calendar"].update(days=2, warmup_days=0)
    data["demand"]["daily_volume"] = 1500
    for spec in data["classes"].values():
        spec.update(patience={"dist": "exponential", "mean": "20 min"}, on_leave="defer")
    stages = data["stages"]
    stages["passport"].update(jockeying=True, allow_leave=True, balking={"by_queue": [[5, 0.0], [40, 0.8]]})
    stages["customs"].update(queue_capacity=4, when_full="block")
    stages["secondary"].update(queue_capacity=2, allow_leave=True)
    scenario = load(data)
    layout = build_layout(scenario)
    arrivals = generate_arrivals(scenario, 1, 0)
    checkpoint = Checkpoint(scenario, layout, draw_plan(scenario, layout, arrivals, 1, 0), arrivals)
    assert checkpoint.counted == [True, True, True]
    env, steps, most = checkpoint.env, 0, [0, 0, 0]
    while env.peek() < np.inf and not checkpoint.all_done.triggered:
        env.step()
        steps += 1
        for stage, pools in enumerate(checkpoint.stage_pools):
            assert checkpoint.waiting[stage] == sum(pool.queued() for pool in pools), (stage, env.now)
            most[stage] = max(most[stage], checkpoint.waiting[stage])
    assert steps > 1000 and min(most) > 0
    assert any(checkpoint.blocked) or checkpoint.log.held_row          # the blocking cap was reached
    assert checkpoint.outcome.count(BALKED) > 0                         # so was a balking rule


def test_a_token_that_skips_a_stage_holds_the_booth_it_left():
    """Booths can be held at every stage before one that blocks, not only the stage right before
    it: a token that skips the middle stage (visit probability) holds its first-stage booth."""
    data = _tandem(1, first_mean=0.5, second_mean=0.5, rate=1.0)
    middle = data["stages"]["second"]
    del middle["queue_capacity"], middle["when_full"]
    middle.update(kind="secondary", visit_probability={"traveler": 0.5})
    data["stages"]["third"] = {**middle, "kind": "primary", "visit_probability": {},
                               "service_time": {"traveler": {"dist": "exponential", "mean": "0.9 min"}},
                               "queue_capacity": 1, "when_full": "block"}
    data["routes"]["KZ_to_CN"] = ["desk", "second", "third"]
    records, _ = _metrics(load(data), 0)
    visits = records.visits
    held = ~np.isnan(visits["held_until"])
    assert set(np.unique(visits["stage"][held])) == {0, 1}
    skipped = set(visits["entity"][visits["stage"] == 0]) - set(visits["entity"][visits["stage"] == 1])
    assert set(visits["entity"][held & (visits["stage"] == 0)]) <= skipped
    assert _booth_intervals_do_not_overlap(visits)


def test_the_rail_check_is_bound_only_where_there_is_a_rail_block():
    """A road scenario's advance is the plain route walk; a rail scenario's goes through the yard."""
    for path, rail in (("scenarios/khorgos.yaml", False), ("scenarios/khorgos_rail.yaml", True)):
        scenario = sim.load_scenario(path, {"calendar.days": 3})
        layout = build_layout(scenario)
        arrivals = generate_arrivals(scenario, 1, 0)
        checkpoint = Checkpoint(scenario, layout, draw_plan(scenario, layout, arrivals, 1, 0), arrivals)
        assert checkpoint.advance.__func__ is (Checkpoint._advance_rail if rail else Checkpoint.advance)
