"""Service-time distributions, given by mean and coefficient of variation (minutes).

One function, :func:`draw`, turns a scenario distribution into a vector of draws. Lognormal and
gamma are parameterised by mean and CV so that a planner can change variability without
touching the mean; CV 0 gives the deterministic value.
"""
from __future__ import annotations

import numpy as np

from .scenario.schema import Deterministic, Distribution, Empirical, Exponential, Gamma, LogNormal


def draw(distribution: Distribution, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` independent service times (minutes) from ``distribution``."""
    if isinstance(distribution, Exponential):
        return rng.exponential(distribution.mean, size)
    if isinstance(distribution, Deterministic):
        return np.full(size, distribution.value)
    if isinstance(distribution, Empirical):
        values = np.asarray(distribution.values)
        weights = None if distribution.weights is None else np.asarray(distribution.weights) / np.sum(distribution.weights)
        return rng.choice(values, size=size, p=weights)
    mean, cv = distribution.mean, distribution.cv
    if cv == 0:
        return np.full(size, mean)
    if isinstance(distribution, LogNormal):
        sigma2 = np.log1p(cv * cv)
        return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), size)
    if isinstance(distribution, Gamma):
        shape = 1.0 / (cv * cv)
        return rng.gamma(shape, mean / shape, size)
    raise TypeError(f"unknown distribution {distribution!r}")
