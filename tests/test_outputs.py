"""Results folders and the command line: determinism, contents, round trips, refusals."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.cli import main
from conftest import MINUTES_PER_DAY, line_of, load, small_scenario, summary_row, write_yaml

SUMMARY_COLUMNS = ["group", "metric", "mean", "ci_low", "ci_high", "unit"]
REQUIRED_METRICS = ["throughput_per_day", "wait_mean", "wait_p50", "wait_p90", "wait_p95", "wait_max",
                    "time_in_system_mean", "utilization", "queue_length_mean", "queue_length_max",
                    "share_wait_over_60min"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run_to(folder, scenario, seed=5, replications=3, workers=1, figures=False, entities_format="parquet"):
    results = sim.run(scenario, replications=replications, seed=seed, workers=workers)
    return sim.write_results(results, folder, figures=figures, entities_format=entities_format)


def _snapshot(folder) -> dict:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


# --------------------------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def determinism_runs(tmp_path_factory):
    scenario = load(small_scenario())
    base = tmp_path_factory.mktemp("determinism")
    return {name: _run_to(base / name, scenario, **kwargs) for name, kwargs in {
        "first": {}, "second": {}, "two_workers": {"workers": 2}, "other_seed": {"seed": 6},
        "fewer_replications": {"replications": 2}, "csv": {"entities_format": "csv"},
        "csv_again": {"entities_format": "csv", "workers": 2}}.items()}


@pytest.mark.parametrize("other", ["second", "two_workers"])
@pytest.mark.parametrize("file_name", ["entities.parquet", "summary.csv", "hourly.csv", "scenario.resolved.yaml"])
def test_same_seed_gives_byte_identical_files(determinism_runs, other, file_name):
    first = (determinism_runs["first"] / file_name).read_bytes()
    assert len(first) > 100
    assert (determinism_runs[other] / file_name).read_bytes() == first


def test_csv_entities_on_request_are_byte_identical_too(determinism_runs):
    names = {p.name for p in determinism_runs["csv"].iterdir()}
    assert "entities.csv.gz" in names and "entities.parquet" not in names
    assert "entities.csv.gz" not in {p.name for p in determinism_runs["first"].iterdir()}
    assert (determinism_runs["csv"] / "entities.csv.gz").read_bytes() == \
        (determinism_runs["csv_again"] / "entities.csv.gz").read_bytes()
    # the CSV holds the same rows as the Parquet file, floats to 4 decimals (an empty lane name
    # reads back from CSV as missing)
    from_csv = sim.load_results(determinism_runs["csv"]).entities
    lanes = [column for column in from_csv.columns if column.startswith("lane_")]
    from_csv[lanes] = from_csv[lanes].fillna("")
    from_parquet = pd.read_parquet(determinism_runs["first"] / "entities.parquet")
    pd.testing.assert_frame_equal(from_csv, from_parquet, check_dtype=False, check_exact=False, atol=6e-5)


def test_parquet_entities_round_trip_exactly(tmp_path):
    """``load_results`` and ``pandas.read_parquet`` give back the very DataFrame of the run,
    dtypes included, and the file carries no time or host that could vary."""
    results = sim.run(load(small_scenario()), replications=2, seed=3)
    folder = sim.write_results(results, tmp_path / "out", figures=False)
    pd.testing.assert_frame_equal(sim.load_results(folder).entities, results.entities, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "entities.parquet"), results.entities, check_exact=True)
    again = sim.write_results(results, tmp_path / "again", figures=False)
    assert (again / "entities.parquet").read_bytes() == (folder / "entities.parquet").read_bytes()


def test_the_seed_matters_and_replications_do_not_depend_on_their_number(determinism_runs):
    first = pd.read_parquet(determinism_runs["first"] / "entities.parquet")
    other_seed = pd.read_parquet(determinism_runs["other_seed"] / "entities.parquet")
    assert not first["arrival_min"].head(50).equals(other_seed["arrival_min"].head(50))
    assert (determinism_runs["other_seed"] / "summary.csv").read_bytes() != \
        (determinism_runs["first"] / "summary.csv").read_bytes()
    # replication r draws from its own streams: a 2-replication run is the first 2 of a 3-run
    fewer = pd.read_parquet(determinism_runs["fewer_replications"] / "entities.parquet")
    assert sorted(first["replication"].unique()) == [0, 1, 2]
    pd.testing.assert_frame_equal(fewer, first[first["replication"] < 2].reset_index(drop=True))
    # and the replications differ from each other
    assert not first.loc[first["replication"] == 0, "arrival_min"].head(50).reset_index(drop=True).equals(
        first.loc[first["replication"] == 1, "arrival_min"].head(50).reset_index(drop=True))


def test_entities_file_is_reproducible_gzip(determinism_runs):
    """The gzip header carries no timestamp (mtime 0), so the bytes depend on the data alone."""
    raw = (determinism_runs["csv"] / "entities.csv.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\x00\x00\x00\x00"
    assert gzip.decompress(raw).decode("utf-8").startswith("replication,id,class,direction")


# --------------------------------------------------------------------------------------------
# a results folder written by the command line
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    scenario_file = write_yaml(base / "small.yaml", small_scenario())
    out = base / "results" / "small-run"
    code = main(["run", str(scenario_file), "--out", str(out), "--replications", "3", "--seed", "9"])
    return code, scenario_file, out


def test_run_writes_a_complete_folder(cli_run):
    code, _, out = cli_run
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert {"summary.csv", "hourly.csv", "entities.parquet", "scenario.resolved.yaml", "run.json"} <= names
    figures = sorted(p for p in out.iterdir() if p.suffix == ".png")
    assert len(figures) >= 2
    for figure in figures:
        data = figure.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, figure.name
    # nothing else is left behind beside the folder (no partial staging folder)
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_summary_table_contract(cli_run):
    _, scenario_file, out = cli_run
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert not summary.duplicated(["group", "metric"]).any()
    groups = set(summary["group"])
    expected_groups = {"all", "class=pedestrian", "class=car", "class=bus", "stage=passport", "stage=customs",
                       "stage=secondary", "direction=KZ_to_CN", "direction=CN_to_KZ"}
    assert expected_groups <= groups
    by_group = summary.groupby("group")["metric"].apply(set)
    assert set(REQUIRED_METRICS) <= by_group["all"]
    for group in groups:
        if group.startswith("stage="):
            expected = set(REQUIRED_METRICS) - {"time_in_system_mean", "throughput_per_day"} | {"services_per_day"}
        elif group != "all":
            expected = set(REQUIRED_METRICS) - {"utilization"}
        else:
            continue
        assert expected <= by_group[group], (group, expected - by_group[group])
    # 3 replications: every interval brackets its mean; units are filled in
    assert (summary["ci_low"] <= summary["mean"] + 1e-12).all() and (summary["mean"] <= summary["ci_high"] + 1e-12).all()
    assert summary["unit"].notna().all()
    units = summary.set_index(["group", "metric"])["unit"]
    assert units["all", "wait_mean"] == "min" and units["all", "utilization"] == "fraction"
    assert units["all", "throughput_per_day"] == "entities/day"
    # sanity of values
    values = summary.set_index(["group", "metric"])["mean"]
    assert 0 < values["all", "utilization"] < 1
    assert 0 <= values["all", "share_wait_over_60min"] <= 1
    assert values["all", "wait_p50"] <= values["all", "wait_p90"] <= values["all", "wait_p95"] <= values["all", "wait_max"]
    assert values["all", "wait_mean"] <= values["all", "time_in_system_mean"]
    assert values["all", "queue_length_mean"] <= values["all", "queue_length_max"]
    classes = sum(values[f"class={c}", "throughput_per_day"] for c in ("pedestrian", "car", "bus"))
    assert classes == pytest.approx(values["all", "throughput_per_day"])


def test_summary_agrees_with_the_entity_table(cli_run):
    _, _, out = cli_run
    results = sim.load_results(out)
    scenario, entities = results.scenario, results.entities
    start, end = scenario.calendar.warmup_days * MINUTES_PER_DAY, scenario.calendar.days * MINUTES_PER_DAY
    measured_days = scenario.calendar.days - scenario.calendar.warmup_days
    exits = entities[(entities["exit_min"] >= start) & (entities["exit_min"] < end)]
    per_replication = exits.groupby("replication").size() / measured_days
    assert summary_row(results, "throughput_per_day")["mean"] == pytest.approx(per_replication.mean())
    arrived = entities[(entities["arrival_min"] >= start) & (entities["arrival_min"] < end)]
    waits = arrived.groupby("replication")["wait_total"].mean()
    assert summary_row(results, "wait_mean")["mean"] == pytest.approx(waits.mean(), abs=1e-4)
    over = arrived.groupby("replication")["wait_total"].apply(lambda w: np.mean(w > 60))
    assert summary_row(results, "share_wait_over_60min")["mean"] == pytest.approx(over.mean(), abs=1e-3)


def test_hourly_table_has_24_hours_per_group(cli_run):
    _, _, out = cli_run
    hourly = pd.read_csv(out / "hourly.csv")
    assert list(hourly.columns[:2]) == ["hour", "group"]
    assert {"wait_mean", "wait_mean_ci_low", "wait_mean_ci_high", "queue_length_mean", "arrivals_per_day",
            "staffed_booths", "utilization"} <= set(hourly.columns)
    for group, rows in hourly.groupby("group"):
        assert sorted(rows["hour"]) == list(range(24)), group
    booths = hourly[hourly["group"] == "stage=passport"].set_index("hour")["staffed_booths"]
    # passport: green 1 + foot 2 + cars 1 at night; the cars pool has 2 booths 06-22
    assert booths[3] == pytest.approx(4) and booths[5] == pytest.approx(4)
    assert booths[6] == pytest.approx(5) and booths[21] == pytest.approx(5) and booths[22] == pytest.approx(4)


def test_resolved_scenario_and_run_facts(cli_run):
    _, scenario_file, out = cli_run
    original = sim.load_scenario(scenario_file)
    resolved = sim.load_scenario(out / "scenario.resolved.yaml")
    assert resolved.model_dump(mode="json") == original.model_dump(mode="json")
    text = (out / "scenario.resolved.yaml").read_text(encoding="utf-8")
    # every default is filled in
    data = yaml.safe_load(text)
    assert data["calendar"]["opening_hours"] == "24h" and data["green_channel"] == {"enabled": True}
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert info["seed"] == 9 and info["replications"] == 3 and info["scenario"] == "small"
    assert info["package_version"] == sim.__version__


def test_run_json_has_the_time_of_each_phase(cli_run):
    """run.json times every phase of the run (wall seconds in this process) and the workers' CPU
    seconds of simulating and of the metrics; the phases add up to no more than the total."""
    info = json.loads((cli_run[2] / "run.json").read_text(encoding="utf-8"))
    phases = info["phases_s"]
    assert list(phases) == ["replications", "aggregate", "write_tables", "figures", "report"]
    assert all(seconds >= 0 for seconds in phases.values())
    assert phases["figures"] > 0 and phases["write_tables"] > 0
    assert sum(phases.values()) <= info["total_wall_s"] + 0.01          # rounding of each to 1 ms
    assert info["wall_time_s"] <= phases["replications"] + 0.01 <= info["total_wall_s"] + 0.01
    assert set(info["worker_cpu_s"]) == {"simulate", "metrics"}
    assert all(seconds > 0 for seconds in info["worker_cpu_s"].values())


def test_writing_shows_a_progress_bar_of_its_steps(tmp_path, capsys):
    results = sim.run(load(small_scenario()), replications=1, seed=2, progress=False)
    sim.write_results(results, tmp_path / "out", progress=True)
    shown = capsys.readouterr().err
    assert "writing" in shown and "wait_ecdf.png" in shown and "report" in shown


def test_resolved_scenario_reloads_exactly(cli_run):
    _, scenario_file, out = cli_run
    assert sim.load_scenario(out / "scenario.resolved.yaml") == sim.load_scenario(scenario_file)


def test_resolved_scenario_reloads_to_within_rounding(cli_run):
    _, scenario_file, out = cli_run
    original = sim.load_scenario(scenario_file)
    resolved = sim.load_scenario(out / "scenario.resolved.yaml")
    for name, stage in original.stages.items():
        for class_name, distribution in stage.service_time.items():
            again = resolved.stages[name].service_time[class_name]
            assert again.mean == pytest.approx(distribution.mean, rel=1e-9)
    assert resolved.calendar == original.calendar and resolved.demand == original.demand
    assert resolved.classes == original.classes and resolved.routes == original.routes


def test_load_results_round_trips(cli_run):
    _, scenario_file, out = cli_run
    loaded = sim.load_results(out)
    summary = pd.read_csv(out / "summary.csv")
    pd.testing.assert_frame_equal(loaded.summary, summary)
    assert list(loaded.summary.columns) == SUMMARY_COLUMNS
    # the in-memory results of the same run, recomputed, match what was read back
    again = sim.run(sim.load_scenario(scenario_file), replications=3, seed=9)
    pd.testing.assert_frame_equal(loaded.summary, again.summary, check_exact=False, rtol=1e-12, atol=1e-12)
    pd.testing.assert_frame_equal(loaded.hourly, again.hourly, check_exact=False, rtol=1e-12, atol=1e-12)
    assert list(loaded.entities.columns) == list(again.entities.columns)
    assert len(loaded.entities) == len(again.entities)
    for column in again.entities.columns:
        expected, actual = again.entities[column], loaded.entities[column]
        if pd.api.types.is_float_dtype(expected):
            assert np.array_equal(np.isnan(expected), np.isnan(actual)), column
            assert np.allclose(expected, actual, atol=6e-5, equal_nan=True), column
        elif pd.api.types.is_bool_dtype(expected) or pd.api.types.is_integer_dtype(expected):
            assert (expected.to_numpy() == actual.to_numpy()).all(), column
        else:   # text: an empty lane name reads back as missing
            assert (expected.fillna("").astype(str) == actual.fillna("").astype(str)).all(), column
    assert loaded.info["seed"] == 9 and loaded.scenario.name == "small"


def test_load_results_without_entities(tmp_path):
    results = sim.run(load(small_scenario()), replications=2, seed=1, keep_entities=False)
    folder = sim.write_results(results, tmp_path / "out", figures=False)
    assert not (folder / "entities.parquet").exists() and not (folder / "entities.csv.gz").exists()
    loaded = sim.load_results(folder)
    assert loaded.entities is None
    pd.testing.assert_frame_equal(loaded.summary, pd.read_csv(folder / "summary.csv"))


# --------------------------------------------------------------------------------------------
# refusals: never overwrite
# --------------------------------------------------------------------------------------------
def test_run_refuses_a_non_empty_out_folder(tmp_path, capsys, small_yaml):
    out = tmp_path / "existing"
    out.mkdir()
    (out / "notes.txt").write_text("precious\n", encoding="utf-8")
    (out / "sub").mkdir()
    (out / "sub" / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    before = _snapshot(out)
    assert main(["run", str(small_yaml), "--out", str(out), "--replications", "1"]) == 2
    assert _snapshot(out) == before
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "already exists and is not empty" in lines[0]
    assert str(out) in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["existing", small_yaml.name])
    # the library refuses too
    results = sim.run(sim.load_scenario(small_yaml), replications=1, seed=1)
    with pytest.raises(FileExistsError):
        sim.write_results(results, out)
    assert _snapshot(out) == before


def test_run_refuses_an_out_path_that_is_a_file(tmp_path, capsys, small_yaml):
    out = tmp_path / "a_file"
    out.write_text("keep\n", encoding="utf-8")
    assert main(["run", str(small_yaml), "--out", str(out), "--replications", "1"]) == 2
    assert out.read_text(encoding="utf-8") == "keep\n"
    assert "already exists" in capsys.readouterr().err


def test_run_into_an_existing_empty_folder(tmp_path, small_yaml):
    out = tmp_path / "empty"
    out.mkdir()
    assert main(["run", str(small_yaml), "--out", str(out), "--replications", "1", "--no-plots",
                 "--no-entities"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"summary.csv", "hourly.csv", "scenario.resolved.yaml", "run.json"} <= names
    assert not {"entities.parquet", "entities.csv.gz"} & names and not any(name.endswith(".png") for name in names)


def test_cli_days_override_reaches_the_run(tmp_path, small_yaml):
    out = tmp_path / "out"
    assert main(["run", str(small_yaml), "--out", str(out), "--replications", "1", "--days", "4",
                 "--no-plots"]) == 0
    assert sim.load_results(out).scenario.calendar.days == 4


# --------------------------------------------------------------------------------------------
# validate
# --------------------------------------------------------------------------------------------
def test_validate_good_and_bad_files(tmp_path, capsys, small_yaml):
    bad = tmp_path / "bad.yaml"
    bad.write_text(small_yaml.read_text().replace("daily_volume: 200", "daily_volume: -5"), encoding="utf-8")
    assert main(["validate", str(small_yaml)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"ok: {small_yaml} (small_yaml: Test crossing)\n" and captured.err == ""

    assert main(["validate", str(small_yaml), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith(f"ok: {small_yaml}")
    line = line_of(bad.read_text(), "daily_volume")
    assert captured.err.splitlines() == [f"error: {bad}:{line}: demand.daily_volume: expected a number >= 0, got -5.0"]
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []   # validate writes nothing


def test_summarize_replications_is_bit_identical_to_the_per_group_loop():
    """The one-pass CIs of the hourly and timeline tables equal sim.stats.summarize exactly,
    NaN values (ignored, as mean_ci does) and a key missing from a replication included."""
    from sim.stats import summarize_replications
    from sim.stats import summarize

    rng = np.random.default_rng(1)
    keys = [(hour, group, metric) for hour in range(30) for group in ("all", "class=car") for metric in "ab"]
    rows = [(r, *key, float(rng.gamma(2.0, 3.0))) for r in range(5) for key in keys]
    rows[7] = (*rows[7][:4], np.nan)
    table = pd.DataFrame(rows, columns=["replication", "hour", "group", "metric", "value"])
    pd.testing.assert_frame_equal(summarize_replications(table, ["hour", "group", "metric"]),
                                  summarize(table, ["hour", "group", "metric"]), check_exact=True)
    ragged = table.drop(index=3).reset_index(drop=True)          # falls back to the loop
    pd.testing.assert_frame_equal(summarize_replications(ragged, ["hour", "group", "metric"]),
                                  summarize(ragged, ["hour", "group", "metric"]), check_exact=True)


def test_cli_run_without_entities_draws_no_entity_figures(tmp_path, small_yaml):
    """``run --no-entities`` (its replications submitted before the publishing layer is imported)
    keeps no entity rows: no entity table and none of the two figures drawn from them."""
    out = tmp_path / "out"
    assert main(["run", str(small_yaml), "--out", str(out), "--replications", "2", "--workers", "2",
                 "--no-entities"]) == 0
    names = {p.name for p in out.iterdir()}
    assert not {"entities.parquet", "entities.csv.gz"} & names
    assert {name for name in names if name.endswith(".png")} == \
        {"wait_by_hour.png", "queues_and_booths.png", "utilization_heatmap.png", "queue_timeline.png"}
