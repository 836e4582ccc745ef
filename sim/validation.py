"""Validation against queueing theory: a fixed suite of cases with exact or reference values.

Each case is a small scenario whose answer theory knows (Erlang C, Cobham's priority formula,
Pollaczek–Khinchine, Jackson networks, the Kolmogorov forward equations of a time-varying
queue, Erlang-A for impatient travellers, M/M/c/K for a capped queue). The engine simulates it with independent replications; a check passes when the
reference value lies inside the simulated confidence interval, Bonferroni-adjusted over all the
checks of the suite (family-wise 95 %), so that a correct engine passes the whole suite 95 % of
the time and a wrong one fails. The last checks measure the coverage of the confidence intervals
themselves (of the mean wait, and of the abandonment share). ``checkpoint-sim validate-model`` writes ``validation.csv`` and ``report.html`` in its results folder
(:func:`sim.publish.publish_validation`), and the Markdown page (:func:`markdown_report`) elsewhere
only when asked (``--docs docs/validation.md``).
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from . import analytic
from .errors import Problem, ScenarioError
from .experiment import Replications
from .groups import kind
from .runner import ReplicationOutput
from .scenario import load_scenario
from .stats import mean_ci

FAMILY_CONFIDENCE = 0.95


def queue_scenario(arrival_rate: float, stages: dict[str, dict], days: int, warmup_days: int,
                   classes: dict[str, dict] | None = None, hour_weights: list[float] | None = None,
                   name: str = "validation") -> dict:
    """A one-direction, 24 h scenario dict with flat or given hourly demand (rates per minute).

    ``stages`` maps stage name -> {"servers": int or booth schedule, "service": distribution
    dict, "green_channel": "none" | "priority" | "dedicated", optionally "queue_capacity": int};
    every class visits every stage.
    """
    classes = classes or {"traveler": {"share": 1.0}}
    classes = {name_: {"directions": {"KZ_to_CN": 1.0}, **spec} for name_, spec in classes.items()}
    return {
        "name": name,
        "crossing": {"name": "Validation queue", "kz_post": "-", "cn_post": "-", "latitude": 0, "longitude": 0},
        "calendar": {"start_date": "2025-01-06", "days": days, "warmup_days": warmup_days, "drain": "0 min"},
        "demand": {"daily_volume": arrival_rate * 1440.0, "hour_weights": hour_weights or [1.0] * 24},
        "classes": classes,
        "stages": {stage: {"side": "KZ", "service_time": {c: spec["service"] for c in classes},
                           "pools": {"booths": {"serves": list(classes), "booths": spec["servers"],
                                                "green_channel": spec.get("green_channel", "none")}},
                           **({"queue_capacity": spec["queue_capacity"]} if "queue_capacity" in spec else {})}
                   for stage, spec in stages.items()},
        "routes": {"KZ_to_CN": list(stages)},
    }


def exponential(mean_minutes: float) -> dict:
    return {"dist": "exponential", "mean": f"{mean_minutes!r} min"}


@dataclass
class Check:
    """One quantity of a case: its reference value and how to read it from a replication."""

    quantity: str
    reference: float
    reference_kind: str                       # "exact" or "approximation"
    extract: Callable[[ReplicationOutput], float]


@dataclass
class Case:
    name: str
    scenario: dict
    replications: int
    checks: list[Check]
    seed: int = 1


def metric(group: str, name: str) -> Callable[[ReplicationOutput], float]:
    def extract(output: ReplicationOutput) -> float:
        for row_group, row_metric, value in output.metrics:
            if row_group == group and row_metric == name:
                return value
        return np.nan
    return extract


def hourly_metric(group: str, name: str, hour: int) -> Callable[[ReplicationOutput], float]:
    def extract(output: ReplicationOutput) -> float:
        for row_hour, row_group, row_metric, value in output.hourly:
            if row_hour == hour and row_group == group and row_metric == name:
                return value
        return np.nan
    return extract


def little(group: str, rate: str | None = None) -> Callable[[ReplicationOutput], float]:
    """L_q / (lambda W_q) from one replication's outputs: 1 by Little's law. ``lambda`` is the
    ``rate`` metric per day (default: services, or the throughput of an entity group); with
    abandonment it is the arrivals, each in the queue until served or gone."""
    rate = rate or ("services_per_day" if kind(group) == "stage" else "throughput_per_day")

    def extract(output: ReplicationOutput) -> float:
        values = {(g, m): v for g, m, v in output.metrics if g == group}
        return values[group, "queue_length_mean"] / (values[group, rate] / 1440.0 * values[group, "wait_mean"])
    return extract


def mmc_case(load: float, servers: int, days: int, replications: int, service_mean: float = 1.0) -> Case:
    arrival_rate = load * servers / service_mean
    scenario = queue_scenario(arrival_rate, {"desk": {"servers": servers, "service": exponential(service_mean)}},
                              days=days, warmup_days=1)
    rate = 1.0 / service_mean
    return Case(f"M/M/{servers}, rho = {load:g}", scenario, replications, [
        Check("mean wait (min)", analytic.mmc_wait_mean(arrival_rate, rate, servers), "exact", metric("all", "wait_mean")),
        Check("P(wait > 0)", analytic.mmc_wait_probability(arrival_rate, rate, servers), "exact",
              metric("all", "share_waiting")),
        Check("Little's law L_q / (lambda W_q)", 1.0, "exact", little("all")),
    ])


def mg1_case(name: str, service: dict, cv: float, days: int, replications: int) -> Case:
    arrival_rate, service_mean = 0.8, 1.0
    scenario = queue_scenario(arrival_rate, {"desk": {"servers": 1, "service": service}}, days=days, warmup_days=1)
    return Case(name, scenario, replications, [
        Check("mean wait (min)", analytic.mg1_wait_mean(arrival_rate, service_mean, cv), "exact",
              metric("all", "wait_mean"))])


def priority_case(days: int, replications: int) -> Case:
    servers, load, green_share = 4, 0.85, 0.3
    arrival_rate = load * servers
    classes = {"green": {"share": green_share, "green_channel_share": 1.0}, "other": {"share": 1 - green_share}}
    scenario = queue_scenario(arrival_rate, {"desk": {"servers": servers, "service": exponential(1.0),
                                                      "green_channel": "priority"}},
                              days=days, warmup_days=1, classes=classes)
    green, other = analytic.priority_mmc_wait_means([arrival_rate * green_share, arrival_rate * (1 - green_share)],
                                                    1.0, servers)
    return Case("Two-class non-preemptive priority M/M/4 (green channel), rho = 0.85", scenario, replications, [
        Check("mean wait, green channel (min)", green, "exact", metric("class=green", "wait_mean")),
        Check("mean wait, others (min)", other, "exact", metric("class=other", "wait_mean"))])


def tandem_case(days: int, replications: int) -> Case:
    arrival_rate = 3.0
    stages = {"first": {"servers": 4, "service": exponential(1.0)}, "second": {"servers": 2, "service": exponential(0.6)}}
    scenario = queue_scenario(arrival_rate, stages, days=days, warmup_days=1)
    return Case("Two M/M/c stages in series (Jackson network)", scenario, replications, [
        Check("mean wait at stage 1, M/M/4 rho = 0.75 (min)", analytic.mmc_wait_mean(arrival_rate, 1.0, 4), "exact",
              metric("stage=first", "wait_mean")),
        Check("mean wait at stage 2, M/M/2 rho = 0.9 (min)", analytic.mmc_wait_mean(arrival_rate, 1 / 0.6, 2), "exact",
              metric("stage=second", "wait_mean"))])


def time_varying_case(replications: int) -> Case:
    """One day from empty: a morning peak and booths raised from 6 to 9 for 07:00-12:00."""
    weights = [1.0] * 6 + [2.0, 4.0, 6.0, 6.0, 4.0, 2.5] + [2.0] * 12
    daily_volume = 6000.0
    rates = [daily_volume * w / sum(weights) / 60.0 for w in weights]   # per minute, hour by hour
    booths = [6] * 7 + [9] * 5 + [6] * 12
    service_mean = 1.5
    schedule = {"default": 6, "rules": [{"hours": [7, 12], "booths": 9}]}
    scenario = queue_scenario(daily_volume / 1440.0, {"desk": {"servers": schedule, "service": exponential(service_mean)}},
                              days=1, warmup_days=0, hour_weights=weights)
    reference = analytic.transient_mmc_queue_length(rates, booths, 1.0 / service_mean)
    return Case("M(t)/M/c(t) day: morning peak, 6 -> 9 -> 6 booths (Kolmogorov forward equations)", scenario,
                replications, [Check(f"mean queue length {hour:02d}:00-{hour + 1:02d}:00", reference[hour], "exact",
                                     hourly_metric("all", "queue_length_mean", hour)) for hour in range(24)])


def erlang_a_case(load: float, servers: int, patience_mean: float, days: int, replications: int,
                  service_mean: float = 1.0) -> Case:
    """M/M/c+M (Erlang-A, Palm): exponential patience, lost when it runs out in the queue."""
    arrival_rate = load * servers / service_mean
    classes = {"traveler": {"share": 1.0, "patience": exponential(patience_mean)}}
    scenario = queue_scenario(arrival_rate, {"desk": {"servers": servers, "service": exponential(service_mean)}},
                              days=days, warmup_days=1, classes=classes)
    exact = analytic.erlang_a(arrival_rate, 1.0 / service_mean, 1.0 / patience_mean, servers)
    return Case(f"M/M/{servers}+M (Erlang-A), rho = {load:g}, mean patience {patience_mean:g} min", scenario,
                replications, [
                    Check("P(wait > 0)", exact.wait_probability, "exact", metric("all", "share_waiting")),
                    Check("P(abandon)", exact.abandon_probability, "exact", metric("all", "lost_share")),
                    Check("mean wait of all arrivals (min)", exact.wait_mean, "exact", metric("all", "wait_mean")),
                    Check("mean wait of the served (min)", exact.wait_mean_served, "exact",
                          metric("all", "wait_mean_served")),
                    Check("Little's law with abandonment L_q / (lambda W_q)", 1.0, "exact",
                          little("all", "arrivals_per_day"))])


def mmck_case(load: float, servers: int, queue_capacity: int, days: int, replications: int,
              service_mean: float = 1.0) -> Case:
    """M/M/c/K, K = c + queue_capacity: who finds the queue full balks (is lost)."""
    arrival_rate = load * servers / service_mean
    stage = {"servers": servers, "service": exponential(service_mean), "queue_capacity": queue_capacity}
    scenario = queue_scenario(arrival_rate, {"desk": stage}, days=days, warmup_days=1)
    rate = 1.0 / service_mean
    return Case(f"M/M/{servers}/{servers + queue_capacity} (queue cap {queue_capacity}), rho = {load:g}", scenario,
                replications, [
                    Check("blocking probability", analytic.mmck_blocking(arrival_rate, rate, servers, queue_capacity),
                          "exact", metric("all", "balked_share")),
                    Check("mean wait of the admitted (min)",
                          analytic.mmck_wait_mean_admitted(arrival_rate, rate, servers, queue_capacity), "exact",
                          metric("all", "wait_mean_served"))])


def suite(reduced: bool = False) -> list[Case]:
    """The validation cases; ``reduced`` is the quick version the default test suite runs."""
    if reduced:
        # M/M/c at three loads and the priority formula are also in tests/test_theory.py
        return [mmc_case(0.5, 1, days=6, replications=8), tandem_case(days=4, replications=8),
                time_varying_case(replications=80),
                erlang_a_case(1.5, 2, 2.0, days=4, replications=8, service_mean=2.0),
                mmck_case(1.2, 2, 3, days=4, replications=8, service_mean=2.0)] + rail_yard_cases(reduced)
    return [mmc_case(0.5, 1, days=11, replications=20), mmc_case(0.8, 1, days=21, replications=20),
            mmc_case(0.95, 1, days=101, replications=20),
            mmc_case(0.5, 5, days=6, replications=20), mmc_case(0.8, 10, days=6, replications=20),
            mmc_case(0.95, 10, days=31, replications=20),
            mg1_case("M/D/1, rho = 0.8 (Pollaczek-Khinchine)", {"dist": "deterministic", "value": "1 min"}, 0.0,
                     days=21, replications=20),
            mg1_case("M/G/1 lognormal CV 1.5, rho = 0.8 (Pollaczek-Khinchine)",
                     {"dist": "lognormal", "mean": "1 min", "cv": 1.5}, 1.5, days=41, replications=20),
            priority_case(days=11, replications=20), tandem_case(days=11, replications=20),
            time_varying_case(replications=300),
            erlang_a_case(0.9, 1, 5.0, days=11, replications=20), erlang_a_case(1.0, 5, 2.0, days=6, replications=20),
            erlang_a_case(1.3, 6, 2.5, days=6, replications=20, service_mean=4.0),
            erlang_a_case(2.0, 2, 1.0, days=6, replications=20),
            mmck_case(0.9, 2, 5, days=11, replications=20), mmck_case(1.3, 3, 3, days=6, replications=20)] + \
        rail_yard_cases(reduced)



def rail_yard_case(name: str, spread: str, documents: dict, reference: "analytic.DeterministicQueue",
                   per_day: int, tracks: int, days: int, replications: int) -> Case:
    """A border station of the rail model with ``tracks`` tracks and no gauge change: a train holds
    a track for its documents time and waits outside while all are taken, so the wait outside
    is the queue wait of a D/M/c (trains every 1440 / per_day min, exponential work) or M/D/c
    (a Poisson number a day, a fixed time) queue."""
    scenario = queue_scenario(0.0, {"desk": {"servers": 1, "service": exponential(1.0)}}, days=days, warmup_days=1,
                              name="validation_rail")
    scenario["rail"] = {
        "train_types": {"train": {"wagons": {"dist": "fixed", "value": 1}}},
        "daily_paths": [{"name": "trains", "train_type": "train", "direction": "KZ_to_CN", "per_day": per_day,
                         "spread": spread}],
        "stations": {"yard": {"side": "KZ", "directions": ["KZ_to_CN"], "tracks": tracks, "documents": documents}},
    }
    outside = metric("all", "rail_outside_wait_mean_h")
    return Case(name, scenario, replications, [
        Check("mean wait outside (min)", reference.wait_mean, "exact", lambda output: 60.0 * outside(output))])


def rail_yard_cases(reduced: bool = False) -> list[Case]:
    """D/M/2 and M/D/2 yards at rho = 0.625 (30 trains a day, 1 h on a track), against
    :func:`sim.analytic.dmc_wait` and :func:`sim.analytic.mdc_wait`."""
    days, replications = (11, 40) if reduced else (31, 60)
    return [
        rail_yard_case("rail yard D/M/2, rho = 0.625 (trains every 48 min, exponential 1 h)", "even",
                       exponential(60.0), analytic.dmc_wait(48.0, 1 / 60.0, 2), 30, 2, days, replications),
        rail_yard_case("rail yard M/D/2, rho = 0.625 (Poisson trains, a fixed 1 h)", "poisson",
                       {"dist": "deterministic", "value": "60 min"}, analytic.mdc_wait(30 / 1440.0, 60.0, 2), 30, 2,
                       days, replications),
    ]


@dataclass
class Coverage:
    """How often the reported 95 % CI of a case's first check contains its exact value."""

    repetitions: int
    replications: int
    quantity: str
    contained: int = 0
    low: float = 0.92
    high: float = 0.98
    results: list[bool] = field(default_factory=list)


