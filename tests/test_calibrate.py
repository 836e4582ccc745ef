"""Calibration: target measurement, the objective, fitting with common random numbers, the
calibrated scenario file, NOT MET reporting, bad calibration blocks, and the shipped
``*_calibrated.yaml`` files meeting their targets.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

import sim
from conftest import SCENARIOS, line_of, mmc_scenario, small_scenario, write_yaml
from sim.analytic import mmc_wait_mean
from sim.fitting import (calibrate, check_targets, distance, format_summary, inside, load_for_calibration,
                         measure_target, objective)
from sim.cli import main
from sim.metrics import entity_table
from sim.runner import replication_metrics
from sim.scenario.calibration import Target

ARRIVAL_RATE, SERVERS = 1.0, 2          # M/M/2, one arrival a minute


def wait_band(service_low: float, service_high: float) -> list[str]:
    """The Erlang-C mean waits of M/M/2 at two service means: a band theory says is reachable."""
    return [f"{mmc_wait_mean(ARRIVAL_RATE, 1 / service, SERVERS)!r} min" for service in (service_low, service_high)]


def mmc_with_calibration(band: list, bounds=("30 s", "1.9 min"), max_evaluations: int = 20,
                         servers: int = SERVERS, service_mean: float = 1.0, path: str | None = None) -> dict:
    data = mmc_scenario(ARRIVAL_RATE, service_mean, servers, days=4, warmup_days=1)
    data["calibration"] = {
        "parameters": [{"path": path or "stages.desk.service_time.traveler.mean", "bounds": list(bounds),
                        "source": "test"}],
        "targets": {"wait": {"measure": "wait_mean", "band": band, "source": "Erlang C"}},
        "fit": {"replications": 2, "max_evaluations": max_evaluations},
    }
    return data


def target(**fields) -> Target:
    return Target.model_validate({"source": "test", **fields})


# --------------------------------------------------------------------------------------------
# measuring targets
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def weekend_run():
    """The small crossing from Friday 11 July 2025: measured Sat, Sun, Mon (one warm-up day)."""
    data = small_scenario()
    data["calendar"].update({"start_date": "2025-07-11", "days": 4, "warmup_days": 1})
    scenario = sim.load_scenario(data)
    layer = replication_metrics(scenario, 3, 0)
    rows = {(group, metric): value for group, metric, value in layer.rows()}
    return layer, entity_table(layer.records, layer.layout, layer.view), rows


def test_measures_agree_with_the_metric_rows(weekend_run):
    layer, entities, metrics = weekend_run

    def measured(**fields) -> tuple[float, float]:
        return measure_target(target(**fields), layer)

    assert measured(measure="throughput")[0] == pytest.approx(metrics[("all", "throughput_per_day")])
    assert measured(measure="wait_mean")[0] == pytest.approx(metrics[("all", "wait_mean")])
    assert measured(measure="wait_p90", classes=["car"])[0] == pytest.approx(metrics[("class=car", "wait_p90")])
    weekend = measured(measure="wait_mean", days="weekend")[0]
    assert weekend == pytest.approx(metrics[("day=weekend", "wait_mean")])
    difference, rest = measured(measure="wait_mean", days="weekend", above_rest=True)
    assert rest == pytest.approx(metrics[("day=weekday", "wait_mean")])
    assert difference == pytest.approx(weekend - rest)


def test_counts_filter_by_class_hours_and_dates(weekend_run):
    layer, entities, _ = weekend_run
    arrival = entities["arrival_min"]
    sunday = (arrival >= 2 * 1440) & (arrival < 3 * 1440)          # 13 July 2025
    buses = entities[sunday & (entities["class"] == "bus")]
    persons = measure_target(target(measure="arrivals", count="persons", per="total", classes=["bus"],
                                    **{"from": "2025-07-13", "to": "2025-07-13"}), layer)[0]
    assert persons == buses["group_size"].sum() > 0
    hour = (arrival % 1440) // 60
    morning = entities[(arrival >= 1440) & (hour >= 7) & (hour < 10)]   # measured days: Sat, Sun, Mon
    per_day = measure_target(target(measure="arrivals", hours=[7, 10]), layer)[0]
    assert per_day == pytest.approx(len(morning) / 3)
    nothing = measure_target(target(measure="wait_mean", classes=["bus"], hours=[3, 3.001]), layer)
    assert math.isnan(nothing[0])


def test_directions_and_distribution_targets_match_the_entity_table(weekend_run):
    layer, entities, _ = weekend_run
    measured = entities[(entities["arrival_min"] >= 1440) & (entities["arrival_min"] < 4 * 1440)]   # measured days
    north = measured[measured["direction"] == "CN_to_KZ"]
    assert 0 < len(north) < len(measured)
    wait = measure_target(target(measure="wait_mean", directions=["CN_to_KZ"]), layer)[0]
    assert wait == pytest.approx(north["wait_total"].mean())
    low, high = 0.1, 2.0
    assert 0.05 < ((measured["wait_total"] >= low) & (measured["wait_total"] <= high)).mean() < 0.95
    for count, weights in (("entities", pd.Series(1.0, index=measured.index)), ("persons", measured["group_size"])):
        share = measure_target(target(measure="share_wait_between", waits=[f"{low} min", f"{high} min"],
                                      count=count, band=[0.5, None]), layer)[0]
        between = (measured["wait_total"] >= low) & (measured["wait_total"] <= high)
        assert share == pytest.approx((weights * between).sum() / weights.sum())
    cars = measure_target(target(measure="share_wait_between", waits=["0.1 min", "2 min"], classes=["car"],
                                 count="persons", directions=["KZ_to_CN"], band=[0.5, None]), layer)[0]
    chosen = measured[(measured["class"] == "car") & (measured["direction"] == "KZ_to_CN")]
    between = (chosen["wait_total"] >= low) & (chosen["wait_total"] <= high)
    assert cars == pytest.approx((chosen["group_size"] * between).sum() / chosen["group_size"].sum())


def test_objective_is_zero_inside_the_band_and_grows_outside():
    band = target(measure="wait_mean", band=["30 min", "90 min"])
    assert inside(band, 30.0) and inside(band, 90.0) and distance(band, 55.0) == 0.0
    assert distance(band, 99.0) == pytest.approx(9 / 90) and distance(band, 21.0) == pytest.approx(9 / 90)
    around = target(measure="throughput", value=7000, tolerance="5%")
    assert around.limits() == pytest.approx((6650, 7350))
    above = target(measure="throughput", band=[830, None], **{"from": "2025-06-01", "to": "2025-08-31"})
    assert inside(above, 1e9) and not inside(above, 829.0)
    peak = target(measure="wait_mean", hours=[7, 10], above_rest=True)
    assert not inside(peak, 0.0) and distance(peak, 0.0) > 0 and inside(peak, 0.5)
    assert distance(peak, -5.0, reference=50.0) == pytest.approx(0.1)
    assert distance(band, math.nan) > 1
    targets = {"a": band, "b": around}
    assert objective(targets, {"a": 60.0, "b": 7000.0}, {}) == 0.0
    assert objective(targets, {"a": 99.0, "b": 7000.0}, {}) == pytest.approx((9 / 90) ** 2)


# --------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------
def test_fit_recovers_a_service_mean_theory_puts_in_the_band():
    """M/M/2 at one arrival a minute: Erlang C says mean waits between those at service means of
    1.4 and 1.6 min need a service mean in that range; the fit starts at 1 min (outside)."""
    result = calibrate(mmc_with_calibration(wait_band(1.4, 1.6)), workers=1)
    fitted = result.fit.point[0]
    assert result.all_met and result.stop_reason == "every target is inside its band"
    assert 1.3 <= fitted <= 1.7, fitted
    assert result.history[0].point[0] == pytest.approx(1.0)             # started from the scenario's value
    assert len(result.history) <= 20
    # common random numbers: the same point gives the same numbers again
    again = check_targets(sim.load_scenario(mmc_with_calibration(wait_band(1.4, 1.6)),
                                            {"stages.desk.service_time.traveler.mean": f"{fitted!r} min"}))
    assert again["mean"].iloc[0] == pytest.approx(result.fit.summary("wait")[0], rel=1e-12)


def test_fit_recovers_an_integer_booth_count():
    """Service mean 1.5 min: Erlang C gives 1.93 min with 2 booths, 0.24 with 3; 1 is overloaded."""
    data = mmc_with_calibration(["1 min", "3 min"], bounds=(1, 6), servers=5, service_mean=1.5,
                                path="stages.desk.pools.booths.booths", max_evaluations=15)
    data["calibration"]["parameters"][0]["integer"] = True
    result = calibrate(data, workers=1)
    assert result.all_met and result.fit.point == (2,)


def two_pool_scenario(booths: int, car_service: str) -> dict:
    """Pedestrians and cars, 0.5 a minute each, at one desk with a pool each: pedestrians' waits
    depend on their booths (3 min service), cars' on their service mean (one booth)."""
    data = mmc_scenario(ARRIVAL_RATE, 3.0, 1, days=4, warmup_days=1,
                        classes={"pedestrian": {"share": 0.5}, "car": {"share": 0.5}})
    desk = data["stages"]["desk"]
    desk["service_time"]["car"] = {"dist": "exponential", "mean": car_service}
    desk["pools"] = {"foot": {"serves": ["pedestrian"], "booths": booths}, "cars": {"serves": ["car"], "booths": 1}}
    foot_low, foot_high = (mmc_wait_mean(0.5, 1 / 3.0, c) for c in (3, 2))
    car_low, car_high = (mmc_wait_mean(0.5, 1 / service, 1) for service in (1.2, 1.5))
    data["calibration"] = {
        "parameters": [
            {"path": "stages.desk.pools.foot.booths", "bounds": [1, 8], "integer": True, "source": "test"},
            {"path": "stages.desk.service_time.car.mean", "bounds": ["30 s", "1.8 min"], "source": "test"}],
        "targets": {
            # Erlang C: 2 booths give pedestrians 2.6 min, 3 booths 0.35 min, 1 booth is overloaded
            "foot": {"measure": "wait_mean", "classes": ["pedestrian"], "source": "Erlang C",
                     "band": [f"{2.5 * foot_low!r} min", f"{6 * foot_high!r} min"]},
            "cars": {"measure": "wait_mean", "classes": ["car"], "source": "M/M/1",
                     "band": [f"{car_low!r} min", f"{car_high!r} min"]},
            "most_cars_under_an_hour": {"measure": "share_wait_between", "classes": ["car"], "count": "persons",
                                        "waits": ["0 min", "60 min"], "band": [0.5, None], "source": "test"}},
        "fit": {"replications": 2, "max_evaluations": 30},
    }
    return data


