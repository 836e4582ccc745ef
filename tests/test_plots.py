"""Figures: pure functions of the results tables, the standard PNG sets of a run and a sweep, and
``checkpoint-sim plot`` redrawing them from a folder."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

import sim
from sim import plots
from sim.cli import main
from sim.publish import save_figures
from conftest import MINUTES_PER_DAY, load, mmc_scenario, small_scenario

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RUN_PNGS = {"wait_by_hour.png", "queues_and_booths.png", "utilization_heatmap.png", "wait_ecdf.png",
            "daily_throughput.png", "queue_timeline.png"}


@pytest.fixture(scope="module")
def results():
    data = small_scenario()
    data["calendar"].update({"days": 4, "opening_hours": {"open": "06:00", "close": "22:00"}})
    return sim.run(load(data), replications=3, seed=3)


def _close(figure: Figure) -> None:
    import matplotlib.pyplot as plt
    plt.close(figure)


def test_closed_and_peak_hours_are_read_from_the_hourly_table(results):
    assert plots.closed_hours(results.hourly) == [0, 1, 2, 3, 4, 5, 22, 23]
    # weights 0.5 (00-06), 2 (06-18), 1 (18-24): the daytime plateau is 1.45x the mean weight, not a peak
    assert plots.peak_hours(results.scenario.demand.hour_weights) == []
    assert plots.peak_hours([1] * 7 + [10, 12, 10] + [4] * 14) == [7, 8, 9]        # Khorgos-like mornings
    assert plots.peak_hours([0] * 8 + [3, 1, 1, 1] + [0] * 12) == [8]
    assert plots.peak_hours([1] * 24) == [] and plots.peak_hours([0] * 24) == []
    assert plots.hour_spans([0, 1, 2, 7, 8, 23]) == [(0, 3), (7, 9), (23, 24)]


def test_hourly_wait_profile_has_a_line_and_band_per_class_and_shaded_hours(results):
    figure = plots.hourly_wait_profile(results.hourly, peaks=[7, 8, 9])
    axis = figure.axes[0]
    labels = [line.get_label() for line in axis.get_lines()]
    assert labels == ["pedestrian", "car", "bus"]
    assert sum(isinstance(c, PolyCollection) for c in axis.collections) >= 3      # CI bands
    legend = [text.get_text() for text in axis.get_legend().get_texts()]
    assert "closed" in legend and "demand peak" in legend
    _close(figure)


def test_queue_and_utilization_figures_have_one_row_per_stage(results):
    figure = plots.queue_and_staffing(results.hourly)
    titles = [axis.get_title(loc="left") for axis in figure.axes if axis.get_visible() and axis.get_title(loc="left")]
    assert titles == ["passport", "customs", "secondary"]
    _close(figure)
    figure = plots.utilization_heatmap(results.hourly)
    image = figure.axes[0].get_images()[0].get_array()
    assert image.shape == (3, 24)
    assert image.mask[:, :6].all() and not image.mask[:, 6:22].any()              # closed hours are blank
    assert 1 < image.max() <= 100                                                  # in %, like its title
    assert "%" in figure.axes[0].get_title() and figure.axes[0].images[0].get_clim() == (0, 100)
    _close(figure)


def test_wait_ecdf_marks_the_service_levels_per_class(results):
    calendar = results.scenario.calendar
    window = (calendar.warmup_days * MINUTES_PER_DAY, calendar.days * MINUTES_PER_DAY)
    figure = plots.wait_ecdf(results.entities, window=window)
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    entities = results.entities
    measured = entities[(entities["arrival_min"] >= window[0]) & (entities["arrival_min"] < window[1])]
    cars = measured.loc[measured["class"] == "car", "wait_total"].dropna()
    expected = f"car: {100 * np.mean(cars > 30):.0f} % > 30, {100 * np.mean(cars > 60):.0f} % > 60 min"
    assert expected in legend
    _close(figure)


def test_daily_throughput_table_counts_exits_per_day(results):
    entities = results.entities
    daily = plots.daily_throughput_table(entities, dt.date(2025, 7, 7))
    assert list(daily.columns) == ["day", "date", "group", "mean", "ci_low", "ci_high"]
    everyone = daily[daily["group"] == "all"].set_index("day")
    finished = entities.dropna(subset=["exit_min"])
    by_hand = finished.groupby([finished["replication"], finished["exit_min"] // MINUTES_PER_DAY]).size()
    for day in everyone.index:
        counts = [by_hand.get((r, day), 0) for r in range(3)]
        assert everyone.loc[day, "mean"] == pytest.approx(np.mean(counts))
    assert everyone.loc[0, "date"] == dt.date(2025, 7, 7)
    per_class = daily[daily["group"] != "all"].groupby("day")["mean"].sum()
    np.testing.assert_allclose(per_class.to_numpy(), everyone["mean"].to_numpy())
    assert (daily["ci_low"].dropna() >= 0).all()          # a count's interval stops at 0
    figure = plots.daily_throughput(daily, measured=(1, 4))
    assert "warm-up" in [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    _close(figure)


def test_run_figures_are_saved_as_pngs_with_or_without_entities(results, tmp_path):
    paths = [tmp_path / name for name in save_figures(plots.run_figures(results), tmp_path)]
    assert {p.name for p in paths} == RUN_PNGS
    for path in paths:
        assert path.read_bytes().startswith(PNG_MAGIC)
        assert path.stat().st_size < 200_000
    assert not list(tmp_path.glob(".*"))                                              # no staging leftovers
    without = sim.Results(results.scenario, results.summary, results.hourly, None, results.info, results.timeline)
    folder = tmp_path / "no_entities"
    folder.mkdir()
    assert set(save_figures(plots.run_figures(without), folder)) == \
        {"wait_by_hour.png", "queues_and_booths.png", "utilization_heatmap.png", "queue_timeline.png"}


def test_timeline_covers_the_horizon_hour_by_hour(results):
    """timeline.csv: one row per hour of the horizon for all and each stage; open booths follow the
    schedule and the hour-of-day profile is the timeline's measured days averaged."""
    timeline, calendar = results.timeline, results.scenario.calendar
    hours = calendar.days * 24
    stages = [g for g in results.hourly["group"].unique() if g.startswith("stage=")]
    assert set(timeline["group"]) == {"all", *stages}
    assert all(len(timeline[timeline["group"] == g]) == hours for g in ["all", *stages])
    assert (timeline["staffed_booths"] >= 0).all() and (timeline["queue_length_mean"] >= 0).all()
    measured = timeline[(timeline["group"] == "all") & (timeline["hour"] >= calendar.warmup_days * 24)]
    profile = measured.groupby(measured["hour"] % 24)["queue_length_mean"].mean()
    hourly = results.hourly[results.hourly["group"] == "all"].set_index("hour")["queue_length_mean"]
    assert profile.to_numpy() == pytest.approx(hourly.sort_index().to_numpy(), rel=1e-9, abs=1e-12)


