"""The self-contained HTML report of a run, a sweep or a comparison.

One file, ``report.html``, that a planner can open anywhere, offline, on a phone or a desktop:
figures embedded as base64 PNG, inline CSS, no script and no link to the network. Each report
says what was simulated (the scenario's description, calendar, demand, classes, staffing and
sources), gives the headline table and shows the figures; calibrations and the validation suite
get a page of the same kind. Everything here is a pure function that returns an HTML string
(figures come in as PNG bytes): :mod:`sim.publish` renders the figures and writes the files.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd

from . import catalogue
from .catalogue import format_estimate
from .fitting import (SENSITIVITY_HEADER, CalibrationResult, describe_run, format_value, parameter_lines,
                      sensitivity_lines, target_lines, uninformative_note)
from .scenario.calibration import unit_of
from .comparison import VERDICT_KINDS, Comparison, format_change, scenario_differences
from .console import leaving_sentence, shown
from .diagnostics import unfinished_warnings
from .groups import KINDS, Group, of_kinds
from .plots import (SWEEP_TARGET, group_label, hour_spans, peak_hours,
                    sweep_parameters)
from .rail_metrics import STATION_METRICS, TRAIN_METRICS, binding_constraint, has_rail, station_stage_groups
from .scenario.schema import (WEEKDAYS, BoothSchedule, Deterministic, Distribution, Empirical, Gamma, HourRule,
                              LogNormal, Scenario)
from .scenario.units import clock_text, format_minutes

if TYPE_CHECKING:
    from .runner import Results

REPORT_FILE = "report.html"

CSS = """
:root{--ink:#1d2430;--muted:#5b6675;--line:#d9dee5;--soft:#f3f5f8;--accent:#1f5fa8;--good:#1d7a3a;--bad:#a8321f}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;color:var(--ink);background:#fff;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,"Noto Sans",sans-serif;overflow-wrap:break-word}
header{background:var(--soft);border-bottom:1px solid var(--line)}
header .inner,main,footer{max-width:1240px;margin:0 auto;padding:12px 16px}
h1{font-size:1.45rem;line-height:1.25;margin:.3em 0}
h2{font-size:1.2rem;margin:1.8em 0 .6em;padding-bottom:.2em;border-bottom:2px solid var(--line)}
h3{font-size:1.02rem;margin:1.3em 0 .4em}
p{margin:.4em 0 .8em}
.meta{color:var(--muted);font-size:.92rem;margin:.2em 0}
nav{font-size:.92rem;margin:.5em 0 .2em;display:flex;flex-wrap:wrap;gap:.3em 1.1em}
nav a,a{color:var(--accent)}
.note{color:var(--muted);font-size:.9rem}
.warnings{border:1px solid #e3b3a8;border-left:5px solid var(--bad);background:#fdf3f0;border-radius:6px;
padding:.5em 1em;margin:1em 0}
.warnings h2{border:0;margin:.2em 0;font-size:1.1rem;color:var(--bad)}
.warnings ul{margin:.2em 0 .4em;padding-left:1.2em}
.table-wrap{border:1px solid var(--line);border-radius:6px;margin:.4em 0 1em;max-width:100%}
table{border-collapse:separate;border-spacing:0;width:100%;font-size:14px;line-height:19px;
font-variant-numeric:tabular-nums}
th,td{padding:5px 8px;box-shadow:inset 0 -1px 0 var(--line);text-align:right;vertical-align:top}
td{white-space:normal}
thead th{background:var(--soft);font-weight:600;white-space:normal;vertical-align:bottom;hyphens:auto}
th:first-child,td:first-child{text-align:left}
tbody tr:last-child td{box-shadow:none}
td.text,th.text{text-align:left;white-space:normal}
tr.part th{text-align:left;background:var(--soft);font-weight:600}
.figures{display:grid;gap:22px;grid-template-columns:minmax(0,1fr)}
figure{min-width:0;margin:0}
figure .frame{border:1px solid var(--line);border-radius:6px;background:#fff;width:fit-content;max-width:100%}
figure img{display:block;max-width:100%;height:auto}
figcaption{color:var(--muted);font-size:.88rem;margin-top:.3em;max-width:60em}
dl.facts{display:grid;grid-template-columns:minmax(8em,max-content) minmax(0,1fr);gap:.25em 1.2em;margin:.4em 0 1em}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;min-width:0}
ul.verdicts{padding-left:1.1em;margin:.4em 0 1em}
ul.verdicts li{margin:.35em 0}
.up{color:var(--bad)}.down{color:var(--good)}
ol.sources li{margin:.25em 0;overflow-wrap:anywhere}
details{margin:.5em 0 1em}
summary{cursor:pointer;color:var(--accent)}
footer{color:var(--muted);font-size:.85rem;border-top:1px solid var(--line);margin-top:2em}
code{font-size:.88em;background:var(--soft);padding:0 .25em;border-radius:3px;overflow-wrap:anywhere}
@media (max-width:600px){
 body{font-size:15px}
 h1{font-size:1.25rem}
 dl.facts{grid-template-columns:minmax(0,1fr)}
 dl.facts dd{margin:0 0 .5em}
 .table-wrap{border:0}
 table,tbody,tr,td,tr.part th{display:block;width:100%}
 thead{display:none}
 tbody tr{border:1px solid var(--line);border-radius:6px;margin:0 0 .6em;overflow:hidden}
 tbody tr.part{border:0;margin:.9em 0 .3em}
 td{display:flex;justify-content:space-between;gap:1em;box-shadow:inset 0 -1px 0 var(--line);padding:3px 10px}
 td::before{content:attr(data-label);text-align:left;color:var(--muted);font-weight:600;flex:0 1 55%}
 td:first-child{background:var(--soft);font-weight:600}
 td:first-child::before{content:none}
 td.text{text-align:right}
}
@media print{nav{display:none}a{color:inherit}}
"""

# the metrics of each table, in column order (labels, units and digits from the catalogue); a
# metric missing from the summary gets no column. Cargo backlog next to the waits: for trucks it
# is often a day, against minutes at the booths.
HEADLINE_METRICS = ["throughput_per_day", "persons_per_day", "wait_mean", "peak_hour_wait_mean",
                    "backlog_time_mean", "wait_p90", "wait_p95", "share_wait_over_60min", "wait_mean_finished",
                    "unfinished", "unfinished_share", "unfinished_wait_mean",
                    "lost", "lost_share", "deferred", "wait_mean_served", "wait_mean_lost"]   # the last: impatience only
STAGE_METRICS = ["utilization", "wait_mean", "wait_p90", "queue_length_mean", "queue_length_max",
                 "services_per_day", "balked", "reneged", "deferred"]
SWEEP_METRICS = ["wait_mean", "wait_p90", "share_wait_over_60min", "throughput_per_day", "utilization",
                 "unfinished", "lost", "lost_share", "deferred"]


# --------------------------------------------------------------------------------------------
# small HTML pieces
# --------------------------------------------------------------------------------------------
def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: float, digits: int = 1) -> str:
    """A number for a table cell ('–' for missing)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def level(metric: str, value: float) -> str:
    """A value of ``metric`` with its unit in the catalogue's digits (``54.9 min``, ``12.5 %``);
    a name outside the catalogue as a plain number."""
    if metric in catalogue.METRICS:
        return catalogue.format_value(metric, value)
    return number(value, 3)


def table(headings: list[str], rows: Iterable[list[str] | str], text_columns: Iterable[int] = ()) -> str:
    """An HTML table whose cells may wrap (no sideways scrolling); cells are already-escaped HTML.

    A row given as a string is a heading row across the whole table (already-escaped HTML).
    Each cell carries its column heading in ``data-label``: on a phone the rows become cards of
    "heading  value" lines, the first column (the key) at the top.
    """
    text_columns = set(text_columns)
    labels = [esc(h) for h in headings]

    def cell(tag: str, index: int, content: str) -> str:
        kind = " class=\"text\"" if index in text_columns else ""
        label = f" data-label=\"{labels[index]}\"" if tag == "td" and index < len(labels) else ""
        return f"<{tag}{kind}{label}>{content}</{tag}>"

    def row_html(row: list[str] | str) -> str:
        if isinstance(row, str):
            return f"<tr class=\"part\"><th colspan=\"{len(headings)}\">{row}</th></tr>"
        return "<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>"
    # dotted field paths (sweep parameters) may wrap after a dot
    head = "".join(cell("th", i, esc(h).replace(".", ".<wbr>")) for i, h in enumerate(headings))
    body = "".join(row_html(row) for row in rows)
    return f"<div class=\"table-wrap\"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def facts(items: Iterable[tuple[str, str]]) -> str:
    """A definition list of (label, already-escaped HTML value)."""
    return "<dl class=\"facts\">" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def figure(png: bytes, caption: str, alt: str = "") -> str:
    """A figure with the PNG embedded as a data: URI."""
    data = base64.b64encode(png).decode("ascii")
    return (f"<figure><div class=\"frame\"><img src=\"data:image/png;base64,{data}\" alt=\"{esc(alt or caption)}\">"
            f"</div><figcaption>{esc(caption)}</figcaption></figure>")


def figures_section(images: dict[str, tuple[bytes, str]]) -> str:
    """Figures in a responsive grid: ``{file name: (png bytes, caption)}``."""
    if not images:
        return "<p class=\"note\">No figures (drawn with <code>--no-plots</code>, or no data).</p>"
    return "<div class=\"figures\">" + "".join(figure(png, caption) for png, caption in images.values()) + "</div>"


def warnings_box(warnings: Iterable[str]) -> str:
    """The run's warnings (plain text) in a box at the top of the page; "" when there are none."""
    items = "".join(f"<li>{esc(w)}</li>" for w in warnings if str(w).strip())
    return (f"<section id=\"warnings\" class=\"warnings\" role=\"alert\"><h2>Warnings</h2><ul>{items}</ul></section>"
            if items else "")


def page(title: str, meta: str, sections: list[tuple[str, str, str]], footer: str = "",
         warnings: Iterable[str] = ()) -> str:
    """A whole report: ``sections`` are (anchor, heading, HTML body); ``warnings`` (plain text)
    come first, in a box above every section."""
    nav = "".join(f"<a href=\"#{esc(anchor)}\">{esc(heading)}</a>" for anchor, heading, _ in sections)
    body = warnings_box(warnings) + "".join(f"<section id=\"{esc(anchor)}\"><h2>{esc(heading)}</h2>{content}</section>"
                   for anchor, heading, content in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<header><div class=\"inner\"><h1>{esc(title)}</h1><p class=\"meta\">{meta}</p><nav>{nav}</nav>"
            "</div></header>"
            f"<main>{body}</main><footer>{footer}</footer></body></html>\n")


# --------------------------------------------------------------------------------------------
# the scenario: key assumptions and sources
# --------------------------------------------------------------------------------------------
def duration_text(minutes: float) -> str:
    """Minutes in the largest whole unit: ``1 d``, ``12 h``, ``90 min``."""
    for size, unit in ((1440.0, "d"), (60.0, "h")):
        if minutes >= size and minutes % size == 0:
            return f"{minutes / size:g} {unit}"
    return format_minutes(minutes)


def rule_text(rule: HourRule) -> str:
    """A booth rule in words: ``3 booths 07:00–13:00, weekend, months 7, 8``."""
    parts = [f"{rule.booths} {'booth' if rule.booths == 1 else 'booths'}"]
    if tuple(rule.hours) != (0, 24):
        parts.append(f"{clock_text(rule.hours[0])}–{clock_text(rule.hours[1])}")
    if rule.days != "all":
        parts.append(rule.days if isinstance(rule.days, str) else " ".join(rule.days))
    if rule.months:
        parts.append("months " + ", ".join(str(m) for m in rule.months))
    if rule.from_date or rule.to_date:
        parts.append(f"{rule.from_date or '…'} to {rule.to_date or '…'}")
    return " ".join(parts[:1]) + (" " + ", ".join(parts[1:]) if parts[1:] else "")


def booths_text(booths: int | BoothSchedule) -> str:
    if isinstance(booths, int):
        return str(booths)
    return "; ".join([f"{booths.default} by default", *(rule_text(r) for r in booths.rules)])


def demand_peaks(weights: list[float]) -> str:
    """Arrival window and peak hours of an hour-weight profile, in words."""
    weights_array = np.asarray(weights, dtype=float)
    active = np.flatnonzero(weights_array > 0)
    peaks = peak_hours(weights)
    window = "arrivals around the clock" if len(active) == 24 else \
        f"arrivals {clock_text(active[0])}–{clock_text(active[-1] + 1)}"
    peak = ", ".join(f"{clock_text(a)}–{clock_text(b)}" for a, b in hour_spans(peaks))
    share = 100 * weights_array[peaks].sum() / weights_array.sum() if peaks else 0
    return window + (f"; peak {peak} ({share:.0f} % of the day)" if peaks else "")


def assumptions_section(scenario: Scenario) -> str:
    """What the scenario assumes: crossing, calendar, demand, classes, staffing, cargo."""
    crossing, calendar, demand = scenario.crossing, scenario.calendar, scenario.demand
    last_day = calendar.start_date + dt.timedelta(days=calendar.days - 1)
    opening = "24 h" if calendar.opening_hours == "24h" else \
        f"{calendar.opening_hours.open}–{calendar.opening_hours.close}"
    closed = ", ".join([*(str(d) for d in calendar.closed_dates), *calendar.closed_weekdays,
                        *(f"{h.country} {h.name}" for h in calendar.holidays if h.closed)]) or "none"
    seasons = "; ".join(
        f"×{s.factor:g} " + " ".join(filter(None, [
            ("months " + ", ".join(map(str, s.months))) if s.months else "",
            f"{s.from_date or '…'} to {s.to_date or '…'}" if (s.from_date or s.to_date) else ""]))
        for s in demand.seasonal_factors) or "none"
    parts = []
    if scenario.description:
        parts.append(f"<p>{esc(scenario.description.strip())}</p>")
    parts.append(facts([
        ("crossing", esc(f"{crossing.name} ({crossing.kz_post} / {crossing.cn_post}), "
                         f"{crossing.latitude:.2f}° N {crossing.longitude:.2f}° E")),
        ("days simulated", esc(f"{calendar.start_date} to {last_day} ({calendar.days} days, first "
                               f"{calendar.warmup_days} warm-up; then {duration_text(calendar.drain)} to drain)")),
        ("opening hours", esc(f"{opening}, {crossing.clock_label()}; closed: {closed}")),
        ("demand", esc(f"{demand.daily_volume:,.0f} " + ("arrivals a day (entities" if demand.counts == "entities" else
                       f"{demand.counts} a day ({demand.entities_per_day(scenario.classes):,.0f} entities")
                       + ", both directions) at factor 1; "
                       + demand_peaks(demand.hour_weights))),
        ("weekday factors", esc(", ".join(f"{d} {f:g}" for d, f in zip(WEEKDAYS, demand.weekday_factors)))),
        ("seasonal factors", esc(seasons)),
        ("green channel", "on" if scenario.green_channel.enabled else "<strong>off</strong>"),
    ]))
    if crossing.notes:
        parts.append(f"<p class=\"note\">{esc(crossing.notes.strip())}</p>")
    parts.append("<h3>Traveler classes</h3>")
    parts.append(table(
        ["class", "share", "≈ per day", "directions (KZ→CN / CN→KZ)", "group size", "green share", "cargo"],
        [[esc(name), number(c.share, 2), number(c.share * demand.daily_volume, 0),
          esc(" / ".join(f"{c.directions.get(d, 0):g}" for d in ("KZ_to_CN", "CN_to_KZ"))),
          esc(c.group_size if isinstance(c.group_size, int) else f"{c.group_size.min}–{c.group_size.max}"),
          number(c.green_channel_share, 2), "yes" if c.cargo else ""]
         for name, c in scenario.classes.items()]))
    parts.append("<h3>Stages and booths</h3>")
    rows: list[list[str] | str] = []
    for stage_name, stage in scenario.stages.items():
        rows.append(esc(f"{stage_name} · {stage.side} side" + (" · secondary inspection" if stage.kind == "secondary"
                                                                 else "")))
        rows += [[esc(pool_name) + (f" <span class=\"note\">({esc(pool.green_channel)} green channel)</span>"
                                    if pool.green_channel != "none" else ""),
                  esc(", ".join(pool.serves)), esc(booths_text(pool.booths))]
                 for pool_name, pool in stage.pools.items()]
    parts.append(table(["pool", "serves", "open booths"], rows, text_columns=[0, 1, 2]))
    routes = "; ".join(f"{esc(d.replace('_to_', '→'))}: {esc(' → '.join(stages))}"
                       for d, stages in scenario.routes.items())
    parts.append(f"<p class=\"note\">Routes: {routes}</p>")
    if scenario.cargo is not None:
        cargo = scenario.cargo
        parts.append("<h3>Cargo gate (electronic queue)</h3>")
        parts.append(facts([
            ("daily release quota", esc(", ".join(f"{d}: {n}" for d, n in cargo.daily_release_quota.items()))),
            ("accepted per day", esc(", ".join(f"{d}: {n}" for d, n in cargo.accepted_per_day.items()) or "no limit")),
            ("release hours", esc(f"{clock_text(cargo.release_hours[0])}–{clock_text(cargo.release_hours[1])}")),
            ("initial backlog", esc(", ".join(f"{d}: {n}" for d, n in cargo.initial_backlog.items()) or "none")),
        ]))
    return "".join(parts)


def short_duration(minutes: float) -> str:
    """A duration as a planner writes it: ``40 s``, ``2.5 min``, ``90 min``, ``3 h``, ``2 d``."""
    seconds = 60.0 * minutes
    if minutes < 2:
        return f"{round(seconds)} s" if abs(seconds - round(seconds)) < 1e-6 else f"{seconds:.3g} s"
    if minutes < 120:
        return f"{minutes:.4g} min"
    return f"{minutes / 60:.4g} h" if minutes < 2880 else f"{minutes / 1440:.4g} d"


def share_text(probability: float) -> str:
    """A probability as a percentage: ``3 %``, ``12.5 %``."""
    return f"{100 * probability:.4g} %"


def distribution_text(dist: Distribution) -> str:
    """A service-time distribution in words: ``lognormal, mean 40 s, cv 0.6``, ``fixed 2 min``."""
    if isinstance(dist, Deterministic):
        return f"fixed {short_duration(dist.value)}"
    if isinstance(dist, Empirical):
        weights = f" (weights {', '.join(f'{w:g}' for w in dist.weights)})" if dist.weights else ""
        return f"empirical: {', '.join(short_duration(v) for v in dist.values)}{weights}"
    text = f"{dist.dist}, mean {short_duration(dist.mean)}"
    return text + (f", cv {dist.cv:g}" if isinstance(dist, (LogNormal, Gamma)) else "")


def service_section(scenario: Scenario) -> str:
    """Every service time and inspection probability of the scenario: per stage and class the
    service-time distribution, the share that visits the stage (secondary inspection), each
    extra check's probability and duration, and the classes checked person by person."""
    rows: list[list[str] | str] = []
    for stage_name, stage in scenario.stages.items():
        per_person = (f" · checked person by person: {', '.join(stage.per_person)}" if stage.per_person else "")
        rows.append(esc(f"{stage_name} · {stage.side} side · {stage.kind}{per_person}"))
        classes = list(dict.fromkeys([*stage.service_time, *stage.visit_probability]))
        for name in classes:
            checks = [f"{check_name}: {share_text(check.probability[name])} × {distribution_text(check.service_time)}"
                      for check_name, check in stage.extra_checks.items() if name in check.probability]
            service = stage.service_time.get(name)
            rows.append([esc(name) + (" <span class=\"note\">(each person)</span>" if name in stage.per_person else ""),
                         esc(distribution_text(service)) if service is not None else "–",
                         esc(share_text(stage.visit_probability.get(name, 1.0))),
                         "<br>".join(esc(c) for c in checks) or "–"])
    return ("<p class=\"note\">Service time per visit at a booth, by stage and class; visits: the share of the "
            "class's travelers on the route who are sent to the stage (100 % unless the scenario says otherwise); "
            "extra checks: a further check at the same booth with that probability and duration.</p>" +
            table(["class", "service time", "visits", "extra checks"], rows, text_columns=[1, 3]))


def sources_section(scenario: Scenario) -> str:
    """The scenario's sources, as written in ``crossing.sources``."""
    if not scenario.crossing.sources:
        return "<p class=\"note\">The scenario lists no sources.</p>"
    return "<ol class=\"sources\">" + "".join(f"<li>{esc(s)}</li>" for s in scenario.crossing.sources) + "</ol>"


# --------------------------------------------------------------------------------------------
# headline tables
# --------------------------------------------------------------------------------------------
def _summary_index(summary: pd.DataFrame) -> pd.DataFrame:
    return summary.drop_duplicates(["group", "metric"]).set_index(["group", "metric"])


def estimate_cell(index: pd.DataFrame, group: str, metric: str) -> str:
    """One (group, metric) of a summary indexed by group and metric, as an escaped table cell
    (digits and percent from the catalogue)."""
    if (group, metric) not in index.index:
        return "–"
    row = index.loc[(group, metric)]
    return esc(format_estimate(metric, row["mean"], row["ci_low"], row["ci_high"]))


def present_metrics(index: pd.DataFrame, groups: list[str], metrics: list[str]) -> list[str]:
    """The ``metrics`` that some of ``groups`` has in the indexed summary (absent ones get no column)."""
    return [m for m in metrics if any((g, m) in index.index for g in groups)]


def metric_table(summary: pd.DataFrame, groups: list[str], metrics: list[str], key: str, names) -> str:
    """One row per group (its name from ``names(group)``), one column per present metric."""
    index = _summary_index(summary)
    shown = present_metrics(index, groups, metrics)
    return table([key, *(catalogue.label(m) for m in shown)],
                 [[esc(names(g)), *(estimate_cell(index, g, m) for m in shown)] for g in groups])


def headline_table(summary: pd.DataFrame) -> str:
    """Everyone, each class, direction and day type: throughput, waits (the peak-hour wait and,
    for cargo classes, the cargo backlog time beside them), service level, those still inside."""
    groups = of_kinds(summary["group"], *(k for k in KINDS if k != "stage"))
    summary = summary[[shown(group, metric) for group, metric in zip(summary["group"], summary["metric"])]]
    return metric_table(summary, groups, HEADLINE_METRICS, "group", group_label)


def stage_table(summary: pd.DataFrame) -> str:
    """Each stage: utilization, waits and queues (throughput: services ended per day)."""
    return metric_table(summary, of_kinds(summary["group"], "stage"), STAGE_METRICS, "stage",
                        lambda g: Group.parse(g).value)


def leaving_paragraph(summary: pd.DataFrame) -> str:
    """The headline's first line in a run with impatience: how many a day were lost or deferred
    (empty otherwise)."""
    sentence = leaving_sentence(_summary_index(summary))
    return f"<p><strong>{esc(sentence)}</strong></p>" if sentence else ""


def _run_facts(info: dict) -> str:
    keys = [("replications", "replications"), ("seed", "seed"), ("workers", "worker processes"),
            ("wall_time_s", "wall time (s)"), ("package_version", "checkpoint-sim version"), ("command", "command")]
    return facts((label, f"<code>{esc(info[key])}</code>" if key == "command" else esc(info[key]))
                 for key, label in keys if info.get(key) not in (None, ""))


HEADLINE_NOTE = ("<p class=\"note\">Means over replications ± the half-width of their 95 % confidence "
                 "interval. Waits are total checkpoint waits in minutes of those arriving on measured days "
                 "(warm-up excluded); the peak-hour wait is that of arrivals in the demand peak hours. Cargo "
                 "backlog time (the electronic queue before the checkpoint) is not a wait: it is shown beside "
                 "it. Those still inside at the end are counted apart, with their wait so far.</p>")


# --------------------------------------------------------------------------------------------
# the three reports
# --------------------------------------------------------------------------------------------
def run_warnings(summary: pd.DataFrame, info: dict) -> list[str]:
    """What the reader must see first: the run's warnings (``info["warnings"]``; for a folder
    written before runs kept them, the travellers still inside, from the summary)."""
    if "warnings" in info:
        return [str(w) for w in info["warnings"] or []]
    return unfinished_warnings(summary)


def run_report(results: "Results", images: dict[str, tuple[bytes, str]]) -> str:
    """The report of one run: headline tables, figures, assumptions, sources, run facts."""
    scenario, info = results.scenario, results.info
    sections = [
        ("headline", "Headline numbers", leaving_paragraph(results.summary) + HEADLINE_NOTE +
         headline_table(results.summary) +
         "<h3>Stages</h3>" + stage_table(results.summary)),
        ("figures", "Figures", figures_section(images)),
        ("assumptions", "Scenario and key assumptions", assumptions_section(scenario)),
        ("service", "Service times and inspections", service_section(scenario)),
        ("sources", "Sources", sources_section(scenario)),
        ("run", "Run", _run_facts(info)),
    ]
    sections[1:1] = rail_sections(results.summary)          # the rail model's section, if any
    meta = esc(f"scenario {scenario.name} · {info.get('replications', '?')} replications · seed "
               f"{info.get('seed', '?')} · checkpoint-sim {info.get('package_version', '')}")
    return page(f"{scenario.crossing.name}: simulation report", meta, sections,
                footer="Written by checkpoint-sim. Reproduce with <code>checkpoint-sim run scenario.resolved.yaml "
                       f"--seed {esc(info.get('seed', ''))} --replications {esc(info.get('replications', ''))}</code>.",
                warnings=run_warnings(results.summary, info))


def sweep_table_html(table_: pd.DataFrame, parameters: list[str]) -> str:
    """One row per point: its parameters and the headline numbers of everyone."""
    everyone = table_[table_["group"] == "all"]
    columns = present_metrics(_summary_index(everyone), ["all"], SWEEP_METRICS)
    rows = []
    for point, part in everyone.groupby("point", sort=False):
        index, first = _summary_index(part), part.iloc[0]
        rows.append([esc(point), *(esc(first[p]) for p in parameters), esc(first["replications"]),
                     *(estimate_cell(index, "all", m) for m in columns)])
    return table(["point", *parameters, "replications", *(catalogue.label(m) for m in columns)], rows)


def sweep_report(table_: pd.DataFrame, base: Scenario | None, images: dict[str, tuple[bytes, str]],
                 manifest: dict | None = None) -> str:
    """The report of a sweep: one row per point, the sweep figures, the base scenario."""
    parameters = sweep_parameters(table_) if not table_.empty else []
    manifest = manifest or {}
    name = base.crossing.name if base is not None else Path(str(manifest.get("sweep_file", "sweep"))).stem
    sections = [("points", "Points", HEADLINE_NOTE.replace("Waits are", "Everyone's numbers. Waits are") +
                 (sweep_table_html(table_, parameters) if not table_.empty else "<p>No finished point.</p>")),
                ("figures", "Figures", figures_section(images))]
    if base is not None:
        sections += [("assumptions", "Base scenario and key assumptions", assumptions_section(base)),
                     ("service", "Service times and inspections (base)", service_section(base)),
                     ("sources", "Sources", sources_section(base))]
    points = table_["point"].nunique() if not table_.empty else 0
    meta = esc(f"sweep {Path(str(manifest.get('sweep_file', ''))).name or ''} · {points} points · varying "
               f"{', '.join(parameters) or 'nothing'}")
    return page(f"{name}: sweep report", meta, sections,
                footer=f"Written by checkpoint-sim {esc(manifest.get('package_version', ''))}. Points are paired "
                       "(common random numbers): every point uses the same seed.")


def sweep_caption(file_name: str, metric: str = SWEEP_TARGET[0], target: float | None = SWEEP_TARGET[1]) -> str:
    """The caption of a standard sweep figure, from its file name and the heatmap's ``metric``
    and ``target`` (whose direction, lower or higher is better, comes from the catalogue)."""
    if file_name == "sweep_heatmap.png":
        entry = catalogue.METRICS.get(metric)
        text = f"{catalogue.label(metric)} (everyone) over two varying parameters (a third as panels)"
        if target is None or entry is None or entry.better == "neutral":
            return text + "; no target is marked (the metric has no better direction)." if target is not None \
                else text + "."
        return (text + f": green cells meet the target of {catalogue.format_value(metric, target)} ({entry.better} "
                "is better), red cells miss it; the dashed line is the target level, interpolated between cells.")
    shown, _, parameter = file_name.removeprefix("sweep_").removesuffix(".png").partition("_vs_")
    return (f"{catalogue.label(shown)} of everyone against {parameter}, with 95 % confidence bands (the axis "
            "follows the means; wider bands are clipped and marked ▲).")


def _significant(text: str, low: float, high: float) -> str:
    """``text`` escaped, in bold when the confidence interval [low, high] excludes 0."""
    return f"<strong>{esc(text)}</strong>" if low > 0 or high < 0 else esc(text)


def comparison_report(comparison: Comparison, images: dict[str, tuple[bytes, str]]) -> str:
    """The report of a comparison: verdicts, paired differences, side-by-side numbers, figure,
    what differs between the scenarios, and the base scenario's assumptions and sources."""
    base, variants = comparison.scenarios[0], comparison.scenarios[1:]
    differences = comparison.differences
    info = comparison.info
    verdicts = "".join(
        f"<h3>{esc(variant.name)} vs {esc(base.name)}</h3>" +
        (f"<p class=\"note\">{esc(variant.description.strip())}</p>" if variant.description else "") +
        "<ul class=\"verdicts\">" +
        "".join(f"<li>{esc(line)}</li>" for line in comparison.verdicts(variant.name)) + "</ul>"
        for variant in variants)
    shown = differences[differences["group"].isin(of_kinds(differences["group"], *VERDICT_KINDS))]
    paired_tables = ""
    for variant in variants:
        rows: list[list[str] | str] = []
        for metric, part in shown[shown["scenario"] == variant.name].groupby("metric", sort=False):
            rows.append(esc(catalogue.phrase(metric)))
            rows += [[esc(group_label(r.group)),
                      _significant(format_change(metric, r.difference, "+", r.ci_low, r.ci_high), r.ci_low, r.ci_high),
                      esc(format_change(metric, r.base_mean, "")), esc(format_change(metric, r.variant_mean, ""))]
                     for r in part.itertuples()]
        paired_tables += (f"<h3>{esc(variant.name)} − {esc(base.name)}</h3>" +
                          table(["group", "difference [95 % CI]", base.name, variant.name], rows))
    all_rows = [[esc(r.group), esc(r.scenario), esc(catalogue.label(r.metric)),
                 *(esc(level(r.metric, v)) for v in (r.base_mean, r.variant_mean, r.difference, r.ci_low, r.ci_high))]
                for r in differences.itertuples()]
    differences_html = (
        "<p class=\"note\">Paired over replications with common random numbers (replication <i>r</i> of every "
        "scenario draws from the same random streams): difference = variant − base, mean and 95 % "
        "confidence interval; in bold where the interval excludes 0.</p>" +
        paired_tables +
        "<details><summary>Every group and metric (as in compare.csv)</summary>" +
        table(["group", "scenario", "metric", "base mean", "variant mean", "difference", "ci low", "ci high"],
              all_rows) + "</details>")
    side_by_side = "".join(f"<h3>{esc(s.name)}{' (base)' if s is base else ''}</h3>" +
                           headline_table(comparison.summary[comparison.summary["scenario"] == s.name])
                           for s in comparison.scenarios)
    changed = "".join(
        f"<h3>{esc(variant.name)} vs {esc(base.name)}</h3>" +
        (table(["field", "base", "variant"],
               [[f"<code>{esc(path)}</code>", esc(a), esc(b)] for path, a, b in scenario_differences(base, variant)],
               text_columns=[1, 2]) or "")
        for variant in variants)
    sections = [
        ("verdict", "Verdict", verdicts + (f"<p class=\"note\">{esc(comparison.skipped_note())}</p>"
                                           if comparison.skipped_note() else "")),
        ("differences", "Paired differences", differences_html),
        ("figures", "Figure", figures_section(images)),
        ("side-by-side", "Each scenario", HEADLINE_NOTE + side_by_side),
        ("changes", "What the variants change", changed),
        ("assumptions", "Base scenario and key assumptions", assumptions_section(base)),
        ("service", "Service times and inspections (base)", service_section(base)),
        ("sources", "Sources", sources_section(base) + "".join(
            f"<h3>{esc(v.name)}</h3>" + sources_section(v) for v in variants
            if v.crossing.sources != base.crossing.sources)),
        ("run", "Run", _run_facts(info)),
    ]
    meta = esc(f"{base.name} (base) vs {', '.join(v.name for v in variants)} · {info.get('replications')} "
               f"paired replications · seed {info.get('seed')}")
    return page(f"{base.crossing.name}: scenario comparison", meta, sections,
                footer="Written by checkpoint-sim. Reproduce with <code>" + esc(info.get("command", "")) + "</code>.",
                warnings=[str(w) for w in info.get("warnings") or []])


def calibration_report(result: CalibrationResult, command: str, when: dt.datetime, scenario_out: Path | None,
                       images: dict[str, tuple[bytes, str]], version: str = "") -> str:
    """The report of a calibration: the fit, the free parameters, each target against its band
    and source (fit run, and check run if any), the figure."""
    scenario = result.scenario
    missed = [name for name in result.calibration.targets if not result.met(name)]
    verdict = ("<p><strong>All targets met.</strong></p>" if not missed else
               f"<p><strong>NOT MET: {esc(', '.join(missed))}.</strong> The values below are the closest fit "
               "within the bounds; the targets cannot all be reproduced with these free parameters.</p>")
    summary = (verdict + f"<p>{esc(describe_run(result))} Wall time {esc(result.info.get('wall_time_s', ''))} s.</p>" +
               facts([("command", f"<code>{esc(command)}</code>"),
                      ("written", esc(f"{when:%Y-%m-%d %H:%M} UTC")),
                      *([("calibrated scenario", f"<code>{esc(scenario_out)}</code>")] if scenario_out is not None
                        else [])]))
    parameters = table(["parameter", "start", "fitted", "bounds", "why free"],
                       [[f"<code>{esc(label)}</code>", esc(start), esc(fitted), esc(bounds), esc(p.spec.source)]
                        for (label, start, fitted, bounds), p in zip(parameter_lines(result), result.parameters)],
                       text_columns=[4])
    targets = ""
    for run, evaluation in [("fit", result.fit)] + ([("check", result.check)] if result.check else []):
        rows = [[esc(name), esc(what), esc(band), esc(achieved),
                 f"<strong>{esc(verdict_)}</strong>" if verdict_ != "met" else esc(verdict_), esc(target.source)]
                for (name, what, band, achieved, verdict_), target in zip(target_lines(result, evaluation),
                                                                          result.calibration.targets.values())]
        targets += (f"<h3>{esc(run)} run: {esc(evaluation.replications)} replications, {esc(evaluation.days)} days</h3>" +
                    table(["target", "measure", "band", "achieved, mean [95 % CI]", "verdict", "source"], rows,
                          text_columns=[1, 5]))
    if note := uninformative_note(result):
        targets += f"<p><strong>{esc(note)}</strong></p>"
    response = [[esc(name), esc("yes" if result.informative(name) else "no: met at every candidate"),
                 *(esc(format_value(value, unit_of(target))) for value in result.demand_response(name))]
                for name, target in result.calibration.targets.items()]
    targets += ("<h3>Informative targets and demand +-10 %</h3>" +
                table(["target", "informative", "at -10 % demand", "at +10 % demand"], response, text_columns=[1]))
    sensitivity = ("<p>Each free parameter moved by 10 % of its range (1 for whole numbers) down and up around the "
                   "fit, within its bounds, and demand by -10 % and +10 %; targets measured with the fit's "
                   "replications and seed (common random numbers).</p>" +
                   table(list(SENSITIVITY_HEADER), [[esc(cell) for cell in line] for line in sensitivity_lines(result)],
                         text_columns=[0, 1]) if result.sensitivity else
                   "<p>Not measured (fit.sensitivity: false).</p>")
    sections = [("summary", "Result", summary),
                ("parameters", "Free parameters", parameters),
                ("targets", "Targets", targets),
                ("sensitivity", "Sensitivity", sensitivity),
                ("figures", "Figure", figures_section(images)),
                ("assumptions", "Scenario and key assumptions", assumptions_section(scenario)),
                ("sources", "Sources", sources_section(scenario))]
    meta = esc(f"scenario {scenario.name} · {result.info.get('evaluations', '?')} evaluations · seed "
               f"{result.info.get('seed', '?')} · checkpoint-sim {version}")
    return page(f"{scenario.crossing.name}: calibration of {scenario.name}", meta, sections,
                footer="Written by checkpoint-sim. Reproduce with <code>" + esc(command) + "</code>.")


VALIDATION_NOTE = (
    "Each case is simulated with independent replications (warm-up day dropped; the time-varying day starts "
    "empty, like its reference). The CI is the 95 % t interval of the simulated mean across replications. A check "
    "passes when the reference lies inside the interval widened to a Bonferroni-adjusted level over all {checks} "
    "checks (family-wise 95 %), so a correct engine passes the whole suite 95 % of the time. The last row checks "
    "the intervals themselves: over independent repetitions, the share of 95 % CIs that contain the exact mean "
    "wait must lie in 92-98 %.")
VALIDATION_REFERENCES = (
    "Erlang C and Little's law (Gross et al., Fundamentals of Queueing Theory, 2008); Cobham (1954) for "
    "non-preemptive priorities; Pollaczek–Khinchine for M/G/1; Jackson (1957) for stages in series; the "
    "M(t)/M/c(t) reference solves the forward equations of the birth-death chain "
    "(sim.analytic.transient_mmc_queue_length).")


def validation_report(table_: pd.DataFrame, command: str, reduced: bool, when: dt.date, version: str = "") -> str:
    """The report of the validation suite: every case, its reference, the simulated mean with its
    CI and pass/fail (a ``validation.csv`` table)."""
    passed = int(table_["passed"].sum())
    suite = "reduced suite" if reduced else "full suite"
    rows = [[esc(r.case), esc(r.quantity), esc(f"{r.reference:.4g} ({r.reference_kind})"), esc(f"{r.sim_mean:.4g}"),
             esc(f"[{r.ci_low:.4g}, {r.ci_high:.4g}]"), esc(r.replications),
             "pass" if r.passed else "<strong>FAIL</strong>"] for r in table_.itertuples()]
    sections = [("result", "Result",
                 f"<p><strong>{passed} of {len(table_)} checks pass</strong> ({esc(suite)}).</p>" +
                 f"<p class=\"note\">{esc(VALIDATION_NOTE.format(checks=len(table_) - 1))}</p>" +
                 facts([("command", f"<code>{esc(command)}</code>"), ("date", esc(when.isoformat()))])),
                ("checks", "Checks", table(["case", "quantity", "reference", "simulated mean", "95 % CI", "reps",
                                            "result"], rows, text_columns=[0, 1, 2])),
                ("references", "References", f"<p>{esc(VALIDATION_REFERENCES)}</p>")]
    meta = esc(f"{suite} · {passed} of {len(table_)} checks pass · checkpoint-sim {version}")
    return page("Validation against queueing theory", meta, sections,
                footer="Written by checkpoint-sim. Reproduce with <code>" + esc(command) + "</code>.")


# --------------------------------------------------------------------------------------------
# a staffing plan (sim.staffing_planner)
# --------------------------------------------------------------------------------------------
def staffing_report(result: Any, tables: dict[str, pd.DataFrame], command: str, when: dt.datetime,
                    scenario_out: Path | None, images: dict[str, tuple[bytes, str]], version: str = "") -> str:
    """The report of a staffing plan: the outcome, booth-hours per pool before and after, each
    target's checks with their CIs, the binding constraint per pool and block, the figures."""
    plan, info = result.plan, result.info
    outcome = {"optimal": "every target met, and no single booth can be removed without missing one",
               "budget": "stopped at the evaluation budget (search.max_evaluations): the roster shown is the "
                         "best one found that meets every target, not proven minimal",
               "infeasible": "NO roster meets every target under the constraints: a missed target has every "
                             "pool of its travellers at its lanes (max)"}[result.outcome]
    hours = tables["booth_hours"]
    total = hours[hours["pool"] == "total"].iloc[0]
    summary = (f"<p><strong>{esc(outcome)}.</strong></p>" +
               facts([("command", f"<code>{esc(command)}</code>"),
                      ("written", esc(f"{when:%Y-%m-%d %H:%M} UTC")),
                      ("booth-hours per day (free pools)", esc(f"{total.before:.1f} before, {total.after:.1f} after")),
                      ("search", esc(f"{info.get('evaluations')} rosters, {info.get('replications_simulated')} "
                                     f"replications simulated (the search on {info.get('search_days')} days; the "
                                     f"roster as written and the final check on the scenario's calendar), "
                                     f"wall time {info.get('wall_time_s')} s")),
                      *([("roster scenario", f"<code>{esc(scenario_out)}</code>")] if scenario_out else [])]))
    booth_rows = [[esc(r.pool), number(r.before), number(r.after), number(r.change),
                   number(r.cost_per_booth_hour, 2)] for r in hours.itertuples()]
    service = tables["service"]
    target_rows = []
    for name, target in plan.spec.targets.items():
        for roster in ("before", "after"):
            mine = service[(service["target"] == name) & (service["roster"] == roster)]
            if mine.empty:
                continue
            worst = mine.loc[(mine["ci_low"] if target.higher_is_better else -mine["ci_high"]).idxmin()]
            met = int((mine["status"] == "met").sum())
            where = "day" if worst.hour < 0 else f"{int(worst.hour):02d} h"
            target_rows.append([esc(name), esc(target.describe()), esc(roster),
                                esc(f"{met} of {len(mine)}"),
                                esc(f"{worst['mean']:.3g} [{worst.ci_low:.3g}, {worst.ci_high:.3g}] "
                                    f"({worst.day_type}, {where})"), esc(target.source)])
    binding = tables["binding"]
    binding_rows = [[esc(r.pool), esc(r.day_type), esc(f"{r.from_hour:02d}-{r.to_hour:02d} h"), esc(r.booths_before),
                     esc(r.booths_start), esc(r.booths_after), esc(r.binding)] for r in binding.itertuples()]
    sections = [("summary", "Result", summary),
                ("booth-hours", "Booth-hours per day", table(["pool", "before", "after", "change", "cost per booth-hour"],
                                                            booth_rows)),
                ("targets", "Service levels (worst check, mean [95 % CI])",
                 table(["target", "what", "roster", "checks met", "worst check", "source"], target_rows,
                       text_columns=[1, 4, 5])),
                ("binding", "Booths per block and the binding constraint",
                 table(["pool", "days", "hours", "before", "theory start", "after", "binding"], binding_rows,
                       text_columns=[6])),
                ("figures", "Figures", figures_section(images)),
                ("assumptions", "Scenario and key assumptions", assumptions_section(plan.scenario)),
                ("sources", "Sources", sources_section(plan.scenario))]
    meta = esc(f"scenario {plan.scenario.name} · seed {plan.seed} · checkpoint-sim {version}")
    return page(f"{plan.scenario.crossing.name}: staffing plan for {plan.scenario.name}", meta, sections,
                footer="Written by checkpoint-sim. Reproduce with <code>" + esc(command) + "</code>.")


# --------------------------------------------------------------------------------------------
# the rail model (issue 14)
# --------------------------------------------------------------------------------------------
RAIL_NOTE = ("<p class=\"note\">Trains of the rail block. Dwell: hours from a train's arrival at its first "
             "border station (waiting outside included) to leaving its last. Waits outside: for a free track of a "
             "full station; interchange: on its track for the day's quota of trains handed over. The binding "
             "constraint is what trains waited longest for on average.</p>")


def rail_sections(summary: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The report's "Rail" section (trains by direction, station stages, binding constraint); none without rail."""
    if not has_rail(summary):
        return []
    groups = [g for g in of_kinds(summary["group"], "all", "direction")
              if ((summary["group"] == g) & (summary["metric"] == "rail_trains_per_day")).any()]
    html = RAIL_NOTE + metric_table(summary, groups, TRAIN_METRICS, "trains", group_label)
    html += "<h3>Station stages</h3>" + metric_table(summary, station_stage_groups(summary), STATION_METRICS,
                                                     "stage", lambda g: Group.parse(g).value)
    binding = binding_constraint(summary)
    if binding is not None:
        html += (f"<p>Binding constraint: <strong>{esc(binding.what)}</strong> (trains wait {binding.hours:.2f} h "
                 "there on average).</p>")
    return [("rail", "Rail", html)]
