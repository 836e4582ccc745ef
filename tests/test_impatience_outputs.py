"""Impatience outputs (issue 11): who balked, reneged or was deferred, in every table, figure,
console line, report headline, comparison verdict and sweep column; checked by hand against the
entity table.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.catalogue import METRICS
from conftest import MINUTES_PER_DAY, small_scenario

LEAVING = ["balked", "reneged", "deferred", "balked_share", "reneged_share", "deferred_share", "lost_share",
           "wait_mean_served", "wait_mean_lost"]


def impatient_small() -> dict:
    """The small crossing with impatient pedestrians, deferring cars and a capped passport hall
    (where turning back is allowed, so buses balk there)."""
    data = small_scenario()
    data["classes"]["pedestrian"]["patience"] = {"dist": "exponential", "mean": "3 min"}
    data["classes"]["car"]["patience"] = {"dist": "deterministic", "value": "2 min"}
    data["classes"]["car"]["on_leave"] = "defer"
    data["stages"]["passport"].update(queue_capacity=3, allow_leave=True)
    return data


@pytest.fixture(scope="module")
def impatient_results():
    return sim.run(impatient_small(), replications=2, progress=False)


@pytest.fixture(scope="module")
def plain_results():
    return sim.run(small_scenario(), replications=2, progress=False)


def _summary(results) -> pd.Series:
    return results.summary.set_index(["group", "metric"])["mean"]


def _left_at(entities: pd.DataFrame, routes: dict[str, list[str]]) -> np.ndarray:
    """The stage where each lost entity left: the last stage of its route it joined ("" if not lost)."""
    stage = np.full(len(entities), "", dtype=object)
    lost = entities["outcome"].isin(["balked", "reneged"]).to_numpy()
    for direction, route in routes.items():
        for name in route:                           # later stages overwrite earlier ones
            joined = (entities["direction"] == direction).to_numpy() & (entities[f"lane_{name}"] != "").to_numpy()
            stage[lost & joined] = name
    return stage


def test_leaving_counts_match_the_entity_table(impatient_results):
    """Per day = count over the measured days (2 here: 3 days, 1 warm-up) of the entities arriving
    in the window, averaged over replications; shares over the same arrivals."""
    entities, days = impatient_results.entities, 2
    window = (entities["arrival_min"] >= MINUTES_PER_DAY) & (entities["arrival_min"] < 3 * MINUTES_PER_DAY)
    rows = entities[window]
    summary = _summary(impatient_results)
    for group, mask in (("all", slice(None)), ("class=bus", rows["class"] == "bus"),
                        ("class=pedestrian", rows["class"] == "pedestrian")):
        chosen = rows[mask]
        per_rep = chosen.groupby("replication")
        balked = per_rep["outcome"].apply(lambda o: (o == "balked").sum()).mean() / days
        reneged = per_rep["outcome"].apply(lambda o: (o == "reneged").sum()).mean() / days
        lost_share = per_rep["outcome"].apply(lambda o: o.isin(["balked", "reneged"]).mean()).mean()
        assert summary[group, "balked"] == pytest.approx(balked)
        assert summary[group, "reneged"] == pytest.approx(reneged)
        assert summary[group, "lost_share"] == pytest.approx(lost_share)
    deferred = rows[rows["deferred_at"] != ""].groupby("replication").size().reindex([0, 1], fill_value=0)
    assert summary["all", "deferred"] == pytest.approx(deferred.mean() / days) and deferred.sum() > 0
    assert summary["all", "balked"] > 0 and summary["all", "reneged"] > 0
    # throughput stays the served count: those who exited, not the leavers
    exits = entities["exit_min"]
    served = entities[(exits >= MINUTES_PER_DAY) & (exits < 3 * MINUTES_PER_DAY)]
    assert summary["all", "throughput_per_day"] == pytest.approx(served.groupby("replication").size().mean() / days)
    assert (served["outcome"] == "served").all()


def test_stage_groups_say_where_travellers_left(impatient_results):
    """Customs is the first stage of CN_to_KZ only, so whoever left there joined it on arrival:
    the stage figures can be counted by hand. Every leaver left at one stage: the stages add up."""
    entities, days = impatient_results.entities, 2
    routes = impatient_small()["routes"]
    left_at = _left_at(entities, routes)
    window = ((entities["arrival_min"] >= MINUTES_PER_DAY) & (entities["arrival_min"] < 3 * MINUTES_PER_DAY)).to_numpy()
    summary = _summary(impatient_results)
    at_customs = window & (left_at == "customs")
    reneged = entities[at_customs & (entities["outcome"] == "reneged").to_numpy()]
    assert len(reneged) > 0
    assert summary["stage=customs", "reneged"] == pytest.approx(reneged.groupby("replication").size()
                                                                .reindex([0, 1], fill_value=0).mean() / days)
    waits = reneged.groupby("replication")["wait_customs"].mean()
    assert summary["stage=customs", "wait_mean_lost"] == pytest.approx(waits.mean())
    deferred = entities[window & (entities["deferred_at"] == "customs").to_numpy()]
    assert summary["stage=customs", "deferred"] == pytest.approx(deferred.groupby("replication").size()
                                                                 .reindex([0, 1], fill_value=0).mean() / days)
    stages = ["passport", "customs", "secondary"]
    for metric in ("balked", "reneged", "deferred"):   # passport joins of CN_to_KZ may cross the window edge
        assert sum(summary[f"stage={s}", metric] for s in stages) == pytest.approx(summary["all", metric], abs=1.0 / days)
    assert summary["stage=passport", "balked"] == pytest.approx(summary["all", "balked"])   # the only cap


def test_hourly_table_counts_leavers_by_hour_of_arrival(impatient_results):
    entities, hourly = impatient_results.entities, impatient_results.hourly.set_index(["group", "hour"])
    window = (entities["arrival_min"] >= MINUTES_PER_DAY) & (entities["arrival_min"] < 3 * MINUTES_PER_DAY)
    rows = entities[window].assign(hour=lambda t: (t["arrival_min"] % MINUTES_PER_DAY // 60).astype(int))
    pedestrians = rows[rows["class"] == "pedestrian"]
    for hour in (8, 12, 17):
        chosen = pedestrians[pedestrians["hour"] == hour].groupby("replication")["outcome"]
        share = chosen.apply(lambda o: o.isin(["balked", "reneged"]).mean()).mean()
        assert hourly.loc[("class=pedestrian", hour), "lost_share"] == pytest.approx(share)
        reneged = chosen.apply(lambda o: (o == "reneged").sum()).mean() / 2
        assert hourly.loc[("class=pedestrian", hour), "reneged"] == pytest.approx(reneged)
    # per day and hour, the hourly counts add up to the day's count
    for metric in ("balked", "reneged", "deferred"):
        day = hourly.loc["all", metric].sum()
        assert day == pytest.approx(_summary(impatient_results)["all", metric])
    assert {"wait_mean_served", "wait_mean_lost", "deferred_share"} <= set(hourly.columns)
    assert hourly.loc[("stage=customs", 12), "reneged"] >= 0


def test_every_leaving_metric_is_catalogued_and_absent_without_impatience(impatient_results, plain_results):
    for name in LEAVING:
        entry = METRICS[name]
        assert entry.unit and entry.label and entry.phrase and entry.better in ("lower", "higher", "neutral")
    produced = set(impatient_results.summary["metric"]) | set(impatient_results.hourly.columns)
    assert set(LEAVING) <= produced
    stage_rows = impatient_results.summary[impatient_results.summary["group"] == "stage=passport"]
    assert set(LEAVING) - {"wait_mean_lost"} <= set(stage_rows["metric"])
    assert not set(LEAVING) & (set(plain_results.summary["metric"]) | set(plain_results.hourly.columns))