# --------------------------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------------------------
def _grid_table() -> pd.DataFrame:
    """A sweep.csv-like table: booths x volume, p90 wait falling with booths, rising with volume."""
    rows = []
    for index, (booths, volume) in enumerate((b, v) for b in (2, 3, 4) for v in (1000, 1500, 2000)):
        for metric, value in (("wait_p90", volume / 10 / booths ** 2), ("wait_mean", volume / 40 / booths ** 2)):
            rows.append({"point": f"p{index:04d}", "stages.desk.pools.booths.booths": booths,
                         "demand.daily_volume": volume, "replications": 3, "group": "all", "metric": metric,
                         "mean": value, "ci_low": 0.9 * value, "ci_high": 1.1 * value, "unit": "min"})
    return pd.DataFrame(rows)


def test_parameter_order_sorts_numbers_and_durations():
    assert plots.parameter_order(pd.Series([3, 1, 2, 1])) == ([1, 2, 3], True)
    assert plots.parameter_order(pd.Series(["2 min", "45 s", "1 h"])) == (["45 s", "2 min", "1 h"], False)
    assert plots.parameter_order(pd.Series(["b", "a", "b"])) == (["b", "a"], False)


def test_sweep_line_and_heatmap_with_target_contour():
    table = _grid_table()
    assert plots.sweep_parameters(table) == ["stages.desk.pools.booths.booths", "demand.daily_volume"]
    figure = plots.metric_vs_parameter(table, "demand.daily_volume", "wait_p90", by="stages.desk.pools.booths.booths",
                                       target=60)
    axis = figure.axes[0]
    assert len([l for l in axis.get_lines() if l.get_label().startswith("booths.booths")]) == 3
    assert any(l.get_label() == "target 60" for l in axis.get_lines())
    _close(figure)
    # p90 from 6.25 (4 booths, 1000/day) to 50 min (2 booths, 2000/day): a 20-min target crosses the grid
    figure = plots.sweep_heatmap(table, "demand.daily_volume", "stages.desk.pools.booths.booths", "wait_p90", target=20)
    axis = figure.axes[0]
    assert axis.get_images()[0].get_array().shape == (3, 3)
    assert any("ContourSet" in type(c).__name__ for c in axis.collections)
    assert "dashed line: target 20" in axis.get_title()
    _close(figure)
    figure = plots.sweep_heatmap(table, "demand.daily_volume", "stages.desk.pools.booths.booths", "wait_p90",
                                 target=1000)
    assert "target met everywhere" in figure.axes[0].get_title()
    _close(figure)
    figures = plots.sweep_figures(table)
    assert "sweep_heatmap.png" in figures and "sweep_wait_mean_vs_demand_daily_volume.png" in figures
    for figure in figures.values():
        _close(figure)