def coverage_cases(repetitions: int) -> list[tuple[Case, Coverage]]:
    """Cases repeated with independent seeds, 10 replications each, to count how often their CI
    holds the exact value: an M/M/2 queue at rho = 0.6 (5-min services, two measured days after a
    warm-up day; the start-up bias is negligible) for the mean wait, and an M/M/2+M queue at
    rho = 1.2 (5-min services, 10-min mean patience) for the abandonment share."""
    wait = mmc_case(0.6, 2, days=3, replications=10, service_mean=5.0)
    wait.name = f"Coverage of the 95 % CI of the mean wait, M/M/2 rho = 0.6 ({repetitions} repetitions)"
    abandon = erlang_a_case(1.2, 2, 10.0, days=3, replications=10, service_mean=5.0)
    abandon.checks = [check for check in abandon.checks if check.quantity == "P(abandon)"]
    abandon.name = (f"Coverage of the 95 % CI of the abandonment share, M/M/2+M rho = 1.2 "
                    f"({repetitions} repetitions)")
    return [(wait, Coverage(repetitions, wait.replications, "share of 95 % CIs containing the exact mean wait")),
            (abandon, Coverage(repetitions, abandon.replications,
                               "share of 95 % CIs containing the exact P(abandon)"))]


def run_suite(reduced: bool = False, workers: int = 1, progress: bool | None = None,
              coverage_repetitions: int | None = None) -> pd.DataFrame:
    """Simulate every case and return the table of ``validation.csv``."""
    cases = suite(reduced)
    coverages = coverage_cases(coverage_repetitions or (30 if reduced else 200))
    scenarios = {id(case): load_scenario(case.scenario) for case in cases}
    coverage_scenarios = [load_scenario(case.scenario) for case, _ in coverages]
    with Replications(workers, description="validate-model", progress=progress) as runner:
        for index, case in enumerate(cases):
            runner.submit(("case", index), scenarios[id(case)], case.seed, range(case.replications), False)
        for which, (_, coverage) in enumerate(coverages):
            for repetition in range(coverage.repetitions):    # independent seeds: each repetition its own CI
                runner.submit(("coverage", which, repetition), coverage_scenarios[which], 1000 + repetition,
                              range(coverage.replications), False)
        collected = runner.collect()
    outputs = {(*key, replication): output for key, ordered in collected.items()
               for replication, output in enumerate(ordered)}
    checks = sum(len(case.checks) for case in cases)
    adjusted = 1 - (1 - FAMILY_CONFIDENCE) / checks
    rows = []
    for index, case in enumerate(cases):
        for check in case.checks:
            values = np.array([check.extract(outputs["case", index, r]) for r in range(case.replications)])
            mean, low, high = mean_ci(values)
            _, wide_low, wide_high = mean_ci(values, adjusted)
            rows.append({"case": case.name, "quantity": check.quantity, "reference": check.reference,
                         "reference_kind": check.reference_kind, "sim_mean": mean, "ci_low": low, "ci_high": high,
                         "replications": case.replications, "passed": bool(wide_low <= check.reference <= wide_high)})
    for which, (case, coverage) in enumerate(coverages):
        rows.append(_coverage_row(case, coverage, [[case.checks[0].extract(outputs["coverage", which, repetition, r])
                                                    for r in range(coverage.replications)]
                                                   for repetition in range(coverage.repetitions)]))
    return pd.DataFrame(rows)


