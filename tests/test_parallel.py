"""Running replications in parallel and streaming their entity rows: the same numbers and bytes.

The entity rows of ``checkpoint-sim run`` are written into the entity table as replications
arrive (in any order), one Parquet row group per replication in replication order, so the
folder must not depend on the executor, the number of workers or the order of completion; and
it must equal what ``sim.write_results`` writes from the in-memory results.
"""
from __future__ import annotations

import gzip
import random

import pandas as pd
import pyarrow.parquet as pq
import pytest

import sim
from sim.executors import make_executor
from sim.publish import run_and_publish
from sim.runner import InOrder
from sim.storage import EntityTableWriter, write_entities

from conftest import load, small_scenario

TABLES = ["summary.csv", "hourly.csv", "timeline.csv", "entities.parquet", "scenario.resolved.yaml"]


@pytest.fixture(scope="module")
def scenario():
    return load(small_scenario())


@pytest.fixture(scope="module")
def in_memory(scenario):
    return sim.run(scenario, replications=4, seed=11)


def _same_files(first, second, names=TABLES) -> list[str]:
    return [name for name in names if (first / name).read_bytes() != (second / name).read_bytes()]


def test_replications_are_streamed_in_replication_order_whatever_the_arrival_order():
    """Outputs that arrive shuffled reach the sink in replication order, each once, as soon as
    every earlier one is there, and are dropped from the output once handed over."""
    class Output:
        def __init__(self, replication):
            self.entities = replication

    for trial in range(20):
        order = list(range(9))
        random.Random(trial).shuffle(order)
        handed, outputs = [], {}
        stream = InOrder(handed.append)
        for replication in order:
            outputs[replication] = Output(replication)
            stream("key", replication, outputs[replication])
            assert handed == list(range(len(handed)))
            assert len(handed) == min(r for r in range(10) if r not in outputs)   # nothing held back
        assert handed == list(range(9)) and all(output.entities is None for output in outputs.values())


def test_entity_writer_gives_the_bytes_and_table_of_pandas(in_memory, tmp_path):
    """The streamed CSV is byte-identical to pandas writing the whole table at once (the format
    before streaming); the Parquet file holds the very same table and pandas metadata, one row
    group per replication."""
    entities = in_memory.entities
    (tmp_path / "pandas").mkdir()
    entities.to_csv(tmp_path / "pandas" / "entities.csv.gz", index=False, float_format="%.4f",
                    compression={"method": "gzip", "mtime": 0})
    entities.to_parquet(tmp_path / "pandas" / "entities.parquet", engine="pyarrow", index=False,
                        compression="zstd", write_statistics=False)
    with EntityTableWriter(tmp_path / "entities.csv.gz") as csv, \
            EntityTableWriter(tmp_path / "entities.parquet") as parquet:
        for _, rows in entities.groupby("replication", sort=True):
            csv.write(rows)
            parquet.write(rows)
    assert (tmp_path / "entities.csv.gz").read_bytes() == (tmp_path / "pandas" / "entities.csv.gz").read_bytes()
    assert gzip.decompress((tmp_path / "entities.csv.gz").read_bytes()).count(b"replication,id,") == 1
    streamed, whole = pq.read_table(tmp_path / "entities.parquet"), pq.read_table(tmp_path / "pandas" / "entities.parquet")
    assert streamed.schema.equals(whole.schema, check_metadata=True) and streamed.equals(whole)
    assert pq.ParquetFile(tmp_path / "entities.parquet").num_row_groups == 4
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "entities.parquet"), entities, check_exact=True)
    write_entities(entities, tmp_path / "at_once.parquet")
    assert (tmp_path / "at_once.parquet").read_bytes() == (tmp_path / "entities.parquet").read_bytes()


@pytest.mark.parametrize("entities_format", ["parquet", "csv"])
def test_streamed_run_folder_equals_the_in_memory_one(scenario, in_memory, tmp_path, entities_format):
    """run_and_publish on a 2-worker pool writes the files write_results writes from sim.run,
    byte for byte, figures included (the entity figures drawn from the kept columns, the
    per-stage ones by the pool's workers)."""
    written = sim.write_results(in_memory, tmp_path / "memory", figures=True, entities_format=entities_format)
    with make_executor(2).start() as pool:      # its workers also draw the per-stage figures
        results, streamed = run_and_publish(scenario, tmp_path / "streamed", entities_format=entities_format,
                                            replications=4, seed=11, workers=2, executor=pool)
    entity_file = "entities.parquet" if entities_format == "parquet" else "entities.csv.gz"
    figures = sorted(path.name for path in written.glob("*.png"))
    assert len(figures) == 6 and "wait_ecdf.png" in figures and "daily_throughput.png" in figures
    assert _same_files(written, streamed, [*TABLES[:3], entity_file, TABLES[4], *figures]) == []
    assert results.entities is None and "streamed_s" in sim.load_results(streamed).info
    pd.testing.assert_frame_equal(results.summary, in_memory.summary, check_exact=True)