def test_off_target_start_moves_every_parameter_and_meets_every_target():
    """The documented off-target start (docs/scenario.md, 'Calibration'): 6 foot booths (waits near
    0) and 30 s car service (waits near 0) miss both wait bands; the fit must move both."""
    result = calibrate(two_pool_scenario(6, "30 s"), workers=1)
    start = result.history[0]
    assert not result.met("foot", start) and not result.met("cars", start)
    assert result.all_met, format_summary(result)
    booths, service = result.fit.point
    assert booths == 2 and booths != 6
    assert 1.2 * 0.9 <= service <= 1.5 * 1.1 and service != 0.5
    # the share target is met at every candidate: flagged, the two wait targets are not
    assert result.informative("foot") and result.informative("cars")
    assert not result.informative("most_cars_under_an_hour")
    # sensitivity: one row per target x factor; more booths cut the pedestrians' wait, slower car
    # service raises the cars' wait, the other pool's parameter changes nothing (separate pools)
    table = result.sensitivity_table().set_index(["target", "factor"])
    assert len(table) == 3 * 3
    assert table.loc[("foot", "stages.desk.pools.foot.booths"), "change"] < 0
    assert table.loc[("cars", "stages.desk.service_time.car.mean"), "change"] > 0
    assert table.loc[("foot", "stages.desk.service_time.car.mean"), "change"] == 0
    assert table.loc[("foot", "demand"), "change"] > 0 and table.loc[("cars", "demand"), "change"] > 0
    rows = result.table()
    assert rows["informative"].tolist() == [True, True, False]
    assert (rows["demand_plus_10pct"] > rows["demand_minus_10pct"]).iloc[:2].all()
    assert "Uninformative: most_cars_under_an_hour" in format_summary(result)


