"""Shared scenario builders and statistics helpers for the test suite.

Scenario builders return plain dicts (what a YAML file would hold) so that a test can tweak any
field before passing it to ``sim.load_scenario``. Times are minutes unless a string carries units.
"""
from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats as scipy_stats

import sim

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
MINUTES_PER_DAY = 1440.0


# --------------------------------------------------------------------------------------------
# scenario builders
# --------------------------------------------------------------------------------------------
def _crossing() -> dict:
    return {"name": "Test crossing", "kz_post": "KZ test post", "cn_post": "CN test post",
            "latitude": 44.0, "longitude": 80.5}


def mmc_scenario(arrival_rate_per_min: float, service_mean_min: float, servers: int, days: int,
                 warmup_days: int, classes: dict[str, dict] | None = None, green_channel: str = "none",
                 drain: str = "1 d", name: str = "mmc", start_date: str = "2025-07-07") -> dict:
    """One stage, one pool of ``servers`` booths, exponential service, flat 24 h demand.

    ``classes`` maps class name -> extra TravelerClass fields (``share`` required when several);
    the default is one class ``traveler``. Every class gets the same exponential service time, so
    the stage is an M/M/c queue with total arrival rate ``arrival_rate_per_min``.
    """
    classes = copy.deepcopy(classes) if classes else {"traveler": {"share": 1.0}}
    for spec in classes.values():
        spec.setdefault("share", 1.0 / len(classes))
        spec.setdefault("directions", {"KZ_to_CN": 1.0})
    service = {"dist": "exponential", "mean": f"{service_mean_min!r} min"}
    return {
        "name": name,
        "crossing": _crossing(),
        "calendar": {"start_date": start_date, "days": days, "warmup_days": warmup_days, "drain": drain,
                     "opening_hours": "24h"},
        "run": {"replications": 1, "seed": 1},
        "demand": {"daily_volume": arrival_rate_per_min * MINUTES_PER_DAY, "hour_weights": [1.0] * 24},
        "classes": classes,
        "stages": {"desk": {"side": "KZ", "service_time": {c: dict(service) for c in classes},
                            "pools": {"booths": {"serves": list(classes), "booths": servers,
                                                 "green_channel": green_channel}}}},
        "routes": {"KZ_to_CN": ["desk"]},
    }


def small_scenario() -> dict:
    """A small two-direction crossing: pedestrians, buses (per-person passport), cars, a secondary
    inspection, a priority green channel and a dedicated green lane; cheap to simulate."""
    lognormal = lambda mean: {"dist": "lognormal", "mean": mean, "cv": 0.5}  # noqa: E731
    return {
        "name": "small",
        "description": "small test crossing",
        "crossing": _crossing(),
        "calendar": {"start_date": "2025-07-07", "days": 3, "warmup_days": 1, "drain": "1 d"},
        "run": {"replications": 2, "seed": 7},
        "demand": {"daily_volume": 600, "hour_weights": [0.5] * 6 + [2.0] * 12 + [1.0] * 6,
                   "weekday_factors": [1, 1, 1, 1, 1, 1.2, 1.2]},
        "classes": {
            "pedestrian": {"share": 0.6, "green_channel_share": 0.2},
            "car": {"share": 0.35, "group_size": {"min": 1, "max": 4}},
            "bus": {"share": 0.05, "group_size": {"min": 5, "max": 12}},
        },
        "stages": {
            "passport": {
                "side": "KZ", "per_person": ["bus"],
                "service_time": {"pedestrian": lognormal("40 s"), "bus": lognormal("40 s"),
                                 "car": lognormal("90 s")},
                "pools": {"green": {"serves": ["pedestrian"], "booths": 1, "green_channel": "dedicated"},
                          "foot": {"serves": ["pedestrian", "bus"], "booths": 2},
                          "cars": {"serves": ["car"], "booths": {"default": 1, "rules": [{"hours": [6, 22], "booths": 2}]}}},
            },
            "customs": {
                "side": "CN",
                "service_time": {"pedestrian": lognormal("30 s"), "bus": lognormal("8 min"),
                                 "car": lognormal("1 min")},
                "pools": {"all": {"serves": ["pedestrian", "car", "bus"], "booths": 2}},
            },
            "secondary": {
                "side": "CN", "kind": "secondary",
                "visit_probability": {"pedestrian": 0.1, "car": 0.2, "bus": 0.3},
                "service_time": {"pedestrian": lognormal("5 min"), "car": lognormal("10 min"),
                                 "bus": lognormal("20 min")},
                "pools": {"inspection": {"serves": ["pedestrian", "car", "bus"], "booths": 2}},
            },
        },
        "routes": {"KZ_to_CN": ["passport", "customs", "secondary"],
                   "CN_to_KZ": ["customs", "passport"]},
    }


