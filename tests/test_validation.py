"""The validation suite against queueing theory (issue: validation report), reduced and full."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim import analytic
from sim.cli import main
from sim.validation import coverage_cases, run_suite, suite

COLUMNS = ["case", "quantity", "reference", "reference_kind", "sim_mean", "ci_low", "ci_high", "replications",
           "passed"]


def test_transient_solution_settles_to_the_stationary_queue() -> None:
    """The forward equations of a constant-rate M/M/c approach Erlang C's L_q, from below."""
    hourly = analytic.transient_mmc_queue_length([4.5] * 24, [5] * 24, 1.0)
    assert hourly[0] < hourly[5] < hourly[-1]
    assert hourly[-1] == pytest.approx(analytic.mmc_queue_length_mean(4.5, 1.0, 5), rel=1e-6)
    with pytest.raises(ValueError):
        analytic.transient_mmc_queue_length([1.0, 2.0], [3], 1.0)


def test_full_suite_has_the_required_cases() -> None:
    names = " | ".join(case.name for case in suite())
    for required in ("M/M/1, rho = 0.5", "M/M/1, rho = 0.8", "M/M/1, rho = 0.95", "M/M/10, rho = 0.95",
                     "M/D/1", "M/G/1 lognormal", "priority", "series", "M(t)/M/c(t)", "Erlang-A", "rho = 2",
                     "M/M/2/7", "abandonment share"):
        assert required in names + " | ".join(case.name for case, _ in coverage_cases(200))
    erlang_a = [case for case in suite() if "Erlang-A" in case.name]
    assert any(float(case.name.split("rho = ")[1].split(",")[0]) > 1 for case in erlang_a)
    assert {"P(wait > 0)", "P(abandon)", "mean wait of all arrivals (min)", "mean wait of the served (min)",
            "Little's law with abandonment L_q / (lambda W_q)"} <= {c.quantity for case in erlang_a for c in case.checks}


def test_reduced_suite_passes_and_its_report_is_written(tmp_path: Path, capsys) -> None:
    out, docs = tmp_path / "validation", tmp_path / "docs" / "validation.md"
    assert main(["validate-model", "--reduced", "--out", str(out), "--docs", str(docs), "--workers", "2"]) == 0
    table = pd.read_csv(out / "validation.csv")
    assert list(table.columns) == COLUMNS
    assert table["passed"].all(), table[~table["passed"]].to_string()
    hourly = table[table["case"].str.startswith("M(t)/M/c(t)")]
    assert len(hourly) == 24 and hourly["reference"].max() > 100      # the peak builds a real queue
    coverage = table[table["case"].str.startswith("Coverage")]
    assert len(coverage) == 2 and coverage["sim_mean"].between(0.8, 1.0).all()
    impatient = table[table["case"].str.contains("Erlang-A|queue cap")]
    assert set(impatient["quantity"]) >= {"P(abandon)", "blocking probability", "mean wait of the admitted (min)"}
    report = docs.read_text()
    assert report.startswith("# Validation against queueing theory") and f"{len(table)} of {len(table)}" in report
    assert "checks pass" in capsys.readouterr().out


@pytest.mark.slow
def test_full_suite_passes() -> None:
    table = run_suite(reduced=False, workers=2)
    assert table["passed"].all(), table[~table["passed"]].to_string()
    coverage = table[table["case"].str.startswith("Coverage")]["sim_mean"]
    assert len(coverage) == 2 and coverage.between(0.92, 0.98).all()


def test_mmck_admitted_wait_is_little_on_the_admitted() -> None:
    """M/M/c/K: a huge cap gives Erlang C; no cap room gives no wait; M/M/1/K at rho = 1 is
    uniform over 0 ... K in system, so L_q and the admitted rate follow by hand."""
    assert analytic.mmck_wait_mean_admitted(0.8, 1.0, 2, 400) == pytest.approx(analytic.mmc_wait_mean(0.8, 1.0, 2))
    assert analytic.mmck_wait_mean_admitted(1.0, 1.0, 2, 0) == 0.0
    # K = 4 (cap 3): P(n) = 1/5; L_q = (1 + 2 + 3) / 5; admitted rate 4/5
    assert analytic.mmck_wait_mean_admitted(1.0, 1.0, 1, 3) == pytest.approx((6 / 5) / (4 / 5))