@pytest.fixture
def mmc_file(tmp_path) -> Path:
    return write_yaml(tmp_path / "mmc.yaml", mmc_with_calibration(wait_band(1.4, 1.6)))


def test_cli_writes_report_and_calibrated_scenario(mmc_file, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["calibrate", str(mmc_file), "--out", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "wait" in printed and "met" in printed and "NOT MET" not in printed
    for name in ("calibration.csv", "report.html", "calibration.png", "evaluations.csv", "calibration.json",
                 "calibration.md", "sensitivity.csv"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "calibration.csv")
    assert list(table.columns[:10]) == ["target", "measure", "selection", "unit", "source", "band_low", "band_high",
                                        "mean", "ci_low", "ci_high"]
    assert table["met"].all() and (table["ci_low"] <= table["mean"]).all()
    assert {"informative", "demand_minus_10pct", "demand_plus_10pct"} <= set(table.columns)
    assert (table["demand_plus_10pct"] > table["demand_minus_10pct"]).all()     # more demand, longer waits
    sensitivity = pd.read_csv(out / "sensitivity.csv")
    assert sorted(sensitivity["factor"]) == ["demand", "stages.desk.service_time.traveler.mean"]
    assert (sensitivity["change"] > 0).all()                                      # slower service, longer waits
    report = (out / "report.html").read_text()
    assert "Sensitivity" in report and "at +10 % demand" in report
    assert "## Sensitivity" in (out / "calibration.md").read_text()
    calibrated = tmp_path / "mmc_calibrated.yaml"
    text = calibrated.read_text()
    assert text.startswith("# mmc_calibrated: mmc.yaml with its free parameters fitted by")
    assert "Result: all targets met." in text
    body = yaml.safe_load(text)
    assert body["extends"] == "mmc.yaml" and body["name"] == "mmc_calibrated"
    fitted = body["stages"]["desk"]["service_time"]["traveler"]["mean"]
    scenario = sim.load_scenario(calibrated)
    assert scenario.stages["desk"].service_time["traveler"].mean == pytest.approx(float(fitted.split()[0]) / 60)
    assert scenario.calibration is not None                             # inherited from mmc.yaml
    # the calibrated file exists now: refused without --force, nothing written
    again = tmp_path / "report-again"
    assert main(["calibrate", str(mmc_file), "--out", str(again), "--workers", "1"]) == 2
    assert "already exists" in capsys.readouterr().err and not again.exists()
    assert main(["calibrate", str(mmc_file), "--out", str(again), "--workers", "1", "--force"]) == 0


def test_unreachable_target_is_reported_not_met_with_exit_1(tmp_path, capsys):
    """A mean wait of 100-200 min cannot happen at M/M/2 with service at most 1 min (rho <= 0.5)."""
    path = write_yaml(tmp_path / "mmc.yaml", mmc_with_calibration(["100 min", "200 min"], bounds=("30 s", "1 min"),
                                                                  max_evaluations=6))
    out = tmp_path / "report"
    assert main(["calibrate", str(path), "--out", str(out), "--workers", "1"]) == 1
    printed = capsys.readouterr().out
    assert "NOT MET: wait" in printed
    table = pd.read_csv(out / "calibration.csv")
    assert not table["met"].any()
    text = (tmp_path / "mmc_calibrated.yaml").read_text()
    assert "NOT MET" in text and "closest fit" in text
    # the closest fit is the slowest service allowed (largest wait)
    assert yaml.safe_load(text)["stages"]["desk"]["service_time"]["traveler"]["mean"] == "60 s"


# --------------------------------------------------------------------------------------------
# bad calibration blocks
# --------------------------------------------------------------------------------------------
def _bad(tmp_path, change) -> tuple[Path, str]:
    data = mmc_with_calibration(wait_band(1.4, 1.6))
    data["demand"]["hour_weights"] = [1.0] * 24
    change(data["calibration"])
    path = write_yaml(tmp_path / "bad.yaml", data)
    return path, path.read_text()


LOAD_TIME = [
    ("misspelt key", lambda c: c["targets"]["wait"].update(mesure=c["targets"]["wait"].pop("measure")),
     "calibration.targets.wait.mesure", "mesure:", "did you mean 'measure'"),
    ("bounds reversed", lambda c: c["parameters"][0].update(bounds=["2 min", "1 min"]),
     "calibration.parameters.0.bounds", "bounds:", "low < high"),
    ("wait without unit", lambda c: c["targets"]["wait"].update(band=None, value=2, tolerance="1 min"),
     "calibration.targets.wait.value", "value:", "write it with units"),
    ("value without tolerance", lambda c: c["targets"]["wait"].update(band=None, value="2 min"),
     "calibration.targets.wait.tolerance", "wait:", "needs a tolerance"),
    ("fit typo", lambda c: c["fit"].update(replication=2),
     "calibration.fit.replication", "replication:", "did you mean 'replications'"),
    ("share without waits", lambda c: c["targets"]["wait"].update(measure="share_wait_between", band=[0.5, None]),
     "calibration.targets.wait.waits", "wait:", "needs 'waits: [low, high]'"),
    ("waits on a mean", lambda c: c["targets"]["wait"].update(waits=["30 min", "90 min"]),
     "calibration.targets.wait.waits", "waits:", "goes with measure share_wait_between"),
    ("waits without units", lambda c: c["targets"]["wait"].update(measure="share_wait_between", band=[0.5, None],
                                                                  waits=[31, 90]),
     "calibration.targets.wait.waits.0", "- 31", "a wait is a time: write it with units"),
    ("unknown direction", lambda c: c["targets"]["wait"].update(directions=["KZ_to_RU"]),
     "calibration.targets.wait.directions.0", "- KZ_to_RU", "KZ_to_CN"),
]


@pytest.mark.parametrize("label, change, field, needle, message", LOAD_TIME, ids=[case[0] for case in LOAD_TIME])
def test_bad_block_is_a_scenario_error_with_path_and_line(tmp_path, capsys, label, change, field, needle, message):
    path, text = _bad(tmp_path, change)
    with pytest.raises(sim.ScenarioError) as caught:
        sim.load_scenario(path)
    problem = next(p for p in caught.value.problems if p.path == field)
    assert message in problem.message
    assert problem.line == line_of(text, needle) and problem.file == str(path)
    assert main(["validate", str(path)]) == 2
    out = tmp_path / "report"
    assert main(["calibrate", str(path), "--out", str(out)]) == 2
    assert f"{path}:{problem.line}: {field}:" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "bad_calibrated.yaml").exists()


AT_CALIBRATION = [
    ("path typo", lambda c: c["parameters"][0].update(path="stages.desk.service_time.traveller.mean"),
     "calibration.parameters.0.path", "path:", "did you mean 'traveler'"),
    ("duration without units", lambda c: c["parameters"][0].update(bounds=[0.5, 2]),
     "calibration.parameters.0.bounds", "bounds:", "give the bounds with units"),
    ("booths not integer", lambda c: c["parameters"][0].update(path="stages.desk.pools.booths.booths", bounds=[1, 4]),
     "calibration.parameters.0.integer", "path:", "add 'integer: true'"),
    ("unknown class", lambda c: c["targets"]["wait"].update(classes=["travler"]),
     "calibration.targets.wait.classes.0", "- travler", "did you mean 'traveler'"),
    ("dates not simulated", lambda c: c["targets"].update(total={
        "measure": "arrivals", "per": "total", "from": "2025-07-01", "to": "2025-07-08", "value": 100,
        "tolerance": "5%", "source": "x"}),
     "calibration.targets.total.from", "from:", "needs the calendar to cover every one of those days"),
]


@pytest.mark.parametrize("label, change, field, needle, message", AT_CALIBRATION,
                         ids=[case[0] for case in AT_CALIBRATION])
def test_block_not_fitting_the_scenario_is_refused_before_running(tmp_path, capsys, label, change, field, needle,
                                                                  message):
    path, text = _bad(tmp_path, change)
    sim.load_scenario(path)                       # loads: variants and sweeps reshaping the scenario stay usable
    with pytest.raises(sim.ScenarioError) as caught:
        load_for_calibration(path)
    problem = next(p for p in caught.value.problems if p.path == field)
    assert message in problem.message
    assert problem.line == line_of(text, needle)
    out = tmp_path / "report"
    assert main(["calibrate", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{problem.line}: {field}:" in err and len(err.strip().splitlines()) == len(caught.value.problems)
    assert not out.exists() and not (tmp_path / "bad_calibrated.yaml").exists()


def test_inherited_block_does_not_stop_shorter_runs_or_reshaped_pools():
    """``run --days 5`` measures no weekend and a sweep may set the foot booths to one number:
    the khorgos block does not prevent either from loading."""
    path = SCENARIOS / "khorgos.yaml"
    assert sim.load_scenario(path, {"calendar.days": 5}).calendar.days == 5
    assert sim.load_scenario(path, {"stages.cn_passport_entry.pools.foot.booths": 6}) is not None


# --------------------------------------------------------------------------------------------
# the shipped calibrated scenarios
# --------------------------------------------------------------------------------------------
SHIPPED = ["khorgos", "jeminay"]


def _shipped(name: str) -> tuple[Path, Path]:
    original, calibrated = SCENARIOS / f"{name}.yaml", SCENARIOS / f"{name}_calibrated.yaml"
    if not calibrated.exists():
        pytest.skip(f"{calibrated.name} is not there (yet)")
    return original, calibrated


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_calibrated_file_is_the_original_with_the_fitted_values(name):
    original, calibrated = _shipped(name)
    body = yaml.safe_load(calibrated.read_text())
    assert body["extends"] == original.name and body["name"] == f"{name}_calibrated"
    scenario = sim.load_scenario(calibrated)
    fitted = {}
    for parameter in scenario.calibration.parameters:
        for dotted in parameter.paths:
            node = body
            for part in dotted.split("."):
                node = node[int(part)] if isinstance(node, list) else node[part]
            fitted[dotted] = node
    rebuilt = sim.load_scenario(original, fitted).model_dump(mode="json", by_alias=True)
    written = scenario.model_dump(mode="json", by_alias=True)
    assert rebuilt | {"name": None} == written | {"name": None}
    assert "Result: all targets met." in calibrated.read_text()


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_calibrated_file_meets_its_targets(name):
    """The block's own evaluation (its fit replications, seed and days) meets every target."""
    _, calibrated = _shipped(name)
    table = check_targets(calibrated, workers=2)
    assert table["met"].all(), table[["target", "band_low", "band_high", "mean", "ci_low", "ci_high"]].to_string()


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_calibrated_file_meets_its_targets_on_the_full_calendar(name):
    _, calibrated = _shipped(name)
    scenario = sim.load_scenario(calibrated)
    replications = scenario.calibration.fit.check_replications or scenario.calibration.fit.replications
    table = check_targets(calibrated, replications=replications, days=scenario.calendar.days, workers=2)
    assert table["met"].all(), table.to_string()
