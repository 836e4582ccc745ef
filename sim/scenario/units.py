"""Durations written with units ("45 s", "3 min", "1.5 h", "2 d"), turned into minutes.

Minutes are the one time unit inside the model; every duration in a scenario file carries its
unit so that nobody has to guess.
"""
from __future__ import annotations

import math
import re

MINUTES_PER_UNIT = {
    "s": 1 / 60, "sec": 1 / 60, "second": 1 / 60, "seconds": 1 / 60,
    "min": 1.0, "minute": 1.0, "minutes": 1.0,
    "h": 60.0, "hour": 60.0, "hours": 60.0,
    "d": 1440.0, "day": 1440.0, "days": 1440.0,
}
MAX_MINUTES = 366 * 1440.0   # the longest duration a scenario may state: a year
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z]+)\s*$")


def parse_duration(value: object) -> float:
    """Return the duration ``value`` (e.g. ``"45 s"``) in minutes.

    Raises ``ValueError`` for bare numbers, unknown units, negative values, and durations that
    are not finite (``"1e999 s"``) or longer than a year (:data:`MAX_MINUTES`).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a duration with units such as '45 s', '3 min' or '1.5 h', got {value!r}")
    if isinstance(value, (int, float)):
        raise ValueError(
            f"expected a duration with units such as '45 s', '3 min' or '1.5 h', got the bare number {value!r}")
    match = _DURATION.match(value)
    if not match or match.group(2).lower() not in MINUTES_PER_UNIT:
        units = "s, min, h, d"
        raise ValueError(f"expected a duration such as '45 s', '3 min' or '1.5 h' (units: {units}), got {value!r}")
    minutes = float(match.group(1)) * MINUTES_PER_UNIT[match.group(2).lower()]
    shown = repr(value) if len(value) <= 40 else repr(value[:40]) + "..."
    if not math.isfinite(minutes):
        raise ValueError(f"expected a finite duration, got {shown}")
    if minutes > MAX_MINUTES:
        raise ValueError(f"expected a duration of at most 366 d, got {shown}")
    return minutes


def format_minutes(minutes: float) -> str:
    """Write minutes back as a duration string that :func:`parse_duration` reads exactly."""
    return f"{float(minutes)!r} min"


def clock_text(hours: float) -> str:
    """An hour of the day as a clock time: ``7.5`` -> ``07:30``."""
    return f"{int(hours):02d}:{int(round(60 * (hours % 1))):02d}"
