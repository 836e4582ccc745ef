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
    "transient_mmc_queue_length", "ErlangA", "erlang_a", "mmck_blocking",
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
