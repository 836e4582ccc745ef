"""Closed-form queueing results used to validate and calibrate the simulator.

Pure functions (no SimPy, no pandas) for steady-state waiting times in the
standard models a checkpoint lane reduces to: M/M/c (Erlang C), non-preemptive
priority M/M/c, M/G/1 (Pollaczek-Khinchine), the Allen-Cunneen G/G/c
approximation, square-root staffing and the stationary independent period by
period (SIPP) approximation for time-varying demand.

Rates are in whatever time unit the caller uses (typically per minute); waits
come back in the same unit.  "Wait" always means time in queue before service
starts (Wq), not sojourn time.

References
----------
.. [GH] D. Gross, J. F. Shortle, J. M. Thompson, C. M. Harris, *Fundamentals
   of Queueing Theory*, 4th ed., Wiley, 2008.
.. [K] L. Kleinrock, *Queueing Systems*, Vol. 1 (1975) and Vol. 2 (1976), Wiley.
.. [C] A. Cobham, "Priority assignment in waiting line problems",
   *Operations Research* 2(1):70-76, 1954.
.. [HW] S. Halfin, W. Whitt, "Heavy-traffic limits for queues with many
   exponential servers", *Operations Research* 29(3):567-588, 1981.
.. [GMR] O. Garnett, A. Mandelbaum, M. Reiman, "Designing a call center with
   impatient customers", *Manufacturing & Service Operations Management*
   4(3):208-227, 2002 (Erlang-A, M/M/c+M).
.. [GKS] L. V. Green, P. J. Kolesar, J. Soares, "Improving the SIPP approach
   for staffing service systems that have cyclic demands", *Operations
   Research* 49(4):549-564, 2001.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "erlang_c", "mmc_utilization", "mmc_wait_probability", "mmc_wait_mean",
    "mmc_wait_tail", "mmc_wait_quantile", "mmc_queue_length_mean",
    "priority_mmc_wait_means", "mg1_wait_mean", "allen_cunneen_wait_mean",
    "square_root_staffing", "servers_for_wait_target", "sipp_wait_means",
    "transient_mmc_queue_length", "ErlangA", "erlang_a", "mmck_blocking", "mmck_wait_mean_admitted",
    "DeterministicQueue", "mdc_wait", "dmc_sigma", "dmc_wait",
]


def _nonneg(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return value


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def _servers(value: int) -> int:
    try:
        c = operator.index(value)
    except TypeError:
        raise ValueError(f"servers must be an integer, got {value!r}") from None
    if c < 1:
        raise ValueError(f"servers must be >= 1, got {c}")
    return c


def _mmc_params(arrival_rate: float, service_rate: float, servers: int) -> tuple[float, float, int]:
    return (_nonneg("arrival_rate", arrival_rate),
            _positive("service_rate", service_rate), _servers(servers))


def erlang_c(servers: int, offered_load: float) -> float:
    r"""Erlang C: probability that an arrival waits in an M/M/c queue.

    With offered load :math:`a = \lambda/\mu` and :math:`c` servers,

    .. math:: C(c, a) = \frac{c\,B(c, a)}{c - a\,(1 - B(c, a))},

    where the Erlang B blocking probability is obtained from the numerically
    stable recursion :math:`B(0) = 1`, :math:`B(k) = a B(k-1) / (k + a B(k-1))`
    (no factorials or large powers, so it is safe for hundreds of servers).
    See [GH]_ ch. 2.

    Raises ``ValueError`` unless ``0 <= offered_load < servers``.
    """
    c = _servers(servers)
    a = _nonneg("offered_load", offered_load)
    if a >= c:
        raise ValueError(f"unstable system: offered load {a:g} >= servers {c}")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1.0 - b))


def mmc_utilization(arrival_rate: float, service_rate: float, servers: int) -> float:
    r"""Per-server load :math:`\rho = \lambda / (c\mu)`.

    Not checked for stability, so it can be used to test it (stable iff < 1).
    """
    lam, mu, c = _mmc_params(arrival_rate, service_rate, servers)
    return lam / (c * mu)


def mmc_wait_probability(arrival_rate: float, service_rate: float, servers: int) -> float:
    r""":math:`P(W_q > 0) = C(c, \lambda/\mu)`; see :func:`erlang_c`."""
    lam, mu, c = _mmc_params(arrival_rate, service_rate, servers)
    return erlang_c(c, lam / mu)


def mmc_wait_mean(arrival_rate: float, service_rate: float, servers: int) -> float:
    r"""Mean M/M/c queueing delay :math:`W_q = C(c, a) / (c\mu - \lambda)` [GH]_."""
    lam, mu, c = _mmc_params(arrival_rate, service_rate, servers)
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmc_wait_tail(arrival_rate: float, service_rate: float, servers: int, t: float) -> float:
    r"""FCFS M/M/c delay tail :math:`P(W_q > t) = C(c, a)\,e^{-(c\mu - \lambda)t}`, t >= 0 [GH]_."""
    lam, mu, c = _mmc_params(arrival_rate, service_rate, servers)
    t = _nonneg("t", t)
    return erlang_c(c, lam / mu) * math.exp(-(c * mu - lam) * t)


def mmc_wait_quantile(arrival_rate: float, service_rate: float, servers: int, q: float) -> float:
    r"""The q-quantile of the FCFS M/M/c delay, inverting :func:`mmc_wait_tail`.

    .. math:: t_q = \frac{\ln\!\big(C / (1 - q)\big)}{c\mu - \lambda}
              \quad\text{if } q > 1 - C, \qquad t_q = 0 \text{ otherwise,}

    since a fraction :math:`1 - C` of customers does not wait at all.
    ``q`` must lie in ``[0, 1)``.
    """
    lam, mu, c = _mmc_params(arrival_rate, service_rate, servers)
    q = float(q)
    if not 0.0 <= q < 1.0:
        raise ValueError(f"q must be in [0, 1), got {q!r}")
    prob_wait = erlang_c(c, lam / mu)
    if q <= 1.0 - prob_wait:
        return 0.0
    return math.log(prob_wait / (1.0 - q)) / (c * mu - lam)


def mmc_queue_length_mean(arrival_rate: float, service_rate: float, servers: int) -> float:
    r"""Mean number waiting :math:`L_q = \lambda W_q` (Little's law)."""
    return float(arrival_rate) * mmc_wait_mean(arrival_rate, service_rate, servers)


def priority_mmc_wait_means(
    arrival_rates: Sequence[float], service_rate: float, servers: int
) -> list[float]:
    r"""Mean delays per class in a non-preemptive priority M/M/c queue.

    All classes share the exponential service rate :math:`\mu`; class 0 has
    the highest priority.  Cobham's formula ([C]_; [GH]_ ch. 3; [K]_ Vol. 2):

    .. math:: W_k = \frac{C(c, a) / (c\mu)}{(1 - \sigma_{k-1})(1 - \sigma_k)},
              \qquad \sigma_k = \sum_{i \le k} \frac{\lambda_i}{c\mu},
              \quad \sigma_{-1} = 0,

    with :math:`a = \sum_i \lambda_i / \mu`.
    """
    rates = [_nonneg(f"arrival_rates[{i}]", r) for i, r in enumerate(arrival_rates)]
    if not rates:
        raise ValueError("arrival_rates must contain at least one class")
    mu = _positive("service_rate", service_rate)
    c = _servers(servers)
    base = erlang_c(c, sum(rates) / mu) / (c * mu)
    waits, sigma = [], 0.0
    for lam in rates:
        prev, sigma = sigma, sigma + lam / (c * mu)
        waits.append(base / ((1.0 - prev) * (1.0 - sigma)))
    return waits


def mg1_wait_mean(arrival_rate: float, service_mean: float, service_cv: float) -> float:
    r"""Pollaczek-Khinchine mean delay for M/G/1 ([K]_ Vol. 1, ch. 5):

    .. math:: W_q = \frac{\lambda\,E[S^2]}{2(1 - \rho)}, \qquad
              E[S^2] = E[S]^2 (1 + c_s^2), \quad \rho = \lambda E[S].

    ``service_cv = 0`` gives M/D/1, ``service_cv = 1`` gives M/M/1.
    """
    lam = _nonneg("arrival_rate", arrival_rate)
    mean = _positive("service_mean", service_mean)
    cv = _nonneg("service_cv", service_cv)
    rho = lam * mean
    if rho >= 1.0:
        raise ValueError(f"unstable system: utilization {rho:g} >= 1")
    return lam * mean**2 * (1.0 + cv**2) / (2.0 * (1.0 - rho))


def allen_cunneen_wait_mean(
    arrival_rate: float, service_mean: float, servers: int,
    arrival_cv: float, service_cv: float,
) -> float:
    r"""Allen-Cunneen approximation for the mean G/G/c delay:

    .. math:: W_q \approx W_q^{M/M/c} \cdot \frac{c_a^2 + c_s^2}{2}.

    Exact for M/M/c (:math:`c_a = c_s = 1`) and for M/G/1.  See
    A. O. Allen, *Probability, Statistics, and Queueing Theory*, 2nd ed., 1990.
    """
    ca = _nonneg("arrival_cv", arrival_cv)
    cs = _nonneg("service_cv", service_cv)
    mu = 1.0 / _positive("service_mean", service_mean)
    return mmc_wait_mean(arrival_rate, mu, servers) * (ca**2 + cs**2) / 2.0


def square_root_staffing(arrival_rate: float, service_rate: float, beta: float) -> int:
    r"""Square-root staffing rule [HW]_: :math:`c = \lceil a + \beta\sqrt{a}\,\rceil`.

    The result is raised to at least :math:`\lfloor a \rfloor + 1` so that the
    M/M/c system is always stable.
    """
    lam = _nonneg("arrival_rate", arrival_rate)
    mu = _positive("service_rate", service_rate)
    beta = float(beta)
    if not math.isfinite(beta):
        raise ValueError(f"beta must be finite, got {beta!r}")
    a = lam / mu
    return max(math.ceil(a + beta * math.sqrt(a)), math.floor(a) + 1)


def servers_for_wait_target(
    arrival_rate: float, service_rate: float, wait_target_mean: float
) -> int:
    """Smallest ``c`` whose Erlang C mean delay :func:`mmc_wait_mean` is <= the target.

    The mean delay decreases strictly in ``c``, so a linear search upwards
    from the smallest stable staffing level finds the optimum.
    """
    lam = _nonneg("arrival_rate", arrival_rate)
    mu = _positive("service_rate", service_rate)
    target = _positive("wait_target_mean", wait_target_mean)
    c = math.floor(lam / mu) + 1
    while mmc_wait_mean(lam, mu, c) > target:
        c += 1
    return c


def sipp_wait_means(
    arrival_rates_per_period: Sequence[float],
    service_rate: float,
    servers_per_period: Sequence[int],
) -> list[float]:
    """Stationary independent period-by-period (pointwise stationary) delays.

    Each period is treated as a stationary M/M/c queue with that period's
    arrival rate and staffing ([GKS]_); overloaded periods (``a >= c``) get
    ``math.inf``.  Carry-over of queues between periods is ignored, so the
    approximation is good when periods are long relative to service times.
    """
    if len(arrival_rates_per_period) != len(servers_per_period):
        raise ValueError(
            "arrival_rates_per_period and servers_per_period differ in length "
            f"({len(arrival_rates_per_period)} vs {len(servers_per_period)})"
        )
    mu = _positive("service_rate", service_rate)
    waits = []
    for i, (lam, c) in enumerate(zip(arrival_rates_per_period, servers_per_period)):
        lam = _nonneg(f"arrival_rates_per_period[{i}]", lam)
        c = _servers(c)
        waits.append(math.inf if lam / mu >= c else mmc_wait_mean(lam, mu, c))
    return waits


def transient_mmc_queue_length(arrival_rates: Sequence[float], servers: Sequence[int], service_rate: float,
                               period: float = 60.0, steps_per_period: int = 60,
                               max_in_system: int | None = None) -> list[float]:
    """Mean queue length (waiting, not in service) averaged over each period of an M(t)/M/c(t)
    queue that starts empty, from its Kolmogorov forward equations.

    Arrival rate ``arrival_rates[k]`` and ``servers[k]`` servers hold during period ``k`` (of
    length ``period``). The birth-death chain on the number in system is truncated at
    ``max_in_system`` (default: the peak of the fluid approximation plus ten standard deviations
    and a margin, and beyond the 1e-12 geometric tail of every stable period) and stepped exactly with the action of the matrix exponential of its sparse
    generator; each period's average is the trapezoid rule on ``steps_per_period`` steps. When
    servers drop, this chain stops the extra services at once, so compare with a simulation
    where the drop happens when few are in service.
    """
    import numpy as np
    from scipy.sparse import diags
    from scipy.sparse.linalg import expm_multiply

    _positive("service_rate", service_rate)
    if len(arrival_rates) != len(servers):
        raise ValueError("arrival_rates and servers must have one value per period")
    for rate in arrival_rates:
        _nonneg("arrival rate", rate)
    for count in servers:
        if int(count) != count or count < 0:
            raise ValueError(f"servers must be whole numbers >= 0, got {count!r}")
    if max_in_system is None:
        peak = _fluid_peak(arrival_rates, servers, service_rate, period)
        max_in_system = int(peak + 10 * math.sqrt(peak + max(servers) + 1) + 50)
        for rate, count in zip(arrival_rates, servers):      # stable periods: a geometric tail below 1e-12
            load = rate / (service_rate * count) if count else 1.0
            if 0 < load < 1:
                max_in_system = max(max_in_system, int(count + math.log(1e-12) / math.log(load)))
    states = np.arange(max_in_system + 1)
    probabilities = np.zeros(max_in_system + 1)
    probabilities[0] = 1.0
    averages = []
    for rate, count in zip(arrival_rates, servers):
        births = np.full(max_in_system, float(rate))
        deaths = service_rate * np.minimum(states[1:], count).astype(float)
        outflow = np.append(births, 0.0) + np.insert(deaths, 0, 0.0)
        generator_transposed = diags([births, -outflow, deaths], [-1, 0, 1], format="csc")
        path = expm_multiply(generator_transposed, probabilities, start=0.0, stop=period,
                             num=steps_per_period + 1, endpoint=True)
        levels = path @ np.maximum(states - count, 0)
        averages.append(float(np.trapezoid(levels, dx=period / steps_per_period) / period))
        probabilities = path[-1]
    return averages


def _fluid_peak(arrival_rates: Sequence[float], servers: Sequence[int], service_rate: float, period: float) -> float:
    """Largest number in system of the deterministic fluid model n' = lambda - mu min(n, c)."""
    level, peak, steps = 0.0, 0.0, 600
    for rate, count in zip(arrival_rates, servers):
        for _ in range(steps):
            level = max(0.0, level + (rate - service_rate * min(level, count)) * period / steps)
            peak = max(peak, level)
    return peak


class ErlangA(NamedTuple):
    """Steady state of M/M/c+M (Erlang-A): exponential patience, FIFO, abandonment from the queue."""

    wait_probability: float      # an arrival finds every server busy
    abandon_probability: float   # an arrival leaves before its service starts
    wait_mean: float             # of all arrivals, until service or abandonment
    wait_mean_served: float      # of those served


def erlang_a(arrival_rate: float, service_rate: float, patience_rate: float, servers: int,
             tolerance: float = 1e-15) -> ErlangA:
    """Exact Erlang-A measures from the birth-death chain of the number in system [GMR].

    State ``n`` falls at rate ``min(n, c) mu + max(n - c, 0) theta``; the chain is truncated where
    its stationary terms drop below ``tolerance`` (relative). By PASTA an arrival sees ``n``;
    seeing ``i = n - c`` ahead in the queue, it waits through phases ``j = i, ..., 0`` that end at
    rate ``c mu + (j + 1) theta``: by the one ahead moving on (``c mu + j theta``) or by its own
    abandonment (``theta``). Time in a phase does not depend on how it ends, so the served wait
    ``sum_j 1 / (c mu + (j + 1) theta)``; served with probability ``prod_j (c mu + j theta) / (c mu + (j + 1) theta)``.
    """
    lam, mu, c = _mmc_params(arrival_rate, service_rate, servers)
    theta = _positive("patience_rate", patience_rate)
    weights, term, n = [1.0], 1.0, 0
    while n < c or term > tolerance * sum(weights):
        n += 1
        term *= lam / (min(n, c) * mu + max(n - c, 0) * theta)
        weights.append(term)
    total = sum(weights)
    served = served_wait = 0.0
    p_served, wait_if_served = 1.0, 0.0          # of an arrival that finds n = c + i
    for n, weight in enumerate(weights):
        probability = weight / total
        if n < c:
            served += probability
            continue
        j = n - c                                # phase with j ahead in the queue
        rate = c * mu + (j + 1) * theta
        p_served *= (c * mu + j * theta) / rate
        wait_if_served += 1.0 / rate
        served += probability * p_served
        served_wait += probability * p_served * wait_if_served
    queue_mean = sum((n - c) * w for n, w in enumerate(weights) if n > c) / total
    return ErlangA(wait_probability=sum(weights[c:]) / total, abandon_probability=1.0 - served,
                   wait_mean=queue_mean / lam if lam > 0 else 0.0,
                   wait_mean_served=served_wait / served)


def _mmck_distribution(arrival_rate: float, service_rate: float, servers: int, queue_capacity: int) -> list[float]:
    """Stationary probabilities of 0 ... c + queue_capacity in M/M/c/K."""
    lam, mu, c = _mmc_params(arrival_rate, service_rate, servers)
    if operator.index(queue_capacity) < 0:
        raise ValueError(f"queue_capacity must be >= 0, got {queue_capacity!r}")
    weights, term = [1.0], 1.0
    for n in range(1, c + queue_capacity + 1):
        term *= lam / (min(n, c) * mu)
        weights.append(term)
    total = sum(weights)
    return [w / total for w in weights]


def mmck_blocking(arrival_rate: float, service_rate: float, servers: int, queue_capacity: int) -> float:
    """Probability that an arrival finds M/M/c/K full (``c`` busy, ``queue_capacity`` waiting) and
    is turned away: the stationary probability of ``c + queue_capacity`` in system [GH]."""
    return _mmck_distribution(arrival_rate, service_rate, servers, queue_capacity)[-1]


def mmck_wait_mean_admitted(arrival_rate: float, service_rate: float, servers: int, queue_capacity: int) -> float:
    """Mean wait in queue of the arrivals M/M/c/K admits: ``L_q / (lambda (1 - P_K))`` by Little's
    law on the admitted stream [GH]."""
    p = _mmck_distribution(arrival_rate, service_rate, servers, queue_capacity)
    c = _servers(servers)
    queue_mean = sum((n - c) * pn for n, pn in enumerate(p) if n > c)
    admitted = arrival_rate * (1.0 - p[-1])
    return queue_mean / admitted if admitted > 0 else 0.0


# --------------------------------------------------------------------------------------------
# Deterministic service or deterministic arrivals: M/D/c and D/M/c (rail yards)
# --------------------------------------------------------------------------------------------
class DeterministicQueue(NamedTuple):
    """Exact steady-state delay measures of an M/D/c or D/M/c queue (FIFO)."""

    wait_probability: float      # an arrival finds every server busy
    wait_mean: float             # mean time in queue (Wq), in the caller's time unit


def mdc_wait(arrival_rate: float, service_time: float, servers: int,
             tolerance: float = 1e-14) -> DeterministicQueue:
    r"""Exact mean delay and probability of delay of the M/D/c queue (Poisson arrivals, constant
    service time :math:`D`, :math:`c` servers, FIFO).

    Crommelin's embedded chain (C. D. Crommelin, "Delay probability formulae when the holding
    times are constant", *P.O. Elect. Engrs. J.* 25:41-50, 1932; [GH]_ sec. 6.1.9 and
    H. C. Tijms, *A First Course in Stochastic Models*, Wiley 2003, sec. 9.7): every customer in
    service at time :math:`t` has left by :math:`t + D`, and no one who starts after :math:`t`
    has, so the number in system obeys

    .. math:: Q(t + D) = \max(Q(t) - c, 0) + A, \qquad A \sim \mathrm{Poisson}(\lambda D),

    for every phase :math:`t`; the stationary law of this chain is therefore the time-stationary
    law of :math:`Q`. It is solved numerically exactly as a sparse banded linear system on the
    states ``0..N``: the stationary tail decays like :math:`z_*^{-n}` with :math:`z_* > 1` the
    root of :math:`z^c = e^{\lambda D (z - 1)}` (Crommelin), so ``N`` is chosen where
    :math:`z_*^{-(N-c)}` is below ``tolerance``, and Poisson terms below ``tolerance`` are folded
    into the largest kept one. Then :math:`P(W_q > 0) = P(Q \ge c)` by PASTA and
    :math:`W_q = E[(Q - c)^+] / \lambda` by Little's law. ``c = 1`` reduces to
    Pollaczek-Khinchine :math:`\rho D / (2(1 - \rho))`.
    """
    import numpy as np
    from scipy.sparse import coo_matrix, identity
    from scipy.sparse.linalg import spsolve
    from scipy.stats import poisson

    lam = _nonneg("arrival_rate", arrival_rate)
    d = _positive("service_time", service_time)
    c = _servers(servers)
    a = lam * d
    if a >= c:
        raise ValueError(f"unstable system: offered load {a:g} >= servers {c}")
    if lam == 0:
        return DeterministicQueue(0.0, 0.0)
    decay = _mdc_tail_root(a, c)
    size = c + int(math.ceil(-math.log(tolerance) / math.log(decay))) + 10
    reach = int(poisson.isf(tolerance, a)) + 1          # arrivals in one D beyond this are negligible
    arrivals = poisson.pmf(np.arange(reach + 1), a)
    arrivals[-1] += max(0.0, 1.0 - arrivals.sum())
    sources = np.arange(size + 1)
    rows, cols, values = [], [], []
    for k, probability in enumerate(arrivals):           # i -> max(i - c, 0) + k, capped at N
        rows.append(sources)
        cols.append(np.minimum(np.maximum(sources - c, 0) + k, size))
        values.append(np.full(size + 1, probability))
    transition = coo_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                            shape=(size + 1, size + 1)).tocsr()
    balance = (transition.T - identity(size + 1, format="csr")).tocsc()
    # p_0 = 1 (unnormalized); the balance equation of state 0 is implied by the others
    rest = spsolve(balance[1:, 1:], -balance[1:, 0].toarray().ravel())
    p = np.clip(np.concatenate(([1.0], np.atleast_1d(rest))), 0.0, None)
    p /= p.sum()
    excess = np.maximum(np.arange(size + 1) - c, 0)
    return DeterministicQueue(wait_probability=float(p[c:].sum()), wait_mean=float(p @ excess) / lam)


