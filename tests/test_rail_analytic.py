"""The exact M/D/c and D/M/c results of sim.analytic (the rail yard's validation queues).

Exactness: reductions to closed forms (M/D/1 = Pollaczek-Khinchine with CV 0, D/M/1's geometric
law), an independent formula for M/D/c (Franx's Lambert-W roots) and an independent brute-force
D/M/c embedded chain (every transition integrated with scipy's quad, no geometric ansatz), and the
heavy-traffic limit (both halve the M/M/c wait, Kingman's (ca^2 + cs^2) / 2). Simulation: FIFO
multi-server recursions and the project's engine with deterministic service, with confidence
intervals from independent replications (conftest.assert_matches_theory: exact value within
3 SE, and a narrow enough interval to see a bias).
"""
from __future__ import annotations

import cmath
import heapq
import math

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.special import lambertw
from scipy.stats import binom, poisson

import sim
from sim import analytic
from conftest import assert_matches_theory, load, mmc_scenario, per_replication


# --------------------------------------------------------------------------------------------
# independent references
# --------------------------------------------------------------------------------------------
def franx_queue_length_mean(offered_load: float, servers: int) -> float:
    """E[Lq] of M/D/c with D = 1 from G. J. Franx, "A simple solution for the M/D/c waiting time
    distribution", Oper. Res. Letters 29 (2001): the roots z_k = -(c/a) W_0(-(a/c) e^(-a/c) w^k)
    of z^c = e^(a(z-1)) inside the unit disc (w = e^(2 pi i / c)) and
    E[Lq] = sum_k 1/(1 - z_k) + (a^2 - c(c - 1)) / (2(c - a))."""
    a, c = offered_load, servers
    total = 0.0
    for k in range(1, c):
        z = -(c / a) * lambertw(-(a / c) * math.exp(-a / c) * cmath.exp(2j * math.pi * k / c), 0)
        total += 1.0 / (1.0 - z)
    return float((total + (a * a - c * (c - 1)) / (2.0 * (c - a))).real)


def brute_force_dmc(interarrival: float, mu: float, c: int, size: int = 150) -> tuple[float, float]:
    """(P(wait), Wq) of D/M/c from the embedded chain at arrivals truncated at ``size``, every
    transition probability from its definition (binomial / Poisson / Erlang-then-binomial
    integrated with quad), solved as a dense linear system."""
    t = interarrival
    p = np.zeros((size, size))
    for i in range(size):
        n = i + 1                                   # in system just after the arrival
        for j in range(min(n, size - 1) + 1):
            if n <= c:
                p[i, j] = binom.pmf(j, n, math.exp(-mu * t))
            elif j >= c:
                p[i, j] = poisson.pmf(n - j, c * mu * t)
            else:                                   # n - c departures at rate c mu, then binomial
                m = n - c
                density = lambda s, m=m: c * mu * (c * mu * s) ** (m - 1) / math.factorial(m - 1) * math.exp(-c * mu * s)
                p[i, j] = integrate.quad(lambda s: density(s) * binom.pmf(j, c, math.exp(-mu * (t - s))), 0, t,
                                         epsabs=1e-14, epsrel=1e-12)[0]
        p[i, -1] += max(0.0, 1.0 - p[i].sum())
    system = p.T - np.eye(size)
    system[-1] = 1.0
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    q = np.linalg.solve(system, rhs)
    ahead = np.maximum(np.arange(size) - c + 1, 0)
    return float(q[c:].sum()), float(q @ ahead / (c * mu))


def fifo_waits(arrivals: np.ndarray, services: np.ndarray, servers: int) -> np.ndarray:
    """Waits of a FIFO c-server queue: the next customer takes the server that frees first
    (Kiefer-Wolfowitz workload recursion kept as a heap of server free times)."""
    free = [0.0] * servers
    waits = np.empty(len(arrivals))
    for k, (arrival, service) in enumerate(zip(arrivals.tolist(), services.tolist())):
        start = max(arrival, heapq.heappop(free))
        waits[k] = start - arrival
        heapq.heappush(free, start + service)
    return waits