def _coverage_row(case: Case, coverage: Coverage, values: list[list[float]]) -> dict:
    """The table row of a coverage check, from each repetition's replication values."""
    exact = case.checks[0]
    for repetition in values:
        _, low, high = mean_ci(np.array(repetition))
        coverage.results.append(bool(low <= exact.reference <= high))
    share = float(np.mean(coverage.results))
    _, share_low, share_high = _binomial_ci(sum(coverage.results), coverage.repetitions)
    if coverage.repetitions >= 200:
        rule, passed = f"nominal; pass band {coverage.low:g}-{coverage.high:g}", coverage.low <= share <= coverage.high
    else:   # too few repetitions for the band: the nominal level must lie in the proportion's CI
        rule, passed = "nominal; pass if inside the Wilson 95 % CI", share_low <= 0.95 <= share_high
    return {"case": case.name, "quantity": coverage.quantity, "reference": 0.95, "reference_kind": rule,
            "sim_mean": share, "ci_low": share_low, "ci_high": share_high, "replications": coverage.replications,
            "passed": passed}


def _binomial_ci(successes: int, trials: int) -> tuple[float, float, float]:
    """Wilson score 95 % interval of a proportion."""
    from scipy.stats import norm
    z = norm.ppf(0.975)
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return share, centre - half, centre + half