SMALL_YAML = """\
name: small_yaml
crossing:
  name: Test crossing
  kz_post: KZ test post
  cn_post: CN test post
  latitude: 44.0
  longitude: 80.5
calendar:
  start_date: 2025-07-07
  days: 2
  warmup_days: 1
  drain: 12 h
run:
  replications: 2
  seed: 11
demand:
  daily_volume: 200
  hour_weights: [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]
classes:
  pedestrian:
    share: 0.7
    green_channel_share: 0.1
  car:
    share: 0.3
stages:
  passport:
    side: KZ
    service_time:
      pedestrian: {dist: exponential, mean: 1 min}
      car: {dist: exponential, mean: 2 min}
    pools:
      foot:
        serves: [pedestrian]
        booths: 1
      cars:
        serves: [car]
        booths: 1
routes:
  KZ_to_CN: [passport]
  CN_to_KZ: [passport]
"""


def line_of(text: str, needle: str) -> int:
    """1-based number of the only line of ``text`` that is ``needle`` (or else contains it)."""
    lines = text.splitlines()
    hits = [number for number, line in enumerate(lines, 1) if line.rstrip() == needle.rstrip()] or \
        [number for number, line in enumerate(lines, 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} occurs on lines {hits}"
    return hits[0]


@pytest.fixture
def small_yaml(tmp_path) -> Path:
    """A small valid scenario file in a temporary folder."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_YAML, encoding="utf-8")
    return path


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# statistics helpers
# --------------------------------------------------------------------------------------------
def mean_se(values) -> tuple[float, float, int]:
    """Mean, standard error and count of independent replication values."""
    values = np.asarray(values, dtype=float)
    assert values.ndim == 1 and len(values) >= 2 and np.all(np.isfinite(values)), values
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values))), len(values)


def assert_matches_theory(label: str, exact: float, values, k: float = 3.0, max_rel_half_width: float = 0.10):
    """Check a closed-form value against independent replication estimates.

    * consistency: ``exact`` lies within mean +- k standard errors (k = 3 is ~99.7 % two-sided
      for a normal mean; with fixed seeds the outcome is deterministic, so a pass is not luck
      that can change from run to run, and a 3-SE band leaves margin for the t tail at n = 10-20);
    * power: the 95 % t confidence half-width is below ``max_rel_half_width`` of the exact value,
      so that a model bias of that order would be detected.
    """
    mean, se, n = mean_se(values)
    half = scipy_stats.t.ppf(0.975, n - 1) * se
    detail = (f"{label}: exact {exact:.5g}, simulated {mean:.5g} +- {half:.3g} (95 % CI, n={n}), "
              f"{(mean - exact) / se if se else float('inf'):+.2f} SE")
    assert abs(mean - exact) <= k * se, detail
    assert half <= max_rel_half_width * abs(exact), "too little power: " + detail
    return mean, se


def window_mask(entities, scenario) -> np.ndarray:
    """Entities that arrive in the measurement window [warm-up, horizon)."""
    calendar = scenario.calendar
    start, end = calendar.warmup_days * MINUTES_PER_DAY, calendar.days * MINUTES_PER_DAY
    arrival = entities["arrival_min"].to_numpy()
    return (arrival >= start) & (arrival < end)


def per_replication(entities, scenario, function) -> np.ndarray:
    """``function(rows)`` of the in-window, finished entities of each replication."""
    rows = entities[window_mask(entities, scenario) & entities["exit_min"].notna().to_numpy()]
    return np.array([function(group) for _, group in rows.groupby("replication", sort=True)])


def summary_row(results, metric: str, group: str = "all"):
    table = results.summary
    row = table[(table["group"] == group) & (table["metric"] == metric)]
    assert len(row) == 1, f"no single {metric!r} row for {group!r}"
    return row.iloc[0]


def load(data: dict, overrides: dict | None = None):
    """``sim.load_scenario`` of a builder dict, with optional dotted overrides."""
    return sim.load_scenario(data, overrides)