# --------------------------------------------------------------------------------------------
# exact reductions
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rho", [0.1, 0.5, 0.8, 0.95, 0.99])
def test_md1_is_pollaczek_khinchine_with_cv_zero(rho):
    service = 7.5
    result = analytic.mdc_wait(rho / service, service, 1)
    assert result.wait_mean == pytest.approx(analytic.mg1_wait_mean(rho / service, service, 0.0), rel=1e-9)
    assert result.wait_probability == pytest.approx(rho, rel=1e-9)     # M/G/1: P(busy) = rho


@pytest.mark.parametrize("servers", [1, 2, 3, 7, 20])
@pytest.mark.parametrize("rho", [0.3, 0.7, 0.95])
def test_mdc_matches_franx(servers, rho):
    a = rho * servers
    exact = franx_queue_length_mean(a, servers)
    service = 3.0                               # the formula is for D = 1: Lq is scale-free
    assert analytic.mdc_wait(a / service, service, servers).wait_mean * a / service == pytest.approx(exact, rel=1e-8)


@pytest.mark.parametrize("rho", [0.2, 0.6, 0.9, 0.99])
def test_dm1_is_the_geometric_law(rho):
    mu = 0.25
    interarrival = 1.0 / (rho * mu)
    sigma = optimize.brentq(lambda s: math.exp(-mu * interarrival * (1 - s)) - s, 1e-300, 1 - 1e-12, xtol=1e-15)
    assert analytic.dmc_sigma(interarrival, mu, 1) == pytest.approx(sigma, rel=1e-10)
    result = analytic.dmc_wait(interarrival, mu, 1)
    assert result.wait_probability == pytest.approx(sigma, rel=1e-10)
    assert result.wait_mean == pytest.approx(sigma / (mu * (1 - sigma)), rel=1e-10)


@pytest.mark.parametrize("servers, rho", [(2, 0.5), (3, 0.8), pytest.param(5, 0.7, marks=pytest.mark.slow),
                                           pytest.param(4, 0.9, marks=pytest.mark.slow)])
def test_dmc_matches_a_brute_force_embedded_chain(servers, rho):
    mu = 1.0 / 30.0
    interarrival = 1.0 / (rho * servers * mu)
    result = analytic.dmc_wait(interarrival, mu, servers)
    probability, wait = brute_force_dmc(interarrival, mu, servers, size=80 if rho < 0.85 else 160)
    assert result.wait_probability == pytest.approx(probability, rel=1e-7)
    assert result.wait_mean == pytest.approx(wait, rel=1e-7)


@pytest.mark.parametrize("servers", [1, 2, 5, 10])
def test_heavy_traffic_halves_the_mmc_wait(servers):
    # Kingman / Koellerstrom: Wq ~ (ca^2 + cs^2) / 2 x Wq(M/M/c) as rho -> 1; one of the two is 0
    rho = 0.999
    mu = 1.0
    mmc = analytic.mmc_wait_mean(rho * servers * mu, mu, servers)
    assert analytic.mdc_wait(rho * servers * mu, 1.0 / mu, servers).wait_mean / mmc == pytest.approx(0.5, abs=0.01)
    assert analytic.dmc_wait(1.0 / (rho * servers * mu), mu, servers).wait_mean / mmc == pytest.approx(0.5, abs=0.01)


def test_light_traffic_and_monotonicity():
    mu = 1.0
    for servers in (1, 3, 8):
        md = [analytic.mdc_wait(r * servers, 1.0, servers) for r in (0.01, 0.2, 0.5, 0.8, 0.95)]
        dm = [analytic.dmc_wait(1.0 / (r * servers), mu, servers) for r in (0.01, 0.2, 0.5, 0.8, 0.95)]
        for series in (md, dm):
            waits = [r.wait_mean for r in series]
            assert waits == sorted(waits) and waits[0] < 1e-3 * waits[-1]
            assert all(0 <= r.wait_probability < 1 for r in series)
        # deterministic service never waits longer than exponential service (same mean)
        for r, result in zip((0.01, 0.2, 0.5, 0.8, 0.95), md):
            assert result.wait_mean <= analytic.mmc_wait_mean(r * servers, 1.0, servers)
        # P(wait) of M/D/c at light traffic ~ P(c arrivals within one D) as for Erlang
    # more servers at the same per-server load wait less
    assert analytic.mdc_wait(2.4, 1.0, 3).wait_mean < analytic.mdc_wait(0.8, 1.0, 1).wait_mean
    assert analytic.dmc_wait(1 / 2.4, 1.0, 3).wait_mean < analytic.dmc_wait(1 / 0.8, 1.0, 1).wait_mean


