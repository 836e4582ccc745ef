"""report.html: one self-contained file (figures as data: URIs, inline CSS, nothing fetched from
the network), well-formed, with the scenario's assumptions and sources, the headline table and
the figures. How it looks in a browser is checked by hand (see docs/compare.md)."""
from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
import yaml

import sim
from sim.cli import main
import sim.catalogue
from sim.catalogue import estimate
from sim.report import run_report, sweep_report
from conftest import small_scenario

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Structure(HTMLParser):
    """Collects what the tests look at and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.images: list[str] = []
        self.references: list[str] = []          # every src / href / action value
        self.tags: list[str] = []
        self.headings: list[str] = []
        self.text: list[str] = []
        self._heading: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for name in ("src", "href", "action", "srcset", "poster"):
            if name in attrs:
                self.references.append(attrs[name])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag in ("h1", "h2", "h3"):
            self._heading = ""
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append(self._heading.strip())
            self._heading = None

    def handle_data(self, data):
        self.text.append(data)
        if self._heading is not None:
            self._heading += data


def parse(text: str) -> Structure:
    structure = Structure()
    structure.feed(text)
    structure.close()
    assert not structure.errors, structure.errors[:5]
    assert not structure.stack, f"unclosed elements: {structure.stack}"
    return structure


def assert_self_contained(text: str, structure: Structure) -> None:
    assert text.startswith("<!DOCTYPE html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "<style>" in text and "@media (max-width:600px)" in text
    assert "script" not in structure.tags and "link" not in structure.tags and "iframe" not in structure.tags
    assert all(ref.startswith(("#", "data:image/png;base64,")) for ref in structure.references), structure.references
    styles = " ".join(re.findall(r"<style>(.*?)</style>", text, flags=re.S))
    assert "url(" not in styles and "@import" not in styles
    for image in structure.images:
        assert base64.b64decode(image.split(",", 1)[1]).startswith(PNG_MAGIC)
    anchors = {ref[1:] for ref in structure.references if ref.startswith("#")}
    assert anchors <= set(structure.ids), anchors - set(structure.ids)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A CLI run of the small scenario with figures, and its report.html."""
    folder = tmp_path_factory.mktemp("report")
    data = small_scenario()
    data["crossing"]["sources"] = ["Border fact sheet: ~7000 a day <b>bold?</b> & more",
                                   "https://example.org/not-a-link"]
    data["crossing"]["notes"] = "Test notes."
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = folder / "run"
    assert main(["run", str(path), "--out", str(out), "--replications", "2", "--workers", "1"]) == 0
    return out


def test_run_report_is_self_contained_with_sections_and_figures(run_folder):
    text = (run_folder / "report.html").read_text(encoding="utf-8")
    structure = parse(text)
    assert_self_contained(text, structure)
    assert {"headline", "figures", "assumptions", "sources", "run"} <= set(structure.ids)
    assert len(structure.images) == len(list(run_folder.glob("*.png"))) == 6   # every PNG of the run folder, embedded
    assert {"Headline numbers", "Figures", "Scenario and key assumptions", "Sources", "Stages",
            "Traveler classes", "Stages and booths"} <= set(structure.headings)
    words = " ".join(structure.text)
    # the sources are text (escaped), never links or markup
    assert "~7000 a day <b>bold?</b> & more" in words and "<b>bold?</b>" not in text
    assert "https://example.org/not-a-link" in words
    for expected in ("small test crossing", "Test notes.", "2025-07-07 to 2025-07-09", "600 arrivals a day",
                     "everyone", "pedestrian", "passport", "dedicated green channel", "seed"):
        assert expected in words, expected


def test_headline_numbers_match_the_summary(run_folder):
    results = sim.load_results(run_folder)
    words = " ".join(parse((run_folder / "report.html").read_text(encoding="utf-8")).text)
    row = results.summary.query("group == 'all' and metric == 'wait_mean'").iloc[0]
    assert estimate(row["mean"], row["ci_low"], row["ci_high"], 1, bounds=(0.0, float("inf"))) in words
    share = results.summary.query("group == 'class=car' and metric == 'share_wait_over_60min'").iloc[0]
    assert estimate(share["mean"], share["ci_low"], share["ci_high"], 1, percent=True, bounds=(0.0, 1.0)) in words


def test_run_report_without_figures_says_so(run_folder):
    results = sim.load_results(run_folder)
    text = run_report(results, {})
    structure = parse(text)
    assert_self_contained(text, structure)
    assert not structure.images and "No figures" in text


def test_estimate_formats_mean_and_half_width():
    assert estimate(12.34, 11.0, 13.5) == "12.3 ±1.2"
    assert estimate(0.1234, 0.1, 0.15, 1, percent=True) == "12.3 ±2.5 %"
    assert estimate(5.0, float("nan"), float("nan")) == "5.0"
    assert estimate(float("nan"), 1, 2) == "–"


def test_sweep_report_lists_points_and_base_scenario(run_folder):
    results = sim.load_results(run_folder)
    summary = results.summary
    table = pd.concat([summary.assign(point=f"p{i:04d}", **{"stages.passport.pools.foot.booths": booths},
                                      replications=2)[["point", "stages.passport.pools.foot.booths", "replications",
                                                       *summary.columns]]
                       for i, booths in enumerate((2, 3))], ignore_index=True)
    png = (run_folder / "wait_by_hour.png").read_bytes()
    text = sweep_report(table, results.scenario, {"sweep_x.png": (png, "a caption")}, {"sweep_file": "s.yaml"})
    structure = parse(text)
    assert_self_contained(text, structure)
    assert {"points", "figures", "assumptions", "sources"} <= set(structure.ids)
    words = " ".join(structure.text)
    assert "p0000" in words and "p0001" in words and "a caption" in words
    assert len(structure.images) == 1


