"""Atomic files and folders: the lowest layer of everything that writes (imports only sim.errors).

A folder is written into a hidden staging folder beside the target (``.NAME.partial-PID``) and
renamed into place only when complete, so a failed or interrupted write never leaves a
half-written folder, and an existing folder is never overwritten; a file is written under a
hidden name and renamed over its path. Staging folders of killed processes are removed by the
next writer in the same parent. The publishing layer (:mod:`sim.publish`) writes results
folders with these; experiments use them for their own resumable state (a sweep's points, the
calibrated scenario file).
"""
from __future__ import annotations

import errno
import gzip
import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import Problem, ScenarioError

ENTITIES_FILE = "entities.parquet"          # the entity table, by default
ENTITIES_CSV_FILE = "entities.csv.gz"       # the entity table on request (``--entities-format csv``)
ENTITY_FILES = {"parquet": ENTITIES_FILE, "csv": ENTITIES_CSV_FILE}   # format -> file name


PARTIAL = re.compile(r"^\..+\.(partial|probe)-(\d+)$")   # staging names: .NAME.partial-PID, .NAME.probe-PID


def _staging_name(target: Path, kind: str = "partial") -> Path:
    """The hidden staging path of ``target`` for this process: ``.NAME.partial-PID`` beside it."""
    return target.parent / f".{target.name}.{kind}-{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(folder: str | os.PathLike) -> list[Path]:
    """Remove the staging folders and files in ``folder`` left by processes that are gone (killed
    while writing); those of a live process are kept. Returns what was removed."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        match = PARTIAL.match(path.name)
        if match is None or pid_alive(int(match.group(2))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _refuse(path: Path, message: str) -> ScenarioError:
    return ScenarioError(Problem(str(path), "", message))


def _first_existing_ancestor(path: Path) -> tuple[Path, list[Path]]:
    """The nearest ancestor of ``path`` that exists, and the missing folders below it (top first)."""
    missing = []
    parent = path.parent
    while not parent.exists() and not parent.is_symlink():
        missing.insert(0, parent)
        parent = parent.parent
    return parent, missing


NEVER_OVERWRITTEN = "choose another folder (results are never overwritten)"


def check_destination(path: str | os.PathLike, kind: str = "folder", if_exists: str = NEVER_OVERWRITTEN) -> Path:
    """Check, before anything is simulated, that the results ``folder`` (or ``file``) can be
    written at ``path``; raise a :class:`ScenarioError` naming the path otherwise.

    A folder must not exist (an empty folder is fine, a symbolic link to one is followed); a
    dangling symbolic link, a parent that is a file, or a parent that cannot be created or written
    (read-only, full or immutable file system) is refused. The check creates and removes a probe
    staging folder beside the target (and any missing parents), so nothing is left behind; stale
    staging folders of killed runs in that parent are removed. ``if_exists`` ends the message
    for a folder that is already there. Returns the path to write to.
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise _refuse(path, f"is a dangling symbolic link (to {os.readlink(path)}): remove it or choose another path")
    if kind == "folder" and path.is_symlink():
        path = path.resolve()
    if path.exists():
        if kind == "file" and path.is_dir():
            raise _refuse(path, "is a folder: expected a file path")
        if kind == "folder" and (not path.is_dir() or any(path.iterdir())):
            raise _refuse(path, f"already exists and is not empty: {if_exists}")
    ancestor, missing = _first_existing_ancestor(path)
    if not ancestor.is_dir():
        raise _refuse(path, f"cannot be created: {ancestor} is a file, not a folder")
    try:
        for folder in missing:
            folder.mkdir()
        remove_stale_partials(path.parent)
        probe = _staging_name(path, "probe")
        probe.mkdir()
        try:
            (probe / "probe").write_bytes(b"checkpoint-sim write probe\n" * 64)
        finally:
            shutil.rmtree(probe, ignore_errors=True)
    except OSError as error:
        raise _refuse(path, f"cannot be written: {error.strerror or error} "
                            f"({error.filename or path.parent})") from None
    finally:
        for folder in reversed(missing):
            try:
                folder.rmdir()
            except OSError:
                pass
    return path


@contextmanager
def writing(target: str | os.PathLike, hint: Callable[[], str] | None = None) -> Iterator[None]:
    """Report a failure to write ``target`` (full disk, permissions, another run that wrote the
    same folder first) as one :class:`ScenarioError` line instead of a traceback; ``hint()`` is
    added to it (e.g. how to resume what was written)."""
    try:
        yield
    except OSError as error:
        raise _write_failure(Path(target), error, hint() if hint else "") from None


def _write_failure(target: Path, error: OSError, hint: str) -> ScenarioError:
    """The one-line error of a failed write into ``target``."""
    if isinstance(error, FileExistsError) and (error.filename is None or Path(error.filename) == target):
        return _refuse(target, f"already exists: another run wrote it first; nothing was written here{hint}")
    where = f" ({error.filename})" if error.filename else ""
    return _refuse(target, f"could not be written: {error.strerror or error}{where}{hint}")


