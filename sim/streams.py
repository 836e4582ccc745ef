"""Independent, named random streams for each replication.

Every random draw in a replication comes from a stream named after what it is for
(``"arrivals/car"``, ``"service/customs_cn/truck"``) and spawned from the run's seed with numpy's
SeedSequence: ``spawn_key = (replication, crc32(name))``. Replication ``r`` of two scenario
variants therefore draws the same numbers for the same purpose (common random numbers), and the
result never depends on how replications are spread over worker processes.
"""
from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """The random generator for ``name`` in replication ``replication`` of a run seeded ``seed``."""
    key = (replication, zlib.crc32(name.encode("utf-8")))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=key)))