# --------------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------------
def test_cli_run_writes_a_report_and_plot_draws_the_figures(tmp_path, capsys):
    data = small_scenario()
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--replications", "2", "--workers", "1", "--no-plots"]) == 0
    names = {p.name for p in out.iterdir()}
    assert "report.html" in names and not names & RUN_PNGS                         # a report, without figures
    assert main(["plot", str(out)]) == 0
    assert RUN_PNGS | {"report.html"} <= {p.name for p in out.iterdir()}
    assert main(["plot", str(tmp_path)]) == 2                                         # not a results folder
    assert "not a results, sweep or comparison folder" in capsys.readouterr().err


def test_cli_sweep_writes_figures_report_and_plot_redraws_them(tmp_path):
    base = mmc_scenario(arrival_rate_per_min=1.5, service_mean_min=1.0, servers=2, days=2, warmup_days=1)
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    spec = {"base": "base.yaml", "replications": 2, "seed": 5,
            "grid": {"stages.desk.pools.booths.booths": [2, 3], "demand.daily_volume": [1800, 2400]}}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--out", str(out), "--workers", "1"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "sweep_heatmap.png", "scenario.resolved.yaml", "sweep_wait_mean_vs_booths_booths.png",
            "sweep_wait_p90_vs_demand_daily_volume.png"} <= names
    (out / "sweep_heatmap.png").unlink()
    assert main(["plot", str(out), "--metric", "wait_mean", "--target", "1"]) == 0
    assert (out / "sweep_heatmap.png").read_bytes().startswith(PNG_MAGIC)


# --------------------------------------------------------------------------------------------
# the metric's direction, faceting, clipped intervals, colours
# --------------------------------------------------------------------------------------------
def _sweep_table(metric: str, value, unit: str, variants=(None,)) -> pd.DataFrame:
    """A sweep.csv-like table of one metric over booths x volume (x variants when given)."""
    rows = []
    for variant in variants:
        for booths in (2, 3, 4):
            for volume in (1000, 1500, 2000):
                mean = value(booths, volume, variant)
                rows.append({"point": f"p{len(rows):04d}", **({"variant": variant} if variant else {}),
                             "stages.desk.pools.booths.booths": booths, "demand.daily_volume": volume,
                             "replications": 3, "group": "all", "metric": metric, "mean": mean,
                             "ci_low": 0.95 * mean, "ci_high": 1.05 * mean, "unit": unit})
    return pd.DataFrame(rows)