def test_unstable_or_bad_input_is_refused():
    with pytest.raises(ValueError, match="unstable"):
        analytic.mdc_wait(2.0, 1.0, 2)
    with pytest.raises(ValueError, match="unstable"):
        analytic.dmc_wait(0.5, 1.0, 2)
    with pytest.raises(ValueError):
        analytic.dmc_wait(1.0, 1.0, 0)
    assert analytic.mdc_wait(0.0, 1.0, 2) == (0.0, 0.0)


# --------------------------------------------------------------------------------------------
# simulation
# --------------------------------------------------------------------------------------------
def check_recursion(kind: str, servers: int, rho: float, customers: int, replications: int,
                    max_rel_half_width: float) -> None:
    """Independent replications of the FIFO recursion, the first 10 % discarded as warm-up."""
    mean_service = 10.0
    rate = rho * servers / mean_service
    waits, waiting = [], []
    for r in range(replications):
        rng = np.random.default_rng([20251202, r])
        if kind == "D/M/c":
            arrivals = np.arange(customers) / rate
            services = rng.exponential(mean_service, customers)
        else:
            arrivals = np.cumsum(rng.exponential(1.0 / rate, customers))
            services = np.full(customers, mean_service)
        w = fifo_waits(arrivals, services, servers)[customers // 10:]
        waits.append(w.mean())
        waiting.append((w > 0).mean())
    exact = (analytic.dmc_wait(1.0 / rate, 1.0 / mean_service, servers) if kind == "D/M/c"
             else analytic.mdc_wait(rate, mean_service, servers))
    assert_matches_theory(f"{kind} Wq", exact.wait_mean, waits, max_rel_half_width=max_rel_half_width)
    assert_matches_theory(f"{kind} P(Wq>0)", exact.wait_probability, waiting, max_rel_half_width=max_rel_half_width)


@pytest.mark.parametrize("kind", ["D/M/c", "M/D/c"])
def test_fifo_recursion_matches_exact(kind):
    check_recursion(kind, servers=3, rho=0.8, customers=20_000, replications=10, max_rel_half_width=0.08)


@pytest.mark.slow
@pytest.mark.parametrize("kind, servers, rho", [("D/M/c", 5, 0.9), ("D/M/c", 1, 0.7), ("M/D/c", 5, 0.9),
                                                ("M/D/c", 12, 0.85)])
def test_fifo_recursion_matches_exact_long(kind, servers, rho):
    check_recursion(kind, servers, rho, customers=200_000, replications=20, max_rel_half_width=0.04)


def check_engine_mdc(servers: int, rho: float, service_min: float, days: int, replications: int,
                     max_rel_half_width: float) -> None:
    """The project's engine with `dist: deterministic` service and flat Poisson demand."""
    arrival_rate = rho * servers / service_min
    data = mmc_scenario(arrival_rate, service_min, servers, days, 1, drain="6 h")
    data["stages"]["desk"]["service_time"]["traveler"] = {"dist": "deterministic", "value": f"{service_min!r} min"}
    scenario = load(data)
    results = sim.run(scenario, replications=replications, seed=20251202, workers=1)
    waits = per_replication(results.entities, scenario, lambda rows: rows["wait_total"].mean())
    waiting = per_replication(results.entities, scenario, lambda rows: (rows["wait_total"] > 0).mean())
    exact = analytic.mdc_wait(arrival_rate, service_min, servers)
    assert_matches_theory("engine M/D/c Wq", exact.wait_mean, waits, max_rel_half_width=max_rel_half_width)
    assert_matches_theory("engine M/D/c P(Wq>0)", exact.wait_probability, waiting,
                          max_rel_half_width=max_rel_half_width)


def test_engine_mdc_matches_exact():
    check_engine_mdc(servers=3, rho=0.8, service_min=2.0, days=3, replications=10, max_rel_half_width=0.10)


@pytest.mark.slow
def test_engine_mdc_matches_exact_long():
    check_engine_mdc(servers=4, rho=0.9, service_min=2.0, days=8, replications=20, max_rel_half_width=0.06)
