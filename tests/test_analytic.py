"""Tests for sim.analytic against independently derived closed forms."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from sim import analytic as an


def erlang_c_direct(c: int, a: float) -> float:
    """Erlang C by the textbook summation, in exact rational arithmetic.

    P0^-1 = sum_{k<c} a^k/k! + a^c/c! * c/(c-a);  C = a^c/c! * c/(c-a) * P0.
    """
    a = Fraction(a)
    term = a**c / math.factorial(c) * Fraction(c) / (c - a)
    total = sum(a**k / math.factorial(k) for k in range(c)) + term
    return float(term / total)


# --------------------------------------------------------------------------- #
# Erlang C and M/M/c
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("lam,mu", [(0.5, 1.0), (0.9, 1.0), (3.0, 4.0), (0.01, 2.0)])
def test_mm1_matches_closed_form(lam, mu):
    rho = lam / mu
    assert an.erlang_c(1, rho) == pytest.approx(rho)  # P(wait) = rho for M/M/1
    assert an.mmc_wait_mean(lam, mu, 1) == pytest.approx(rho / (mu - lam))
    assert an.mmc_queue_length_mean(lam, mu, 1) == pytest.approx(rho**2 / (1 - rho))


@pytest.mark.parametrize("lam,mu", [(1.0, 1.0), (1.9, 1.0), (0.3, 0.5), (5.0, 3.0)])
def test_erlang_c_two_servers_closed_form(lam, mu):
    rho = lam / (2 * mu)
    expected = 2 * rho**2 / (1 + rho)
    assert an.mmc_wait_probability(lam, mu, 2) == pytest.approx(expected)
    assert an.erlang_c(2, lam / mu) == pytest.approx(expected)


@pytest.mark.parametrize(
    "c,a",
    [(1, 0.3), (3, 2.5), (5, 1.0), (10, 8.0), (20, 19.5), (50, 40.0),
     (100, 90.0), (100, 99.0), (100, 60.0), (300, 280.0)],
)
def test_erlang_c_matches_direct_summation(c, a):
    assert an.erlang_c(c, a) == pytest.approx(erlang_c_direct(c, a), rel=1e-10)


def test_erlang_c_large_c_is_finite_and_sane():
    value = an.erlang_c(800, 780.0)
    assert 0.0 < value < 1.0
    assert value == pytest.approx(erlang_c_direct(800, 780.0), rel=1e-9)


def test_erlang_c_zero_load_and_monotonicity():
    assert an.erlang_c(4, 0.0) == 0.0
    loads = [0.5, 1.0, 2.0, 3.0, 3.9]
    values = [an.erlang_c(4, a) for a in loads]
    assert values == sorted(values)  # increasing in load
    by_servers = [an.erlang_c(c, 3.0) for c in range(4, 10)]
    assert all(x > y for x, y in zip(by_servers, by_servers[1:]))  # decreasing in c


def test_mmc_wait_mean_and_queue_length():
    lam, mu, c = 8.0, 1.0, 10
    C = erlang_c_direct(c, lam / mu)
    assert an.mmc_wait_mean(lam, mu, c) == pytest.approx(C / (c * mu - lam))
    assert an.mmc_queue_length_mean(lam, mu, c) == pytest.approx(lam * C / (c * mu - lam))
    assert an.mmc_utilization(lam, mu, c) == pytest.approx(0.8)


def test_mmc_wait_tail_and_quantile_are_inverse():
    lam, mu, c = 4.2, 0.5, 10
    C = an.mmc_wait_probability(lam, mu, c)
    assert an.mmc_wait_tail(lam, mu, c, 0.0) == pytest.approx(C)
    assert an.mmc_wait_tail(lam, mu, c, 2.0) == pytest.approx(C * math.exp(-(c * mu - lam) * 2.0))
    for q in (0.5, 0.8, 0.95, 0.999):
        t = an.mmc_wait_quantile(lam, mu, c, q)
        if q <= 1 - C:
            assert t == 0.0
        else:
            assert t > 0.0
            assert an.mmc_wait_tail(lam, mu, c, t) == pytest.approx(1 - q)


def test_mmc_wait_quantile_zero_below_no_wait_mass():
    lam, mu, c = 1.0, 1.0, 4  # lightly loaded: most customers do not wait
    C = an.mmc_wait_probability(lam, mu, c)
    assert C < 0.1
    assert an.mmc_wait_quantile(lam, mu, c, 0.0) == 0.0
    assert an.mmc_wait_quantile(lam, mu, c, 1 - C) == 0.0
    assert an.mmc_wait_quantile(lam, mu, c, 1 - C / 2) == pytest.approx(math.log(2) / (c * mu - lam))


def test_mean_equals_integral_of_tail():
    # E[Wq] = integral_0^inf P(Wq > t) dt = C / (c mu - lam)
    lam, mu, c = 2.7, 1.0, 3
    theta = c * mu - lam
    integral = an.mmc_wait_tail(lam, mu, c, 0.0) / theta
    assert an.mmc_wait_mean(lam, mu, c) == pytest.approx(integral)


# --------------------------------------------------------------------------- #
# priority
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("lam,mu,c", [(0.7, 1.0, 1), (4.0, 1.0, 5), (95.0, 1.0, 100)])
def test_priority_single_class_equals_fcfs(lam, mu, c):
    (w,) = an.priority_mmc_wait_means([lam], mu, c)
    assert w == pytest.approx(an.mmc_wait_mean(lam, mu, c))


@pytest.mark.parametrize(
    "rates,mu,c",
    [([0.3, 0.5], 1.0, 1), ([1.0, 2.5], 1.0, 4), ([2.0, 1.0, 3.5], 0.8, 9), ([10.0, 80.0], 1.0, 100)],
)
def test_priority_conservation_law(rates, mu, c):
    waits = an.priority_mmc_wait_means(rates, mu, c)
    lam = sum(rates)
    weighted = sum(r * w for r, w in zip(rates, waits)) / lam
    assert weighted == pytest.approx(an.mmc_wait_mean(lam, mu, c))
    assert waits == sorted(waits)  # higher priority never waits longer
    assert waits[0] < an.mmc_wait_mean(lam, mu, c) < waits[-1]


def test_priority_mm1_two_class_closed_form():
    # M/M/1 non-preemptive: W_k = rho/mu / ((1 - s_{k-1})(1 - s_k)), W0 = lam/mu^2 / (1 - rho_0)
    l0, l1, mu = 0.2, 0.5, 1.0
    w0, w1 = an.priority_mmc_wait_means([l0, l1], mu, 1)
    rho = (l0 + l1) / mu
    assert w0 == pytest.approx(rho / mu / (1 - l0 / mu))
    assert w1 == pytest.approx(rho / mu / ((1 - l0 / mu) * (1 - rho)))


def test_priority_rejects_overload_and_empty():
    with pytest.raises(ValueError, match="unstable"):
        an.priority_mmc_wait_means([1.0, 1.5], 1.0, 2)
    with pytest.raises(ValueError, match="at least one"):
        an.priority_mmc_wait_means([], 1.0, 2)
    with pytest.raises(ValueError, match=r"arrival_rates\[1\]"):
        an.priority_mmc_wait_means([0.1, -0.1], 1.0, 2)


# --------------------------------------------------------------------------- #
# M/G/1 and Allen-Cunneen
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("lam,mean", [(0.5, 1.0), (0.09, 10.0), (2.0, 0.3)])
def test_pollaczek_khinchine_special_cases(lam, mean):
    mm1 = an.mmc_wait_mean(lam, 1 / mean, 1)
    assert an.mg1_wait_mean(lam, mean, 1.0) == pytest.approx(mm1)
    assert an.mg1_wait_mean(lam, mean, 0.0) == pytest.approx(mm1 / 2)  # M/D/1
    rho = lam * mean
    assert an.mg1_wait_mean(lam, mean, 0.0) == pytest.approx(rho * mean / (2 * (1 - rho)))


def test_pollaczek_khinchine_grows_with_variability():
    waits = [an.mg1_wait_mean(0.6, 1.0, cv) for cv in (0.0, 0.5, 1.0, 2.0)]
    assert all(x < y for x, y in zip(waits, waits[1:]))
    assert waits[-1] == pytest.approx(0.6 * 5.0 / (2 * 0.4))


@pytest.mark.parametrize("lam,mean,c", [(0.8, 1.0, 1), (3.0, 2.0, 7), (90.0, 1.0, 100)])
def test_allen_cunneen_reduces_to_mmc(lam, mean, c):
    exact = an.mmc_wait_mean(lam, 1 / mean, c)
    assert an.allen_cunneen_wait_mean(lam, mean, c, 1.0, 1.0) == pytest.approx(exact)
    assert an.allen_cunneen_wait_mean(lam, mean, c, 1.0, 0.0) == pytest.approx(exact / 2)


def test_allen_cunneen_single_server_matches_pk():
    # with Poisson arrivals (ca = 1) and c = 1 the approximation is exact (P-K)
    for cs in (0.0, 0.4, 1.5):
        assert an.allen_cunneen_wait_mean(0.7, 1.0, 1, 1.0, cs) == pytest.approx(
            an.mg1_wait_mean(0.7, 1.0, cs)
        )


# --------------------------------------------------------------------------- #
# staffing
# --------------------------------------------------------------------------- #
def test_square_root_staffing_small_cases():
    assert an.square_root_staffing(4.0, 1.0, 1.0) == 6  # ceil(4 + 2)
    assert an.square_root_staffing(4.0, 1.0, 0.5) == 5  # ceil(4 + 1)
    assert an.square_root_staffing(4.0, 1.0, 0.0) == 5  # stability floor: floor(4) + 1
    assert an.square_root_staffing(4.5, 1.0, -1.0) == 5
    assert an.square_root_staffing(0.0, 1.0, 2.0) == 1
    assert an.square_root_staffing(100.0, 2.0, 1.0) == 58  # a = 50, 50 + 7.07
    assert isinstance(an.square_root_staffing(3.3, 1.0, 1.0), int)


def test_square_root_staffing_monotone_and_stable():
    by_beta = [an.square_root_staffing(50.0, 1.0, b) for b in (0.0, 0.5, 1.0, 2.0, 3.0)]
    assert by_beta == sorted(by_beta)
    loads = [0.2, 1.0, 3.7, 10.0, 49.9, 200.0]
    by_load = [an.square_root_staffing(a, 1.0, 0.5) for a in loads]
    assert by_load == sorted(by_load)
    assert all(c > a for c, a in zip(by_load, loads))


def test_servers_for_wait_target_small_case():
    lam, mu = 1.5, 1.0
    w2 = 2 * 0.75**2 / 1.75 / (2 - 1.5)  # c = 2 closed form, about 1.286
    w3 = erlang_c_direct(3, 1.5) / (3 - 1.5)
    assert an.servers_for_wait_target(lam, mu, 10.0) == 2  # smallest stable c
    assert an.servers_for_wait_target(lam, mu, w2) == 2
    assert an.servers_for_wait_target(lam, mu, w2 * 0.99) == 3
    assert an.servers_for_wait_target(lam, mu, w3 * 0.99) == 4


@pytest.mark.parametrize("lam,mu", [(3.0, 1.0), (40.0, 0.5), (250.0, 1.0)])
def test_servers_for_wait_target_is_minimal_and_monotone(lam, mu):
    previous = 0
    for target in (5.0, 1.0, 0.1, 0.01, 1e-4):
        c = an.servers_for_wait_target(lam, mu, target)
        assert an.mmc_wait_mean(lam, mu, c) <= target
        if c - 1 > lam / mu:
            assert an.mmc_wait_mean(lam, mu, c - 1) > target
        assert c >= previous  # tighter target never needs fewer servers
        previous = c


def test_servers_for_wait_target_no_arrivals():
    assert an.servers_for_wait_target(0.0, 1.0, 0.5) == 1


# --------------------------------------------------------------------------- #
# SIPP
# --------------------------------------------------------------------------- #
def test_sipp_pointwise_and_overload():
    rates = [2.0, 5.0, 9.0, 3.0, 0.0]
    servers = [3, 6, 9, 2, 1]
    waits = an.sipp_wait_means(rates, 1.0, servers)
    assert len(waits) == 5
    assert waits[0] == pytest.approx(an.mmc_wait_mean(2.0, 1.0, 3))
    assert waits[1] == pytest.approx(an.mmc_wait_mean(5.0, 1.0, 6))
    assert waits[2] == math.inf  # a == c
    assert waits[3] == math.inf  # a > c
    assert waits[4] == 0.0


def test_sipp_validation():
    with pytest.raises(ValueError, match="length"):
        an.sipp_wait_means([1.0, 2.0], 1.0, [2])
    with pytest.raises(ValueError, match="servers"):
        an.sipp_wait_means([1.0], 1.0, [0])
    with pytest.raises(ValueError, match="arrival_rates_per_period"):
        an.sipp_wait_means([-1.0], 1.0, [2])


# --------------------------------------------------------------------------- #
# input validation
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: an.erlang_c(2, 2.0), "unstable"),
        (lambda: an.erlang_c(2, 3.5), "unstable"),
        (lambda: an.erlang_c(0, 0.5), "servers"),
        (lambda: an.erlang_c(2.5, 0.5), "integer"),
        (lambda: an.erlang_c(2, -0.1), "offered_load"),
        (lambda: an.erlang_c(2, math.nan), "offered_load"),
        (lambda: an.mmc_wait_mean(-1.0, 1.0, 2), "arrival_rate"),
        (lambda: an.mmc_wait_mean(1.0, 0.0, 2), "service_rate"),
        (lambda: an.mmc_wait_mean(3.0, 1.0, 3), "unstable"),
        (lambda: an.mmc_utilization(1.0, 1.0, 0), "servers"),
        (lambda: an.mmc_wait_tail(1.0, 1.0, 2, -1.0), "t must"),
        (lambda: an.mmc_wait_quantile(1.0, 1.0, 2, 1.0), "q must"),
        (lambda: an.mmc_wait_quantile(1.0, 1.0, 2, -0.1), "q must"),
        (lambda: an.mg1_wait_mean(1.0, 1.0, 0.5), "unstable"),
        (lambda: an.mg1_wait_mean(0.5, -1.0, 0.5), "service_mean"),
        (lambda: an.mg1_wait_mean(0.5, 1.0, -0.5), "service_cv"),
        (lambda: an.allen_cunneen_wait_mean(0.5, 1.0, 1, -1.0, 1.0), "arrival_cv"),
        (lambda: an.allen_cunneen_wait_mean(2.0, 1.0, 2, 1.0, 1.0), "unstable"),
        (lambda: an.square_root_staffing(-1.0, 1.0, 1.0), "arrival_rate"),
        (lambda: an.square_root_staffing(1.0, 1.0, math.inf), "beta"),
        (lambda: an.servers_for_wait_target(1.0, 1.0, 0.0), "wait_target_mean"),
        (lambda: an.servers_for_wait_target(1.0, -2.0, 1.0), "service_rate"),
    ],
)
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_mmc_utilization_reports_overload_without_raising():
    assert an.mmc_utilization(3.0, 1.0, 2) == pytest.approx(1.5)
