"""report.html in a real browser: on a 390 px phone and a 1366 px laptop the page never scrolls
sideways, no table is wider than its box, no table cell is off-screen, and every figure loads.

Headless Debian chromium renders a copy of each report with a small script added (the reports
themselves have none), in an iframe of exactly the width under test (a headless window is at
least 500 px wide); the script posts its measurements to the outer page, which writes them into
its DOM, and ``--dump-dom`` prints that. CI installs chromium (.ci/run); without it the tests are
skipped.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from conftest import small_scenario

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

WIDTHS = (390, 1366)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]

# opens every <details>, measures the layout once the page (and its images) has loaded, and
# posts the numbers as JSON to the outer page
MEASURE = """<script>
window.addEventListener('load', function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  var width = window.innerWidth, slack = 1;
  var tables = Array.prototype.map.call(document.querySelectorAll('table'), function (t) {
    var box = t.parentElement, cells = t.querySelectorAll('td, th');
    var offscreen = Array.prototype.filter.call(cells, function (c) {
      var r = c.getBoundingClientRect(); return r.width > 0 && (r.right > width + slack || r.left < -slack);
    }).map(function (c) { return c.textContent.slice(0, 40); });
    return {section: (t.closest('section') || {}).id || '', scroll: t.scrollWidth, client: t.clientWidth,
            width: t.getBoundingClientRect().width, box: box.clientWidth, boxScroll: box.scrollWidth,
            offscreen: offscreen};
  });
  var images = Array.prototype.map.call(document.images, function (i) {
    var r = i.getBoundingClientRect();
    return {natural: i.naturalWidth, complete: i.complete, right: r.right, left: r.left};
  });
  var out = {width: width, page: document.documentElement.scrollWidth, tables: tables, images: images};
  parent.postMessage(JSON.stringify(out), '*');
});
</script>"""

# the page chromium opens: the report in an iframe of the width under test
OUTER = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe src="{src}" style="border:0;width:{width}px;height:900px"></iframe>
<script>
window.addEventListener('message', function (event) {{
  var pre = document.createElement('pre'); pre.id = 'measurements'; pre.textContent = event.data;
  document.body.appendChild(pre);
}});
</script></body></html>"""


def measure(report: Path, width: int) -> dict:
    """Render ``report`` at ``width`` px in headless chromium and return the script's measurements."""
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "page.html"
        page.write_text(report.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
        outer = Path(scratch) / "outer.html"
        outer.write_text(OUTER.format(src=page.name, width=width), encoding="utf-8")
        profile = Path(scratch) / "profile"
        completed = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={max(width, 500) + 40},1000",
             "--virtual-time-budget=10000", "--dump-dom", outer.as_uri()],
            capture_output=True, text=True, timeout=180)
    dom = completed.stdout
    start = dom.find('<pre id="measurements"')
    assert start >= 0, f"chromium gave no measurements (exit {completed.returncode}): {completed.stderr[-2000:]}"
    text = dom[dom.index(">", start) + 1:dom.index("</pre>", start)]
    return json.loads(text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&"))


def assert_fits(report: Path, images: int) -> None:
    """The layout checks at every width of ``WIDTHS``."""
    for width in WIDTHS:
        found = measure(report, width)
        where = f"{report.parent.name} at {width} px"
        assert found["width"] == width, where
        assert found["page"] <= width, f"{where}: the page scrolls sideways ({found['page']} px wide)"
        assert found["tables"], where
        for table in found["tables"]:
            assert table["scroll"] <= table["client"] + 1, f"{where}: a table of #{table['section']} scrolls"
            assert table["width"] <= table["box"] + 1 and table["boxScroll"] <= table["box"] + 1, \
                f"{where}: a table of #{table['section']} is wider than its box ({table['width']} > {table['box']})"
            assert not table["offscreen"], f"{where}: cells of #{table['section']} off-screen: {table['offscreen'][:5]}"
        assert len(found["images"]) == images, where
        for image in found["images"]:
            assert image["complete"] and image["natural"] > 0, f"{where}: a figure did not load"
            assert image["left"] >= 0 and image["right"] <= width + 1, f"{where}: a figure is wider than the page"


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A small run, a sweep over variants x two long dotted grid fields, and a comparison."""
    root = tmp_path_factory.mktemp("browser")
    data = small_scenario()
    data["crossing"]["sources"] = ["A rather long source line that has to wrap on a phone: " + "word " * 30]
    (root / "small.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    (root / "busier.yaml").write_text("extends: small.yaml\nname: busier\ndemand: {daily_volume: 750}\n",
                                      encoding="utf-8")
    sweep = {"base": "small.yaml", "replications": 2, "seed": 5,
             "variants": {"quiet_days": {"demand.daily_volume": 450}, "busy_days": {"demand.daily_volume": 750}},
             "grid": {"stages.passport.pools.foot.booths": [2, 3], "stages.customs.pools.all.booths": [2, 3]}}
    (root / "sweep.yaml").write_text(yaml.safe_dump(sweep), encoding="utf-8")
    out = {"run": root / "run", "sweep": root / "sweep", "compare": root / "compare"}
    assert main(["run", str(root / "small.yaml"), "--out", str(out["run"]), "--replications", "2",
                 "--workers", "1"]) == 0
    assert main(["sweep", str(root / "sweep.yaml"), "--out", str(out["sweep"]), "--workers", "1"]) == 0
    assert main(["compare", str(root / "small.yaml"), str(root / "busier.yaml"), "--replications", "2",
                 "--workers", "1", "--out", str(out["compare"])]) == 0
    return out


def test_run_report_fits_a_phone_and_a_laptop(folders):
    folder = folders["run"]
    assert_fits(folder / "report.html", images=len(list(folder.glob("*.png"))))


def test_sweep_report_fits_a_phone_and_a_laptop(folders):
    folder = folders["sweep"]
    assert_fits(folder / "report.html", images=len(list(folder.glob("sweep_*.png"))))


def test_comparison_report_fits_a_phone_and_a_laptop(folders):
    assert_fits(folders["compare"] / "report.html", images=1)