def test_heatmap_target_follows_the_metric_direction():
    # throughput near 6,300 a day against a target of 7,000: higher is better, so missed everywhere
    table = _sweep_table("throughput_per_day", lambda b, v, _: 6200 + 10 * b + v / 100, "entities/day")
    figure = plots.sweep_heatmap(table, "demand.daily_volume", "stages.desk.pools.booths.booths",
                                 "throughput_per_day", target=7000)
    assert "target missed everywhere" in figure.axes[0].get_title()
    _close(figure)
    figure = plots.sweep_heatmap(table, "demand.daily_volume", "stages.desk.pools.booths.booths",
                                 "throughput_per_day", target=6240)
    axis = figure.axes[0]
    assert "higher is better" in axis.get_title() and any("ContourSet" in type(c).__name__ for c in axis.collections)
    values = axis.get_images()[0].get_array()
    assert (plots.target_mask(values, "throughput_per_day", 6240) == (values >= 6240)).all()
    _close(figure)
    assert plots.target_mask(np.array([50.0, 70.0]), "wait_p90", 60).tolist() == [True, False]
    # utilization has no better direction: no colours for met/missed, no contour, and the title says so
    table = _sweep_table("utilization", lambda b, v, _: v / 2500 / b, "fraction")
    figure = plots.sweep_heatmap(table, "demand.daily_volume", "stages.desk.pools.booths.booths", "utilization",
                                 target=0.5)
    axis = figure.axes[0]
    assert "no target marked" in axis.get_title() and "met everywhere" not in axis.get_title()
    assert not any("ContourSet" in type(c).__name__ for c in axis.collections)
    assert axis.get_images()[0].get_array().max() == pytest.approx(100 * 2000 / 2500 / 2)    # drawn in %
    assert plots.target_mask(np.array([0.4]), "utilization", 0.5) is None
    _close(figure)


def test_heatmap_of_variants_and_two_grid_fields_has_one_panel_per_variant():
    table = _sweep_table("wait_p90", lambda b, v, variant: v / 10 / b ** 2 * (2 if variant == "slow" else 1), "min",
                         variants=("fast", "slow"))
    figure = plots.sweep_heatmap(table, "demand.daily_volume", "stages.desk.pools.booths.booths", "wait_p90",
                                 target=60)
    panels = [axis for axis in figure.axes if axis.get_images()]
    assert [axis.get_title() for axis in panels] == ["variant = fast", "variant = slow"]
    fast, slow = (axis.get_images()[0].get_array() for axis in panels)
    np.testing.assert_allclose(slow, 2 * fast)                                    # nothing averaged
    _close(figure)
    figures = plots.sweep_figures(table)
    assert "sweep_heatmap.png" in figures
    for figure in figures.values():
        _close(figure)
    # a fourth dimension cannot be drawn: refused with its name, never averaged
    four = pd.concat([table.assign(**{"demand.extra": e}) for e in (1, 2)], ignore_index=True)
    four = four[["point", "variant", "stages.desk.pools.booths.booths", "demand.daily_volume", "demand.extra",
                 *table.columns[4:]]]
    with pytest.raises(ValueError, match="demand.extra"):
        plots.sweep_heatmap(four, "demand.daily_volume", "stages.desk.pools.booths.booths", "wait_p90")
    with pytest.raises(ValueError, match="variant"):
        plots.metric_vs_parameter(table, "demand.daily_volume", "wait_p90", by="stages.desk.pools.booths.booths")
    figure = plots.metric_vs_parameter(table, "demand.daily_volume", "wait_p90",
                                       by=["variant", "stages.desk.pools.booths.booths"])
    assert len([l for l in figure.axes[0].get_lines() if l.get_label().startswith("variant = ")]) == 6
    _close(figure)


def _hourly(means: dict[str, float], half_width: float) -> pd.DataFrame:
    """An hourly table: each class's wait constant over the day, with a CI of +- half_width."""
    rows = []
    for group, mean in means.items():
        for hour in range(24):
            rows.append({"hour": hour, "group": group, "arrivals_per_day": 10.0, "staffed_booths": 2.0,
                         "wait_mean": mean, "wait_mean_ci_low": mean - half_width,
                         "wait_mean_ci_high": mean + half_width})
    return pd.DataFrame(rows)