@contextmanager
def atomic_folder(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden staging folder that becomes ``target`` only if the block completes.

    ``target`` must not exist or be empty; on any error the staging folder is removed and
    ``target`` is left as it was. If another process renames its folder into ``target`` first,
    the rename fails with :class:`FileExistsError` (never a merge or an overwrite).
    """
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(errno.EEXIST, f"{target} already exists and is not empty", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging_name(target)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        _rename_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _rename_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, which may be absent or an empty folder; a folder that
    another process put there first (not empty) makes this a :class:`FileExistsError`."""
    try:
        os.rename(staging, target)            # replaces an empty folder; fails on a non-empty one
    except OSError as error:
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise FileExistsError(errno.EEXIST, f"{target} already exists", str(target)) from None
        raise


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden staging path beside ``path``; it replaces ``path`` only if the block
    completes, and is removed otherwise."""
    path = Path(path)
    staging = _staging_name(path)
    try:
        yield staging
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def write_csv_atomic(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a CSV file under a temporary name and rename it into place."""
    with atomic_file(path) as staging:
        table.to_csv(staging, index=False)


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    """Write ``text`` (UTF-8) under a temporary name and rename it into place."""
    with atomic_file(path) as staging:
        staging.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes_atomic(data: bytes, path: str | os.PathLike) -> Path:
    """Write ``data`` under a temporary name and rename it into place."""
    with atomic_file(path) as staging:
        staging.write_bytes(data)
    return Path(path)


def json_text(data: Any, **options: Any) -> str:
    """``data`` as indented JSON with a final newline (the form of every ``*.json`` results file)."""
    return json.dumps(data, indent=2, **options) + "\n"


def entities_file(entities_format: str = "parquet") -> str:
    """The file name of the entity table in ``entities_format`` (``parquet`` or ``csv``)."""
    try:
        return ENTITY_FILES[entities_format]
    except KeyError:
        raise ValueError(f"entity table format must be one of {sorted(ENTITY_FILES)}, "
                         f"not {entities_format!r}") from None


CSV_CHUNK_ROWS = 20_000       # rows of CSV text formatted at once by EntityTableWriter


class EntityTableWriter:
    """The per-entity table written as it arrives, one replication's rows at a time, byte-reproducible:
    Parquet (``*.parquet``: one row group per :meth:`write`, zstd, no statistics or timestamps) or
    gzip-compressed CSV (``*.csv.gz``: the header once, floats to 4 decimals, a fixed header
    time). A context manager; the file is complete once it is closed. The rows of one call must
    have the columns and dtypes of the first call's (every replication's table has)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.rows = 0
        self.header_written = False
        self._parquet: Any = None           # pyarrow.parquet.ParquetWriter, opened by the first write
        self._gzip: gzip.GzipFile | None = None

    def write(self, table: pd.DataFrame | pa.Table) -> None:
        """Append ``table``'s rows (one replication's, in replication order; a pyarrow Table made
        by ``pa.Table.from_pandas(frame, preserve_index=False)`` is written as the frame would be)."""
        if self.path.suffix == ".parquet":
            rows = table if isinstance(table, pa.Table) else pa.Table.from_pandas(table, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, rows.schema, compression="zstd", write_statistics=False)
            self._parquet.write_table(rows)
        else:
            if self._gzip is None:
                self._gzip = gzip.GzipFile(str(self.path), "wb", mtime=0)
            table = table.to_pandas() if isinstance(table, pa.Table) else table
            for start in range(0, max(len(table), 1), CSV_CHUNK_ROWS):      # a few MB of text at a time
                chunk = table.iloc[start:start + CSV_CHUNK_ROWS]
                self._gzip.write(chunk.to_csv(None, index=False, header=not self.header_written,
                                              float_format="%.4f").encode("utf-8"))
                self.header_written = True
        self.rows += len(table)

    def close(self, complete: bool = True) -> None:
        """Finish the file (an empty table if nothing was written; ``complete=False``, after an
        error: only close it)."""
        if complete and self._parquet is None and self._gzip is None:
            self.write(pd.DataFrame())
        if self._gzip is not None:
            self._gzip.flush()        # as pandas's own gzip writing ends: the same bytes as one to_csv call
            self._gzip.close()
        if self._parquet is not None:
            self._parquet.close()
        self._parquet = self._gzip = None

    def __enter__(self) -> "EntityTableWriter":
        return self

    def __exit__(self, kind: type[BaseException] | None, *exception: Any) -> None:
        self.close(complete=kind is None)


def write_entities(entities: pd.DataFrame, path: Path) -> None:
    """The per-entity table of every replication at once, as :class:`EntityTableWriter` writes it
    while a run streams it (one row group per replication): the same bytes either way."""
    with EntityTableWriter(path) as writer:
        column = entities["replication"].to_numpy() if "replication" in entities and len(entities) else None
        if column is None:
            writer.write(entities)
            return
        starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1], True])
        for start, end in zip(starts[:-1], starts[1:]):
            writer.write(entities.iloc[start:end])


def read_entities(folder: str | os.PathLike) -> pd.DataFrame | None:
    """The entity table of a results folder (Parquet, else CSV), or None if it has none."""
    for name in ENTITY_FILES.values():
        path = Path(folder) / name
        if path.exists():
            return pd.read_parquet(path, engine="pyarrow") if path.suffix == ".parquet" else pd.read_csv(path)
    return None