PAGE_TITLE = "# Validation against queueing theory"
SUITE_MARKER = "<!-- checkpoint-sim validation suite: {suite} -->"


def markdown_report(table: pd.DataFrame, command: str, reduced: bool) -> str:
    """``docs/validation.md``: every case, reference, simulated mean with its CI, pass/fail; a
    comment under the title says which suite (full or reduced) the page holds."""
    passed = int(table["passed"].sum())
    lines = [
        PAGE_TITLE,
        SUITE_MARKER.format(suite="reduced" if reduced else "full"),
        "",
        f"Generated by `{command}` on {dt.date.today().isoformat()}"
        f"{' (reduced suite)' if reduced else ''}: **{passed} of {len(table)} checks pass.**",
        "",
        "Each case is simulated with independent replications (warm-up day dropped; the time-varying day "
        "starts empty, like its reference). `CI` is the 95 % t interval of the simulated mean across "
        "replications. A check passes when the reference lies inside the interval widened to a "
        f"Bonferroni-adjusted level over all {int((~coverage_rows(table)).sum())} checks (family-wise 95 %), "
        "so a correct engine passes the whole suite 95 % of the time. The last rows check the intervals "
        "themselves: over independent repetitions, the share of 95 % CIs that contain the exact mean wait "
        "(and the exact abandonment share) must lie in 92-98 % (the reduced suite, with fewer repetitions: "
        "95 % must lie in the Wilson interval of that share).",
        "",
        "| case | quantity | reference | simulated mean | 95 % CI | reps | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(f"| {row.case} | {row.quantity} | {row.reference:.4g} ({row.reference_kind}) | "
                     f"{row.sim_mean:.4g} | [{row.ci_low:.4g}, {row.ci_high:.4g}] | {row.replications} | "
                     f"{'pass' if row.passed else '**FAIL**'} |")
    lines += ["", "References: Erlang C and Little's law (Gross et al., *Fundamentals of Queueing Theory*, 2008); "
              "Cobham (1954) for non-preemptive priorities; Pollaczek–Khinchine for M/G/1; Jackson (1957) for "
              "stages in series; the M(t)/M/c(t) reference solves the forward equations of the birth-death chain "
              "(`sim.analytic.transient_mmc_queue_length`); Erlang-A (M/M/c+M, Palm 1943; Garnett, Mandelbaum "
              "and Reiman 2002) from its birth-death chain (`sim.analytic.erlang_a`), P(wait > 0) being the "
              "share of arrivals who find every booth busy and the abandonment share `lost_share`; M/M/c/K "
              "(`sim.analytic.mmck_blocking`, `mmck_wait_mean_admitted`: Little's law on the admitted), the "
              "blocking probability being `balked_share`.", ""]
    return "\n".join(lines)