def _clipped_marks(axis) -> list:
    return [line for line in axis.get_lines() if line.get_label() == plots.CLIPPED_NOTE]


def test_axes_follow_the_estimates_and_clipped_intervals_are_marked():
    hourly = _hourly({"class=car": 40.0, "class=truck": 10.0}, half_width=3000.0)
    figure = plots.hourly_wait_profile(hourly, peaks=[])
    axis = figure.axes[0]
    assert axis.get_ylim()[0] == 0 and 40 < axis.get_ylim()[1] <= 2.2 * 40           # not 3,000 min
    assert _clipped_marks(axis) and plots.CLIPPED_NOTE in [t.get_text() for t in axis.get_legend().get_texts()]
    _close(figure)
    # narrow intervals fit as they are: nothing marked
    figure = plots.hourly_wait_profile(_hourly({"class=car": 40.0}, half_width=2.0), peaks=[])
    assert figure.axes[0].get_ylim()[1] >= 42 and not _clipped_marks(figure.axes[0])
    _close(figure)
    assert plots.estimate_limits([10.0, -5.0], [-400.0], [600.0], floor=None)[0] >= -2.5 * 10
    # the comparison figure: bars from 0 (not -200 min), differences within ~2x the largest difference
    summary = pd.DataFrame([{"scenario": s, "group": g, "metric": "wait_mean", "mean": m, "ci_low": m - 250,
                             "ci_high": m + 250} for s, f in (("base", 1.0), ("more", 0.8))
                            for g, m in (("all", 50 * f), ("class=car", 60 * f))])
    differences = pd.DataFrame([{"scenario": "more", "group": g, "metric": "wait_mean", "difference": d,
                                 "ci_low": d - 300, "ci_high": d + 300} for g, d in (("all", -10.0), ("class=car", -12))])
    hourly = pd.concat([_hourly({"all": 50.0 * f}, 500.0).assign(scenario=s) for s, f in (("base", 1), ("more", .8))])
    figure = plots.comparison_figure(summary, differences, hourly)
    bars, forest, profile = figure.axes[:3]
    assert bars.get_ylim()[0] == 0 and bars.get_ylim()[1] <= 2.2 * 60
    assert -2.5 * 12 <= forest.get_xlim()[0] < -12 and 0 < forest.get_xlim()[1] <= 2.5 * 12
    assert profile.get_ylim()[1] <= 2.2 * 50
    assert all(_clipped_marks(axis) for axis in (bars, forest, profile))
    _close(figure)


def test_sweep_lines_and_daily_throughput_follow_the_estimates():
    table = _sweep_table("wait_mean", lambda b, v, _: v / 40 / b ** 2, "min")
    table["ci_low"], table["ci_high"] = table["mean"] - 500, table["mean"] + 500
    figure = plots.metric_vs_parameter(table, "demand.daily_volume", "wait_mean", by="stages.desk.pools.booths.booths")
    axis = figure.axes[0]
    assert axis.get_ylim()[1] <= 2.2 * table["mean"].max() and _clipped_marks(axis)
    _close(figure)
    daily = pd.DataFrame([{"day": d, "group": g, "mean": m, "ci_low": m - 9000, "ci_high": m + 9000}
                          for d in range(4) for g, m in (("all", 6000.0), ("class=car", 2000.0))])
    figure = plots.daily_throughput(daily)
    assert figure.axes[0].get_ylim()[1] <= 2.2 * 6000 and _clipped_marks(figure.axes[0])
    _close(figure)


def test_one_colour_per_class_in_every_figure(results):
    calendar = results.scenario.calendar
    expected = plots.class_colors(["pedestrian", "car", "bus"])
    assert expected == {"pedestrian": "tab:blue", "car": "tab:orange", "bus": "tab:green"}
    assert plots.class_colors(["truck", "zeppelin", "car"])["truck"] == plots.class_colors(["truck"])["truck"]
    import matplotlib.colors as mcolors

    def colours(figure, names) -> dict:
        lines = {line.get_label().split(":")[0].split(" (")[0]: mcolors.to_hex(line.get_color())
                 for line in figure.axes[0].get_lines()}
        _close(figure)
        return {name: lines[name] for name in names}

    want = {name: mcolors.to_hex(color) for name, color in expected.items()}
    window = (calendar.warmup_days * MINUTES_PER_DAY, calendar.days * MINUTES_PER_DAY)
    assert colours(plots.hourly_wait_profile(results.hourly), want) == want
    assert colours(plots.wait_ecdf(results.entities, window=window), want) == want
    assert colours(plots.daily_throughput(plots.daily_throughput_table(results.entities)), want) == want