# --------------------------------------------------------------------------------------------
# the headline table's metrics, warnings, service times
# --------------------------------------------------------------------------------------------
def _with_new_metrics(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with hand-made values of the metrics added in this release (replacing the run's own),
    and a cargo class."""
    extra = []
    for group in ("all", "class=car"):
        for metric, mean in (("peak_hour_wait_mean", 77.7), ("wait_mean_finished", 44.4), ("unfinished_share", 0.125),
                             ("unfinished_wait_mean", 333.3)):
            extra.append({"group": group, "metric": metric, "mean": mean, "ci_low": mean * 0.9,
                          "ci_high": mean * 1.1, "unit": sim.catalogue.unit(metric)})
    extra.append({"group": "class=car", "metric": "backlog_time_mean", "mean": 1444.4, "ci_low": 1400.0,
                  "ci_high": 1488.8, "unit": "min"})
    extra = pd.DataFrame(extra)
    replaced = summary.set_index(["group", "metric"]).index.isin(extra.set_index(["group", "metric"]).index)
    return pd.concat([summary[~replaced], extra], ignore_index=True)


def _headings(text: str) -> list[str]:
    head = re.search(r"<section id=\"headline\">.*?<thead><tr>(.*?)</tr></thead>", text, flags=re.S).group(1)
    return [html_text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", head, flags=re.S)]


def html_text(fragment: str) -> str:
    return re.sub(r"<[^>]+>", "", fragment).replace("&amp;", "&")


def test_headline_shows_peak_hour_wait_backlog_beside_the_waits_unfinished_and_warnings(run_folder):
    results = sim.load_results(run_folder)
    warnings = ["pool trucks of stage customs is shut for the whole horizon while class truck arrives",
                "the CI of wait_mean of class=bus is wider than its estimate: about 12 replications would fix it"]
    changed = sim.Results(results.scenario, _with_new_metrics(results.summary), results.hourly, None,
                          {**results.info, "warnings": warnings}, results.timeline)
    text = run_report(changed, {})
    structure = parse(text)
    assert_self_contained(text, structure)
    label = sim.catalogue.label
    headings = _headings(text)
    for metric in ("peak_hour_wait_mean", "backlog_time_mean", "unfinished", "unfinished_share",
                   "unfinished_wait_mean", "wait_mean_finished"):
        assert label(metric) in headings, metric
    # the cargo backlog sits beside the checkpoint waits
    assert headings.index(label("backlog_time_mean")) - headings.index(label("wait_mean")) <= 2
    words = " ".join(structure.text)
    assert "77.7 ±7.8" in words and "12.5 ±1.3 %" in words and "1,444.4 ±44.4" in words
    # warnings first, before the headline numbers
    assert structure.ids.index("warnings") < structure.ids.index("headline")
    for warning in warnings:
        assert warning in words
    # an absent metric gets no column
    summary = results.summary[results.summary["metric"] != "peak_hour_wait_mean"]
    plain = _headings(run_report(sim.Results(results.scenario, summary, results.hourly, None, results.info), {}))
    assert label("peak_hour_wait_mean") not in plain and label("wait_mean") in plain


def test_report_lists_every_service_time_and_inspection_probability():
    from sim.report import distribution_text, service_section, share_text, short_duration

    scenario = sim.load_scenario("scenarios/khorgos.yaml")
    html_ = service_section(scenario)
    words = html_text(html_)
    for stage_name, stage in scenario.stages.items():
        section = words[words.index(f"{stage_name} · "):]
        for name, dist in stage.service_time.items():
            assert f"{name}{distribution_text(dist)}" in section.replace(" (each person)", ""), (stage_name, name)
        for name, probability in stage.visit_probability.items():
            assert share_text(probability) in section
        for check_name, check in stage.extra_checks.items():
            for name, probability in check.probability.items():
                assert f"{check_name}: {share_text(probability)} × {distribution_text(check.service_time)}" in section
        if stage.per_person:
            assert f"checked person by person: {', '.join(stage.per_person)}" in section
    # as written in the scenario file
    for written in ("lognormal, mean 40 s, cv 0.6", "lognormal, mean 90 s, cv 0.5", "lognormal, mean 2.5 min, cv 0.6",
                    "full_unload: 30 % × lognormal, mean 90 min, cv 0.4", "device_check: 30 %", "8 %", "3 %"):
        assert written in words, written
    assert short_duration(1 / 3) == "20 s" and short_duration(12) == "12 min" and short_duration(180) == "3 h"


def test_run_report_has_the_service_section(run_folder):
    structure = parse((run_folder / "report.html").read_text(encoding="utf-8"))
    assert "service" in structure.ids and "Service times and inspections" in structure.headings


def test_the_cargo_backlog_is_shown_on_class_rows_only():
    """A truck figure is not everyone's: the report, like the console, shows it on class rows."""
    from sim.report import headline_table
    rows = [("all", "backlog_time_mean", 1473.8), ("class=truck", "backlog_time_mean", 1468.1),
            ("all", "wait_mean", 54.7), ("class=truck", "wait_mean", 1.1)]
    summary = pd.DataFrame([(g, m, v, v * 0.9, v * 1.1, "min") for g, m, v in rows],
                           columns=["group", "metric", "mean", "ci_low", "ci_high", "unit"])
    text = headline_table(summary)
    assert "1,468.1" in text and "1,473.8" not in text and "54.7" in text