def _mdc_tail_root(offered_load: float, servers: int) -> float:
    """The root z > 1 of c ln z = a (z - 1), by bisection (the function is concave, zero at 1)."""
    a, c = offered_load, servers
    high = 2.0
    while c * math.log(high) - a * (high - 1.0) > 0:
        high *= 2.0
    low = 1.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if c * math.log(middle) - a * (middle - 1.0) > 0:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def dmc_sigma(interarrival_time: float, service_rate: float, servers: int) -> float:
    r"""The root :math:`\sigma \in (0, 1)` of :math:`\sigma = A^*(c\mu(1 - \sigma))` for the D/M/c
    queue, where :math:`A^*(s) = e^{-sT}` is the Laplace-Stieltjes transform of the constant
    interarrival time :math:`T` ([GH]_ sec. 6.3; [K]_ Vol. 1 sec. 6.4). Found by bisection on
    :math:`f(\sigma) = e^{-c\mu T(1-\sigma)} - \sigma`, which is positive at 0, negative just
    below 1 when :math:`\rho = 1/(c\mu T) < 1`, and convex (one root inside).
    """
    t = _positive("interarrival_time", interarrival_time)
    mu = _positive("service_rate", service_rate)
    c = _servers(servers)
    rate = c * mu * t                           # = 1 / rho
    if rate <= 1.0:
        raise ValueError(f"unstable system: utilization {1 / rate:g} >= 1")
    low, high = 0.0, 1.0 - 1e-15
    # f(high) < 0 needs 1 - sigma small enough: the root lies below 1 - (1 - 1/rate) * 1e-3 anyway
    for _ in range(200):
        middle = 0.5 * (low + high)
        if math.exp(-rate * (1.0 - middle)) - middle > 0:
            low = middle
        else:
            high = middle
        if high - low < 1e-16:
            break
    return 0.5 * (low + high)


