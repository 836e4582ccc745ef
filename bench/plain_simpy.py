"""Hand-written reference SimPy models for benchmarking the checkpoint-sim engine.

The project's engine (``sim/``) is benchmarked against what a competent SimPy
user would write by hand for the simplest queue it handles: an M/M/c queue
(FIFO, ``c`` identical servers, Poisson arrivals at rate lambda per minute,
exponential service with mean 1/mu minutes) simulated over a horizon in minutes.

The implementations are meant to be *honest*: plain, idiomatic SimPy, neither
deliberately slow nor tuned beyond what a typical user would do.  Each returns
the waiting times in queue of the customers who started service before the
horizon (customers still queued at the horizon are not included).

Variants:

1. ``run_resource``: the textbook way -- an arrival generator spawns one process
   per customer, which requests a ``simpy.Resource``; random numbers are drawn
   one at a time from ``numpy.random.default_rng(seed)``.
2. ``run_store``: ``c`` long-lived server processes pull customers (their arrival
   time) from a ``simpy.Store`` filled by the arrival process.
3. ``run_resource_prebatched``: like 1, but all interarrival and service times
   are drawn up front as numpy arrays (measures the cost of per-event draws).

Run ``python bench/plain_simpy.py --help`` for the timing harness.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import simpy


# --------------------------------------------------------------------------- #
# 1. Textbook: one process per customer, simpy.Resource, per-event draws.
# --------------------------------------------------------------------------- #
def run_resource(arrival_rate, service_rate, servers, horizon_minutes, seed,
                 info=None):
    """M/M/c with a Resource and one process per customer; returns queue waits.

    If ``info`` is a dict, ``info["arrivals"]`` is set after the run (outside
    the timed event loop).
    """
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=servers)
    waits = []

    def customer(env):
        arrived = env.now
        with desk.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(rng.exponential(1.0 / service_rate))

    def arrivals(env):
        while True:
            yield env.timeout(rng.exponential(1.0 / arrival_rate))
            env.process(customer(env))

    env.process(arrivals(env))
    env.run(until=horizon_minutes)
    if info is not None:  # served (incl. in service) + still queued
        info["arrivals"] = len(waits) + len(desk.queue)
    return waits


# --------------------------------------------------------------------------- #
# 2. c long-lived server processes pulling arrival times from a Store.
# --------------------------------------------------------------------------- #
def run_store(arrival_rate, service_rate, servers, horizon_minutes, seed,
              info=None):
    """M/M/c with c server processes and a FIFO Store; returns queue waits."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    line = simpy.Store(env)  # unbounded FIFO of arrival times
    waits = []

    def server(env):
        while True:
            arrived = yield line.get()
            waits.append(env.now - arrived)
            yield env.timeout(rng.exponential(1.0 / service_rate))

    def arrivals(env):
        while True:
            yield env.timeout(rng.exponential(1.0 / arrival_rate))
            line.put(env.now)  # unbounded store: put never blocks

    for _ in range(servers):
        env.process(server(env))
    env.process(arrivals(env))
    env.run(until=horizon_minutes)
    if info is not None:
        info["arrivals"] = len(waits) + len(line.items)
    return waits


# --------------------------------------------------------------------------- #
# 3. As 1, but all random numbers drawn up front in numpy arrays.
# --------------------------------------------------------------------------- #
def run_resource_prebatched(arrival_rate, service_rate, servers,
                            horizon_minutes, seed, info=None):
    """Like ``run_resource`` with interarrival/service times pre-drawn."""
    rng = np.random.default_rng(seed)
    # Enough interarrivals to cover the horizon (mean + 10 sd; extend if not).
    mean_n = arrival_rate * horizon_minutes
    n = int(mean_n + 10 * math.sqrt(mean_n)) + 10
    gaps = rng.exponential(1.0 / arrival_rate, n)
    while gaps.sum() <= horizon_minutes:
        gaps = np.concatenate([gaps, rng.exponential(1.0 / arrival_rate, n)])
    services = rng.exponential(1.0 / service_rate, len(gaps))

    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=servers)
    waits = []

    def customer(env, service):
        arrived = env.now
        with desk.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(service)

    def arrivals(env):
        # .tolist(): iterate plain Python floats rather than numpy scalars.
        for gap, service in zip(gaps.tolist(), services.tolist()):
            yield env.timeout(gap)
            env.process(customer(env, service))

    env.process(arrivals(env))
    env.run(until=horizon_minutes)
    if info is not None:
        info["arrivals"] = len(waits) + len(desk.queue)
    return waits


# --------------------------------------------------------------------------- #
# Analytic check and timing harness.
# --------------------------------------------------------------------------- #
def erlang_c_wait(arrival_rate, service_rate, servers):
    """Steady-state mean wait in queue (Wq) of M/M/c, via the Erlang-B recursion."""
    a = arrival_rate / service_rate  # offered load (Erlangs)
    rho = a / servers
    if rho >= 1:
        return math.inf
    b = 1.0
    for k in range(1, servers + 1):  # Erlang B, numerically stable
        b = a * b / (k + a * b)
    p_wait = b / (1 - rho * (1 - b))  # Erlang C = P(wait > 0)
    return p_wait / (servers * service_rate - arrival_rate)


VARIANTS = {
    "resource": run_resource,
    "store": run_store,
    "prebatched": run_resource_prebatched,
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arrival-rate", type=float, default=7000 / 1440,
                   help="lambda, arrivals per minute (default 7000/day)")
    p.add_argument("--service-rate", type=float, default=0.5,
                   help="mu, services per minute per server (default 0.5)")
    p.add_argument("--servers", type=int, default=10, help="c (default 10)")
    p.add_argument("--horizon", type=float, default=1440,
                   help="simulated minutes per run (default 1440 = one day)")
    p.add_argument("--repeat", type=int, default=7,
                   help="runs per variant; run i uses seed+i (default 7)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)

    lam, mu, c = args.arrival_rate, args.service_rate, args.servers
    print(f"M/M/{c}: lambda={lam:.4f}/min  mu={mu:.4f}/min  "
          f"rho={lam / (c * mu):.4f}  horizon={args.horizon:g} min  "
          f"repeat={args.repeat}")

    times = {name: [] for name in VARIANTS}
    waits = {name: [] for name in VARIANTS}
    arrivals = {name: [] for name in VARIANTS}
    for i in range(args.repeat):
        for name, fn in VARIANTS.items():  # interleave variants to share drift
            info = {}
            t0 = time.perf_counter()
            w = fn(lam, mu, c, args.horizon, args.seed + i, info=info)
            times[name].append(time.perf_counter() - t0)
            waits[name].extend(w)
            arrivals[name].append(info["arrivals"])

    print(f"\n{'variant':<11} {'best ms':>8} {'median ms':>10} "
          f"{'arrivals/run':>13} {'mean wait min':>14}")
    for name in VARIANTS:
        print(f"{name:<11} {min(times[name]) * 1e3:8.1f} "
              f"{statistics.median(times[name]) * 1e3:10.1f} "
              f"{statistics.mean(arrivals[name]):13.0f} "
              f"{statistics.mean(waits[name]):14.2f}")
    print(f"Erlang-C steady-state Wq: {erlang_c_wait(lam, mu, c):.2f} min "
          "(runs start empty; near rho=1 a day averages below this and is noisy)")

    for name in ("store", "prebatched"):
        print(f"{name}/resource: best {min(times[name]) / min(times['resource']):.3f}"
              f"  median {statistics.median(times[name]) / statistics.median(times['resource']):.3f}")


if __name__ == "__main__":
    main()
