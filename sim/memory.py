"""How a process gives memory back to the system: glibc's mmap threshold and trimming, Arrow's pool.

A replication allocates and frees large arrays (the model's log, the metrics' temporaries, the
entity rows as an Arrow table), and glibc keeps freed memory for reuse, so a long-lived process
(the main process of a run, a pool worker) would grow to the sum of its peaks. Everything here is
a no-op off Linux/glibc, and nothing here changes a number: only where memory comes from.

* :func:`large_blocks` fixes glibc's mmap threshold (blocks from that size up get their own
  mapping, unmapped when freed). glibc raises it by itself each time a large block is freed,
  which leaves the heap full of holes while the model's log grows and its state is freed; so
  :data:`MAPPED` while a replication is simulated, :data:`REUSED` once its records are made (the
  metrics' temporaries of a few MiB come and go; mapped anew each time, their pages would cost
  CPU at every use). :mod:`sim.records` switches between the two.
* :func:`use_system_allocator` lets Arrow allocate with malloc instead of its own pool, so that
  memory numpy and pandas freed is reused for Arrow's buffers and the other way round.
* :func:`return_freed_memory` gives what is freed back (``malloc_trim``, Arrow's unused pool).
"""
from __future__ import annotations

import ctypes
import sys
from typing import Any

MAPPED, REUSED = 128 * 1024, 32 * 1024 * 1024     # bytes: glibc's default threshold, and its largest
_M_MMAP_THRESHOLD = -3                             # glibc's mallopt parameter (malloc.h)

try:
    _LIBC: Any = ctypes.CDLL("libc.so.6") if sys.platform.startswith("linux") else None
    if _LIBC is not None:
        _LIBC.malloc_trim, _LIBC.mallopt
except (OSError, AttributeError):        # not glibc: nothing to do
    _LIBC = None


def large_blocks(threshold: int) -> None:
    """Fix glibc's mmap threshold at ``threshold`` bytes (see the module docstring)."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, threshold)


def use_system_allocator() -> None:
    """Let Arrow allocate with malloc (its system pool) in this process, so that
    :func:`return_freed_memory` returns Arrow's memory and numpy's alike (a worker converting and
    compressing a replication's entity rows peaks ~15 MiB lower)."""
    import pyarrow as pa
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def return_freed_memory() -> None:
    """Give the memory freed so far back to the operating system (glibc's ``malloc_trim`` and
    Arrow's pool, when Arrow is loaded): a replication's arrays, each replication's entity rows
    once written and each figure's temporaries are freed, but the allocators keep the pages."""
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