def dmc_wait(interarrival_time: float, service_rate: float, servers: int) -> DeterministicQueue:
    r"""Exact mean delay and probability of delay of the D/M/c queue (arrivals every :math:`T`,
    exponential service at rate :math:`\mu`, :math:`c` servers, FIFO).

    GI/M/c theory ([GH]_ sec. 6.3.2; Takács 1962; Tijms 2003 sec. 9.8): the number :math:`n`
    found by an arrival is an embedded Markov chain whose stationary law is geometric above the
    boundary, :math:`q_n = K \sigma^{n}` for :math:`n \ge c - 1`, with :math:`\sigma` from
    :func:`dmc_sigma`. An arrival that finds :math:`n \ge c` waits for :math:`n - c + 1`
    departures at rate :math:`c\mu`, so

    .. math:: P(W_q > 0) = \sum_{n \ge c} q_n = \frac{K\sigma^c}{1 - \sigma}, \qquad
              W_q = \frac{P(W_q > 0)}{c\mu(1 - \sigma)}, \qquad
              P(W_q > t \mid W_q > 0) = e^{-c\mu(1-\sigma)t}.

    The boundary :math:`q_0, \dots, q_{c-2}` and :math:`K` solve the balance equations of states
    :math:`j = 1 .. c - 1` and the normalization. From :math:`i \le c - 1` the :math:`i + 1` in
    service leave independently within :math:`T` (binomial with survival :math:`e^{-\mu T}`);
    from the geometric part :math:`i \ge c` the queue first drains at rate :math:`c\mu`, and
    summing the Erlang densities against :math:`\sigma^i` gives the single integral

    .. math:: \sum_{i \ge c} q_i p_{ij} = K\sigma^c \int_0^T c\mu\, e^{-c\mu(1-\sigma)t}
              \binom{c}{j} e^{-j\mu(T-t)} (1 - e^{-\mu(T-t)})^{c-j}\, dt,

    evaluated by Gauss-Legendre quadrature (the integrand is smooth). ``c = 1`` gives the
    classical D/M/1 result :math:`q_n = (1-\sigma)\sigma^n`, :math:`W_q = \sigma / (\mu(1-\sigma))`.
    """
    import numpy as np
    from scipy.stats import binom

    t = _positive("interarrival_time", interarrival_time)
    mu = _positive("service_rate", service_rate)
    c = _servers(servers)
    sigma = dmc_sigma(t, mu, c)
    survive = math.exp(-mu * t)
    # unknowns x = (q_0, ..., q_{c-2}, K); q_{c-1} = K sigma^(c-1)
    matrix = np.zeros((c, c))
    rhs = np.zeros(c)
    nodes, weights = np.polynomial.legendre.leggauss(120)
    times = 0.5 * t * (nodes + 1.0)
    weights = 0.5 * t * weights
    drain = c * mu * np.exp(-c * mu * (1.0 - sigma) * times)
    for row, j in enumerate(range(1, c)):         # balance of state j: q_j = sum_i q_i p_ij
        if j <= c - 2:
            matrix[row, j] -= 1.0
        else:                                     # j = c - 1 is geometric
            matrix[row, c - 1] -= sigma ** (c - 1)
        for i in range(max(j - 1, 0), c - 1):     # boundary states, all in service
            matrix[row, i] += binom.pmf(j, i + 1, survive)
        geometric = sigma ** (c - 1) * binom.pmf(j, c, survive)          # from i = c - 1
        geometric += sigma ** c * float(np.sum(weights * drain * binom.pmf(j, c, np.exp(-mu * (t - times)))))
        matrix[row, c - 1] += geometric
    matrix[c - 1, :c - 1] = 1.0                   # normalization
    matrix[c - 1, c - 1] = sigma ** (c - 1) / (1.0 - sigma)
    rhs[c - 1] = 1.0
    k = float(np.linalg.solve(matrix, rhs)[c - 1])
    probability = k * sigma ** c / (1.0 - sigma)
    return DeterministicQueue(wait_probability=probability, wait_mean=probability / (c * mu * (1.0 - sigma)))
