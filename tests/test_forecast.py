"""Travel-wave forecasting: the model recovers a known weekly + yearly pattern, bad CSV files are
one-line errors, and the demand files it writes feed ``run`` with no hand editing."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.cli import main
from sim.demand import hourly_rates
from sim.forecast import fit_model, forecast_history, holiday_dates, read_history

from conftest import SCENARIOS, mmc_scenario

WEEK = np.array([0.90, 0.85, 0.90, 1.00, 1.15, 1.30, 1.10])
WEEK = WEEK / WEEK.mean()


def synthetic(first: str = "2022-01-01", last: str = "2024-12-31", seed: int = 3) -> tuple[pd.Series, pd.Series]:
    """(Poisson counts, their known expected value): level 500, the weekly profile WEEK and a
    yearly wave exp(0.5 cos(2 pi (t - 0.55))) peaking in mid-July."""
    dates = pd.date_range(first, last, freq="D")
    years = np.asarray((dates - dates[0]).days, dtype=float) / 365.25
    mean = 500 * WEEK[dates.day_of_week] * np.exp(0.5 * np.cos(2 * np.pi * (years - 0.55)))
    counts = np.random.default_rng(seed).poisson(mean).astype(float)
    return pd.Series(counts, index=dates), pd.Series(mean, index=dates)


def test_recovers_a_known_weekly_and_yearly_pattern_within_its_interval():
    counts, truth = synthetic()
    result = forecast_history(counts, dt.date(2025, 1, 1), dt.date(2025, 1, 31), holdout=56)
    held = result.holdout
    expected = truth.loc[held.index]
    inside = (expected >= held["p10"]) & (expected <= held["p90"])
    assert inside.mean() >= 0.95                                   # the known pattern, in [P10, P90]
    assert np.max(np.abs(held["p50"] / expected - 1)) < 0.06      # and close to the P50 every day
    assert np.allclose(result.weekday_factors, WEEK, rtol=0.03)
    # the observed counts (Poisson noise on top) are covered about as often as stated
    assert 0.8 <= result.quality["share_below_p90"] <= 1.0
    assert 0.6 <= result.quality["share_in_p10_p90"] <= 0.95
    assert result.quality["mape_p50"] < 0.08
    # the forecast continues the wave: January is the trough, as it was a year before
    january = truth[(truth.index >= "2024-01-01") & (truth.index <= "2024-01-31")]
    assert result.forecast["p50"].mean() == pytest.approx(january.mean(), rel=0.06)


def test_holiday_regressor_recovers_a_holiday_wave():
    """Counts x1.8 on China's public holidays (the ``holidays`` package): with ``countries=("CN",)``
    the held-back National Day week (1-7 Oct 2024) is inside the interval and the factor is
    recovered; without it, the holiday days are missed."""
    counts, truth = synthetic("2022-01-01", "2024-10-31", seed=11)
    holidays = holiday_dates("CN", 2022, 2024)
    boost = np.where(counts.index.isin(holidays), 1.8, 1.0)
    rng = np.random.default_rng(12)
    truth = truth * boost
    counts = pd.Series(rng.poisson(truth.to_numpy()).astype(float), index=counts.index)
    result = forecast_history(counts, dt.date(2024, 11, 1), dt.date(2024, 11, 7), holdout=56, countries=("CN",))
    held = result.holdout
    expected = truth.loc[held.index]
    inside = (expected >= held["p10"]) & (expected <= held["p90"])
    on_holiday = held.index.isin(holidays)
    assert on_holiday.sum() >= 5 and inside[on_holiday].all() and inside.mean() >= 0.9
    assert result.info["holiday_factors"]["CN"] == pytest.approx(1.8, rel=0.06)
    plain = fit_model(counts.iloc[:-56]).predict(counts.index[-56:])
    assert not ((expected >= plain["p10"]) & (expected <= plain["p90"]))[on_holiday].any()


def test_without_yearly_terms_the_same_check_fails():
    """The check can fail: with no yearly seasonality the held-back wave is not recovered."""
    counts, truth = synthetic()
    held = fit_model(counts.iloc[:-56], fourier=0).predict(counts.index[-56:])
    expected = truth.loc[held.index]
    inside = (expected >= held["p10"]) & (expected <= held["p90"])
    assert inside.mean() < 0.95 or np.max(np.abs(held["p50"] / expected - 1)) > 0.3


def _csv(tmp_path, text: str):
    path = tmp_path / "history.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, field, needle", [
    ("day,count\n2025-01-01,3\n", "date", "missing column 'date'"),
    ("date,count\n2025-01-01,3\n2025-13-02,4\n", "date", "row 3: expected a date YYYY-MM-DD, got '2025-13-02'"),
    ("date,count\n2025-01-01,-3\n", "count", "row 2: expected a count >= 0, got '-3'"),
    ("date,count\n2025-01-01,x\n", "count", "row 2: expected a count >= 0, got 'x'"),
    ("date,count\n2025-01-01,3\n2025-01-01,4\n", "date", "row 3: 2025-01-01 appears twice"),
])
def test_bad_history_is_one_line_naming_file_column_and_row(tmp_path, capsys, text, field, needle):
    path = _csv(tmp_path, text)
    with pytest.raises(sim.ScenarioError) as error:
        read_history(path)
    problem = error.value.problems[0]
    assert problem.file == str(path) and problem.path == field and needle in problem.message
    out = tmp_path / "out"
    assert main(["forecast", str(path), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and not out.exists()


@pytest.mark.parametrize("arguments, needle", [
    (["--scenario", "{scenario}", "--from", "2025-03-01", "--to", "2025-02-01"],
     "--to: expected a date on or after --from (2025-03-01), got 2025-02-01"),
    (["--scenario", "{scenario}", "--from", "2025-01-01", "--to", "2026-12-31"], "--to: 2025-01-01 to 2026-12-31"),
])
def test_bad_forecast_options_are_one_line_before_fitting(tmp_path, capsys, arguments, needle):
    history = _csv(tmp_path, "date,count\n" + "".join(f"2024-{m:02d}-{d:02d},5\n" for m in (1, 2, 3) for d in (1, 2)))
    scenario = tmp_path / "base.yaml"
    scenario.write_text(yaml.safe_dump(mmc_scenario(0.01, 5.0, 2, days=3, warmup_days=1)), encoding="utf-8")
    out = tmp_path / "out"
    arguments = [argument.format(scenario=scenario) for argument in arguments]
    assert main(["forecast", str(history), "--out", str(out), *arguments]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and not out.exists()
    assert not list(tmp_path.glob("*_p50.yaml"))


def test_the_same_history_gives_the_same_forecast():
    counts, _ = synthetic("2023-01-01", "2024-06-30", seed=9)
    first, second = (forecast_history(counts, dt.date(2024, 7, 1), dt.date(2024, 7, 14), holdout=14)
                     for _ in range(2))
    pd.testing.assert_frame_equal(first.forecast, second.forecast, check_exact=True)


def test_classes_are_summed_and_missing_days_are_missing(tmp_path):
    path = _csv(tmp_path, "# a comment\ndate,count,class\n2025-01-01,3,car\n2025-01-01,1,bus\n2025-01-03,2,car\n")
    daily, shares = read_history(path)
    assert list(daily.index.date) == [dt.date(2025, 1, d) for d in (1, 2, 3)]
    assert daily.iloc[0] == 4 and np.isnan(daily.iloc[1]) and daily.iloc[2] == 2
    assert shares == pytest.approx({"bus": 1 / 6, "car": 5 / 6})


def test_cli_writes_p50_and_p90_files_that_run_as_they_are(tmp_path, capsys):
    counts, _ = synthetic("2023-01-01", "2024-12-31", seed=5)
    counts = counts / 50                                              # ~10 a day: a cheap simulation
    history = tmp_path / "history.csv"
    pd.DataFrame({"date": counts.index.date, "count": counts.round().astype(int)}).to_csv(history, index=False)
    scenario = tmp_path / "base.yaml"
    scenario.write_text(yaml.safe_dump(mmc_scenario(0.01, 5.0, 2, days=3, warmup_days=1)), encoding="utf-8")
    stem = tmp_path / "wave"
    out = tmp_path / "forecast"
    assert main(["forecast", str(history), "--scenario", str(scenario), "--from", "2025-01-02", "--to",
                 "2025-01-08", "--out", str(out), "--scenario-out", str(stem)]) == 0
    printed = capsys.readouterr().out
    assert "held-back check on the last 28 days" in printed
    for name in ("forecast.csv", "forecast.json", "forecast.md", "forecast.png"):
        assert (out / name).is_file()
    table = pd.read_csv(out / "forecast.csv", parse_dates=["date"]).set_index("date")
    p50, p90 = (sim.load_scenario(tmp_path / f"wave_{q}.yaml") for q in ("p50", "p90"))
    for loaded, quantile in ((p50, "p50"), (p90, "p90")):
        assert loaded.calendar.start_date == dt.date(2025, 1, 1) and loaded.calendar.days == 8   # 1 warm-up day
        volumes = loaded.demand.daily_volumes
        assert sorted(volumes) == [dt.date(2025, 1, d) for d in range(1, 9)]
        for date, volume in volumes.items():
            assert volume == pytest.approx(table.loc[pd.Timestamp(date), quantile], abs=0.05)
        assert hourly_rates(loaded).reshape(-1, 24).sum(axis=1) == pytest.approx(
            [volumes[d] for d in sorted(volumes)])
    assert all(p90.demand.daily_volumes[d] > p50.demand.daily_volumes[d] for d in p50.demand.daily_volumes)
    run = tmp_path / "run"
    assert main(["run", str(tmp_path / "wave_p50.yaml"), "--replications", "1", "--workers", "1", "--no-plots",
                 "--no-entities", "--out", str(run)]) == 0
    summary = pd.read_csv(run / "summary.csv")
    arrivals = summary.query("group == 'all' and metric == 'throughput_per_day'")["mean"].iloc[0]
    assert arrivals > 0
    # a second run refuses to replace the demand files
    assert main(["forecast", str(history), "--scenario", str(scenario), "--out", str(tmp_path / "again"),
                 "--scenario-out", str(stem)]) == 2
    assert "already exists" in capsys.readouterr().err and not (tmp_path / "again").exists()


def test_shipped_jeminay_history_matches_its_stated_figures():
    daily, _ = read_history(SCENARIOS / "data" / "jeminay_history.csv")
    in_2025 = daily[daily.index >= "2025-01-01"]
    assert in_2025.sum() == 49_000 and in_2025.index[-1] == pd.Timestamp("2025-07-15")
    assert (daily[daily.index >= "2025-07-01"] > 830).any()
    august_2024 = daily[(daily.index >= "2024-08-01") & (daily.index <= "2024-08-31")]
    assert 450 <= august_2024.mean() <= 550 and august_2024.max() > 700


def test_a_history_of_persons_gives_demand_files_that_count_persons(tmp_path, capsys):
    """--counts persons: the files keep the counted volumes and say demand.counts: persons; the
    model turns them into entities by the class mix (here buses of 10 and people on foot)."""
    counts, _ = synthetic("2023-01-01", "2024-12-31", seed=5)
    history = tmp_path / "history.csv"
    pd.DataFrame({"date": counts.index.date, "count": (counts / 20).round().astype(int)}).to_csv(history, index=False)
    base = mmc_scenario(0.01, 5.0, 2, days=3, warmup_days=1,
                        classes={"foot": {"share": 0.5}, "bus": {"share": 0.5, "group_size": 10}})
    scenario = tmp_path / "base.yaml"
    scenario.write_text(yaml.safe_dump(base), encoding="utf-8")
    assert main(["forecast", str(history), "--scenario", str(scenario), "--from", "2025-01-02", "--to",
                 "2025-01-04", "--out", str(tmp_path / "out"), "--scenario-out", str(tmp_path / "wave"),
                 "--counts", "persons"]) == 0
    capsys.readouterr()
    loaded = sim.load_scenario(tmp_path / "wave_p50.yaml")
    assert loaded.demand.counts == "persons"
    volumes = [loaded.demand.daily_volumes[d] for d in sorted(loaded.demand.daily_volumes)]
    assert hourly_rates(loaded).reshape(-1, 24).sum(axis=1) == pytest.approx([v / 5.5 for v in volumes])
