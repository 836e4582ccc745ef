"""Sweeps: validation, determinism across workers and executors, resume, crashes, CRN, target CI."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.cli import main
from sim.publish import publish_sweep
from sim.runner import run_replication
from sim.stats import paired_difference_ci, welch_difference_ci
from sim.sweeps import load_sweep, run_sweep

from conftest import mmc_scenario


@pytest.fixture()
def sweep_file(tmp_path: Path) -> Path:
    """A base M/M/c scenario (3 booths, rho ~0.8) and a 2 variants x 2 grid sweep over it."""
    base = mmc_scenario(arrival_rate_per_min=2.4, service_mean_min=1.0, servers=3, days=2, warmup_days=1)
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    spec = {"base": "base.yaml", "replications": 3, "seed": 5,
            "grid": {"demand.daily_volume": [3000, 3456]},
            "variants": {"three": {"stages.desk.pools.booths.booths": 3},
                         "four": {"stages.desk.pools.booths.booths": 4}}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def test_points_are_variants_times_grid(sweep_file: Path) -> None:
    sweep = load_sweep(sweep_file)
    assert [p.params for p in sweep.points] == [
        {"variant": "three", "demand.daily_volume": 3000}, {"variant": "three", "demand.daily_volume": 3456},
        {"variant": "four", "demand.daily_volume": 3000}, {"variant": "four", "demand.daily_volume": 3456}]
    assert sweep.scenarios["p0003"].stages["desk"].pools["booths"].booths == 4
    assert sweep.scenarios["p0003"].demand.daily_volume == 3456


def test_bad_sweep_file_names_file_line_and_field(sweep_file: Path, tmp_path: Path) -> None:
    text = sweep_file.read_text().replace("replications:", "replicatons:")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(sim.ScenarioError) as error:
        load_sweep(bad)
    problem = error.value.problems[0]
    assert problem.file == str(bad) and problem.path == "replicatons" and problem.line is not None
    assert "did you mean 'replications'" in problem.message

    spec = yaml.safe_load(sweep_file.read_text())
    spec["grid"] = {"stages.desk.pools.booths.booths": [2, -1]}
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(sim.ScenarioError) as error:
        load_sweep(bad)
    problem = error.value.problems[0]
    assert problem.path == "grid.stages.desk.pools.booths.booths"
    assert "booths" in problem.message and ">= 0" in problem.message and problem.line is not None


def test_every_bad_variant_and_grid_value_is_reported_once(sweep_file: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load(sweep_file.read_text())
    spec["variants"] = {"minus": {"stages.desk.pools.booths.booths": -1},
                        "good": {"stages.desk.pools.booths.booths": 4},
                        "typo": {"run.sead": 3}}
    spec["grid"] = {"demand.daily_volume": [3000, -5]}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec, sort_keys=False))
    with pytest.raises(sim.ScenarioError) as error:
        load_sweep(bad)
    found = {problem.path: problem.message for problem in error.value.problems}
    assert set(found) == {"variants.minus.stages.desk.pools.booths.booths", "variants.typo.run.sead",
                          "grid.demand.daily_volume"}, error.value.problems
    assert "point p0000" in found["variants.minus.stages.desk.pools.booths.booths"]
    assert "(and 1 other point)" in found["variants.minus.stages.desk.pools.booths.booths"]   # both volumes
    assert "(and 2 other points)" in found["grid.demand.daily_volume"]             # -5 with each variant
    assert "did you mean 'seed'" in found["variants.typo.run.sead"]
    assert all(problem.line is not None for problem in error.value.problems)


def test_cli_sweep_bad_input_exits_2_and_writes_nothing(sweep_file: Path, tmp_path: Path, capsys) -> None:
    spec = yaml.safe_load(sweep_file.read_text())
    spec["target_ci"] = "two minutes"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    assert main(["sweep", str(bad), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "target_ci" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_results_do_not_depend_on_workers(sweep_file: Path, tmp_path: Path) -> None:
    sweep = load_sweep(sweep_file)
    serial = run_sweep(sweep, tmp_path / "serial", workers=1)
    pooled = run_sweep(sweep, tmp_path / "pooled", workers=2)
    pd.testing.assert_frame_equal(serial, pooled)
    publish_sweep(tmp_path / "serial", serial, sweep.base)
    publish_sweep(tmp_path / "pooled", pooled, sweep.base)
    assert (tmp_path / "serial" / "sweep.csv").read_bytes() == (tmp_path / "pooled" / "sweep.csv").read_bytes()
    assert set(serial.columns[:4]) == {"point", "variant", "demand.daily_volume", "replications"}
    assert list(serial.columns[4:]) == ["group", "metric", "mean", "ci_low", "ci_high", "unit"]
    for point in sweep.points:
        folder = tmp_path / "serial" / "points" / point.id
        assert {"summary.csv", "hourly.csv", "replications.csv", "point.json"} <= {p.name for p in folder.iterdir()}
        assert not (folder / "entities.parquet").exists()        # entity rows only with keep_entities


def test_interrupted_then_resumed_equals_uninterrupted(sweep_file: Path, tmp_path: Path) -> None:
    sweep = load_sweep(sweep_file)
    reference = run_sweep(sweep, tmp_path / "reference", workers=1)

    def interrupt(point_id: str, pool) -> None:
        if point_id == "p0001":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, tmp_path / "interrupted", workers=1, on_point_done=interrupt)
    finished = sorted(p.name for p in (tmp_path / "interrupted" / "points").iterdir())
    assert finished == ["p0000", "p0001"]
    assert not (tmp_path / "interrupted" / "sweep.csv").exists()

    ran: list[str] = []
    resumed = run_sweep(sweep, tmp_path / "interrupted", workers=1, resume=True,
                        on_point_done=lambda point_id, pool: ran.append(point_id))
    assert ran == ["p0002", "p0003"]                  # finished points were not redone
    pd.testing.assert_frame_equal(resumed, reference)


def test_resume_refuses_a_changed_sweep(sweep_file: Path, tmp_path: Path, capsys) -> None:
    run_sweep(load_sweep(sweep_file), tmp_path / "out", workers=1)
    sweep_file.write_text(sweep_file.read_text().replace("seed: 5", "seed: 6"))
    assert main(["sweep", str(sweep_file), "--out", str(tmp_path / "out"), "--resume", "--workers", "1"]) == 2
    assert "changed since this sweep started" in capsys.readouterr().err
    assert main(["sweep", str(sweep_file), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    assert "use --resume" in capsys.readouterr().err


def test_killed_worker_is_reported_and_its_point_retried(sweep_file: Path, tmp_path: Path, capsys) -> None:
    sweep = load_sweep(sweep_file)
    reference = run_sweep(sweep, tmp_path / "reference", workers=1)
    killed: list[int] = []

    def kill_a_worker(point_id: str, pool) -> None:
        if not killed:
            pid = pool.worker_pids()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    result = run_sweep(sweep, tmp_path / "killed", workers=2, on_point_done=kill_a_worker)
    assert killed
    assert "a worker process died" in capsys.readouterr().err
    pd.testing.assert_frame_equal(result, reference)


def test_common_random_numbers_narrow_the_difference_ci() -> None:
    """Replication r of two variants shares its random streams: the paired CI of the difference in
    mean wait (service 5 % faster) is much narrower than the CI that treats runs as independent."""
    base = mmc_scenario(arrival_rate_per_min=2.4, service_mean_min=1.0, servers=3, days=2, warmup_days=1)
    three = sim.load_scenario(base)
    four = sim.load_scenario(base, {"stages.desk.service_time.traveler.mean": "0.95 min"})

    def waits(scenario) -> np.ndarray:
        return np.array([dict(((g, m), v) for g, m, v in run_replication(scenario, 9, r, False).metrics)
                         [("all", "wait_mean")] for r in range(12)])

    wait_three, wait_four = waits(three), waits(four)
    paired = paired_difference_ci(wait_four, wait_three)
    unpaired = welch_difference_ci(wait_four, wait_three)
    assert paired[0] == pytest.approx(unpaired[0])
    assert paired[2] < 0                       # faster service: shorter waits, significantly
    assert (paired[2] - paired[1]) < 0.5 * (unpaired[2] - unpaired[1])


def test_target_ci_adds_replications_until_met(sweep_file: Path, tmp_path: Path) -> None:
    sweep = load_sweep(sweep_file, {"target_ci": "15%", "max_replications": 12, "replications": 3})
    table = run_sweep(sweep, tmp_path / "adaptive", workers=2)
    waits = table[(table["group"] == "all") & (table["metric"] == "wait_mean")]
    assert (waits["replications"] > 3).any()
    for _, row in waits.iterrows():
        half_width = (row["ci_high"] - row["ci_low"]) / 2
        assert half_width <= 0.15 * row["mean"] or row["replications"] == 12


def test_dask_cluster_gives_the_local_results(sweep_file: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    sweep = load_sweep(sweep_file, {"replications": 2})
    local = run_sweep(sweep, tmp_path / "local", workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        remote = run_sweep(sweep, tmp_path / "dask", executor="dask", scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(local, remote)


def test_keep_entities_writes_each_points_entity_table_as_parquet(sweep_file: Path, tmp_path: Path) -> None:
    sweep = load_sweep(sweep_file, {"keep_entities": True, "replications": 2})
    run_sweep(sweep, tmp_path / "kept", workers=1)
    for point in sweep.points:
        folder = tmp_path / "kept" / "points" / point.id
        entities = pd.read_parquet(folder / "entities.parquet")
        assert sorted(entities["replication"].unique()) == [0, 1] and not (folder / "entities.csv.gz").exists()