def test_dask_local_cluster_with_four_workers_gives_the_serial_results(scenario, in_memory, tmp_path):
    """Four Dask workers (threads of one process, on loopback) give the serial run's tables and,
    streamed, the same entity table bytes."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=4, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert len(cluster.workers) == 4
        remote = sim.run(scenario, replications=4, seed=11, executor="dask", scheduler=cluster.scheduler_address)
        _, streamed = run_and_publish(scenario, tmp_path / "dask", figures=False, replications=4, seed=11,
                                      executor="dask", scheduler=cluster.scheduler_address)
    for name in ("summary", "hourly", "timeline", "entities"):
        pd.testing.assert_frame_equal(getattr(remote, name), getattr(in_memory, name), check_exact=True)
    serial = sim.write_results(in_memory, tmp_path / "serial", figures=False)
    assert _same_files(serial, streamed) == []


def test_a_worker_sends_the_very_entity_table_compressed(in_memory, scenario):
    """What a streaming worker sends decodes to the table it converted (schema, pandas metadata,
    values and chunks), several times smaller, with the reduction the entity figures draw."""
    import pyarrow as pa
    from sim.metrics import measurement_window
    from sim.runner import EntityFigures, StreamedEntities

    rows = in_memory.entities[in_memory.entities["replication"] == 1]
    table = pa.Table.from_pandas(rows, preserve_index=False)
    sent = StreamedEntities.of(table, measurement_window(scenario))
    assert len(sent.compressed) < table.nbytes / 2
    decoded = sent.table()
    assert decoded.schema.equals(table.schema, check_metadata=True) and decoded.equals(table)
    assert [column.num_chunks for column in decoded.columns] == [column.num_chunks for column in table.columns]
    assert sent.compressed == b""                       # not held while the rows are written
    assert sent.figures.rows == len(rows) and list(sent.figures.replications) == [1]
    assert sent.figures.classes == EntityFigures.of(rows, measurement_window(scenario)).classes


def test_a_worker_idle_before_the_last_task_ends_makes_the_idle_call_once(tmp_path):
    """when_idle: called in a worker once the other still runs the last task (never yielded as a
    result); forgotten once the results are in."""
    import time
    from pathlib import Path

    from sim.executors import LocalPoolExecutor

    called = tmp_path / "called"
    with LocalPoolExecutor(2) as pool:
        pool.when_idle(Path(called).touch)
        pool.submit("short", time.sleep, 0.05)
        pool.submit("long", time.sleep, 1.5)
        keys = [key for key, _ in pool.results()]
        assert sorted(keys) == ["long", "short"] and called.exists() and not pool.idle_calls


def _append_pid(path) -> None:
    """An idle call: one line per call, the calling worker's process id."""
    import os
    with open(path, "a") as lines:
        lines.write(f"{os.getpid()}\n")


def test_the_idle_call_is_made_again_for_every_worker_as_the_last_task_finishes(tmp_path):
    """when_idle: once while the long task still runs, then once per worker when it finishes, and
    submitted before the last result is yielded (the worker that ran it imports meanwhile)."""
    import time

    from sim.executors import LocalPoolExecutor

    lines = tmp_path / "calls"
    with LocalPoolExecutor(2) as pool:
        pool.when_idle(_append_pid, lines)
        pool.submit("short", time.sleep, 0.05)
        pool.submit("long", time.sleep, 1.0)
        for key, _ in pool.results():
            if key == "long":                   # the caller handles the last result: the calls run meanwhile
                waited = time.perf_counter()
                while len(lines.read_text().split()) < 3 and time.perf_counter() - waited < 10:
                    time.sleep(0.05)
                assert len(lines.read_text().split()) == 3
        assert not pool.idle_calls and not pool.idle_made
    assert len(lines.read_text().split()) == 3


def test_a_started_run_finished_later_gives_the_run_and_finishes_once(scenario, in_memory):
    """start_run submits the replications at once (a pool runs them while this process does
    something else); finish gives what sim.run gives, and only once."""
    import pandas as pd

    from sim.executors import LocalPoolExecutor
    from sim.runner import start_run

    with LocalPoolExecutor(2) as pool:
        with start_run(scenario, replications=4, seed=11, workers=2, executor=pool) as started:
            assert len(pool.running) + len(pool.waiting) == 4          # submitted, before finish
            results = started.finish()
            with pytest.raises(RuntimeError):
                started.finish()
    pd.testing.assert_frame_equal(results.summary, in_memory.summary)
    pd.testing.assert_frame_equal(results.hourly, in_memory.hourly)
    assert abs(results.info["wall_time_s"] - results.clock.phases["replications"]) < 0.05     # the same span


def test_with_one_worker_the_run_clock_starts_with_the_replications(scenario):
    """A serial run started early runs nothing until finish: what this process does meanwhile
    (here a 1 s pause; in `checkpoint-sim run` the publishing layer's imports) is not counted in
    wall_time_s nor in the replications phase."""
    import time

    from sim.runner import start_run

    with start_run(scenario, replications=1, seed=11, workers=1) as started:
        time.sleep(1.0)
        results = started.finish()
    assert results.clock.record()["total_wall_s"] - results.info["wall_time_s"] >= 1.0
    assert abs(results.info["wall_time_s"] - results.clock.phases["replications"]) < 0.05


def test_closing_a_pool_after_an_error_stops_its_running_tasks():
    """close(cancel=True), as after an error: the workers running tasks are terminated, so the
    error is reported at once rather than after the tasks would have finished."""
    import time

    from sim.executors import LocalPoolExecutor

    pool = LocalPoolExecutor(2).start()
    pool.submit("long", time.sleep, 60)
    pool.submit("longer", time.sleep, 60)
    time.sleep(0.3)                                   # both tasks are running
    processes = list(pool.pool._processes.values())
    began = time.perf_counter()
    pool.close(cancel=True)
    # polled, not joined: the pool's own thread may reap a worker first, and a join racing it
    # can report a dead worker as alive once
    while any(process.is_alive() for process in processes) and time.perf_counter() - began < 10:
        time.sleep(0.05)
    assert not any(process.is_alive() for process in processes)
    assert time.perf_counter() - began < 10           # the tasks would have run 60 s