def coverage_rows(table: pd.DataFrame) -> pd.Series:
    """Which rows of a validation table are coverage checks (judged on their own, not Bonferroni)."""
    return table["case"].str.startswith("Coverage")


def page_suite(text: str) -> str | None:
    """Which suite a validation page holds: ``"full"``, ``"reduced"``, or None when ``text`` is
    not a validation page. Pages without the suite comment (older ones) are read from their
    "Generated by" line."""
    if not text.startswith(PAGE_TITLE):
        return None
    for suite in ("full", "reduced"):
        if SUITE_MARKER.format(suite=suite) in text:
            return suite
    generated = next((line for line in text.splitlines() if line.startswith("Generated by `")), None)
    if generated is None:
        return None
    return "reduced" if "(reduced suite)" in generated or "--reduced" in generated else "full"


def check_page_replaceable(path: str | os.PathLike, reduced: bool) -> None:
    """Refuse (a :class:`ScenarioError` naming ``--docs``) to write the page at ``path`` over a
    file that is not a validation page, or a ``reduced`` suite's page over the full suite's."""
    path = Path(path)
    if not path.is_file():
        return
    try:
        suite = page_suite(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(Problem("--docs", "", f"cannot read {path}: {error}")) from None
    if suite is None:
        raise ScenarioError(Problem("--docs", "", f"{path} is not a validation page written by validate-model: "
                                    "choose another --docs path"))
    if reduced and suite == "full":
        raise ScenarioError(Problem("--docs", "", f"{path} holds the full suite's results: a --reduced run does "
                                    "not replace them (run the full suite, or give another --docs path)"))