def test_ecdf_steps_keep_the_ends_and_at_most_the_limit():
    assert list(plots.ecdf_steps(5, most=10)) == [0, 1, 2, 3, 4]
    steps = plots.ecdf_steps(1_000_000, most=2000)
    assert steps[0] == 0 and steps[-1] == 999_999 and len(steps) <= 2000
    assert (np.diff(steps) > 0).all()


def test_entity_figures_reduced_per_replication_and_combined_draw_the_same_figures(results):
    """The reduction the workers send (one per replication, combined in the main process) gives
    the very figures, PNG bytes included, that the entity rows themselves give."""
    import pyarrow as pa
    from sim.metrics import measurement_window
    from sim.runner import EntityFigures

    entities, window = results.entities, measurement_window(results.scenario)
    parts = [EntityFigures.of(pa.Table.from_pandas(rows, preserve_index=False), window)
             for _, rows in entities.groupby("replication", sort=True)]
    combined, whole = EntityFigures.combine(parts), EntityFigures.of(entities, window)
    assert combined.rows == len(entities) and list(combined.replications) == [0, 1, 2]
    assert combined.classes == whole.classes == list(dict.fromkeys(entities["class"]))
    assert list(combined.waits) == list(whole.waits)
    for name, waits in whole.waits.items():
        by_hand = entities[(entities["class"] == name) & (entities["arrival_min"] >= window[0])
                           & (entities["arrival_min"] < window[1])]["wait_total"].dropna()
        np.testing.assert_array_equal(combined.waits[name], np.sort(by_hand.to_numpy()))
        np.testing.assert_array_equal(combined.waits[name], waits)
    for name in whole.exits:
        np.testing.assert_array_equal(combined.exits[name], whole.exits[name])
    pd.testing.assert_frame_equal(plots.daily_throughput_table(combined, dt.date(2025, 7, 7)),
                                  plots.daily_throughput_table(entities, dt.date(2025, 7, 7)), check_exact=True)
    assert plots.png_bytes(plots.wait_ecdf(combined), close=True) == \
        plots.png_bytes(plots.wait_ecdf(entities, window=window), close=True)
    with pytest.raises(ValueError, match="window"):
        plots.wait_ecdf(combined, window=(0.0, 1.0))


def test_wait_ecdf_gives_the_cargo_backlog_of_the_released_from_the_reduction():
    """Without the summary's backlog time, the legend gives the mean time in the cargo backlog of
    the released entities of the window, over the replications combined."""
    from sim.runner import EntityFigures

    rows = pd.DataFrame({"replication": [0, 0, 0, 1, 1], "class": ["truck", "truck", "car", "truck", "car"],
                         "arrival_min": [10.0, 20.0, 30.0, 15.0, 2000.0],
                         "release_min": [70.0, np.nan, np.nan, 135.0, np.nan],
                         "wait_total": [5.0, 7.0, 1.0, 3.0, 2.0], "exit_min": [80.0, np.nan, 40.0, 1500.0, 2010.0]})
    parts = [EntityFigures.of(part, (0.0, 1440.0)) for _, part in rows.groupby("replication")]
    combined = EntityFigures.combine(parts)
    assert combined.released == {"truck": (180.0, 2)} and list(combined.waits) == ["truck", "car"]
    figure = plots.wait_ecdf(combined)
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend[0].endswith("cargo backlog before it: 90 min") and "backlog" not in legend[1]
    _close(figure)
    daily = plots.daily_throughput_table(combined)
    assert daily[(daily["group"] == "class=car") & (daily["day"] == 1)]["mean"].item() == 0.5
    assert daily[daily["group"] == "all"]["mean"].tolist() == [1.0, 1.0]
