"""The HTML report (`loglake report`) drawn by headless Chromium: the page
template with the sample document, with an empty one and with awkward ones,
and end to end from a generated lake with its injected incidents.

Chromium prints the page's console to stderr (`--enable-logging=stderr`),
and the page itself records uncaught errors, failed loads and console.error
calls in <pre id="report-errors">: both must stay clean. `make test` installs
Chromium (Debian's `chromium`) when none is on PATH; without one these tests
fail, unless LOGLAKE_SKIP_BROWSER=1 opts out of them."""
import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "crates" / "cli" / "src" / "report" / "template.html"
SAMPLE = ROOT / "tests" / "report_sample.json"
# What `loglake report` replaces with the JSON document (every `<` escaped).
PLACEHOLDER = "/*LOGLAKE_REPORT_DATA*/null"
BIN = os.environ.get("LOGLAKE_BIN", "target/release/loglake")
CHARTS = ["chart-levels", "chart-error-rate", "chart-p95", "chart-status"]
CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome"]


def build_page(data, path):
    """The page as `loglake report` writes it: the template with the document in place."""
    template = TEMPLATE.read_text(encoding="utf-8")
    assert template.count(PLACEHOLDER) == 1
    path.write_text(template.replace(PLACEHOLDER, json.dumps(data).replace("<", "\\u003c")), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def chromium():
    if os.environ.get("LOGLAKE_SKIP_BROWSER") == "1":
        pytest.skip("LOGLAKE_SKIP_BROWSER=1: the report's browser tests are off")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"no Chromium on PATH ({', '.join(CHROMIUM_NAMES)}): run `make test`, which installs it "
                "(or LOGLAKE_SKIP_BROWSER=1 to leave the report's browser tests out)", pytrace=False)


def run_chromium(chromium, page, *args, attempts=3):
    """Chromium's run on the page. A browser killed by a signal (headless
    Chromium now and then crashes while starting on a loaded two-core
    machine: SIGSEGV, SIGTRAP) is started again, at most `attempts` times;
    anything the page itself does wrong shows in its console and DOM, never
    as a signal, and a non-zero exit fails at once."""
    for attempt in range(1, attempts + 1):
        profile = tempfile.mkdtemp(prefix="chromium-", dir=page.parent)
        try:
            out = subprocess.run(
                [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0",
                 *args, page.resolve().as_uri()],
                capture_output=True, text=True, timeout=180)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        if out.returncode < 0 and attempt < attempts:
            continue
        out.check_returncode()
        return out


# A console line: "[pid:tid:date/time:INFO:CONSOLE:12] "message", source: file:///... (12)"
# (older builds: "INFO:CONSOLE(12)"). Recent builds log every console level as
# INFO, so the message decides too; #report-errors catches the rest.
CONSOLE = re.compile(r":([A-Z]+\d*):CONSOLE\b[^\]]*\]\s*(.*)")
PROBLEM = re.compile(r"uncaught|error|exception|violat|refused|blocked|failed|net::", re.I)


def console_problems(stderr):
    out = []
    for line in stderr.splitlines():
        m = CONSOLE.search(line)
        if m and (m.group(1) in ("ERROR", "WARNING", "FATAL") or PROBLEM.search(m.group(2))):
            out.append(line)
    return out


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Dom(HTMLParser):
    """A dumped DOM as (tag, attributes, ancestors) per element, and the text under each id."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.elements, self.text, self.stack = [], {}, []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        up = self.stack[-1][1] if self.stack else ()
        a = dict(attrs)
        self.elements.append((tag, a, up))
        if tag not in VOID:
            self.stack.append((tag, up + ((tag, a.get("id")),)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), self.stack[-1][1] if self.stack else ()))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        for _, i in self.stack[-1][1] if self.stack else ():
            if i:
                self.text[i] = self.text.get(i, "") + data

    def find(self, tag, within=None, under=None, cls=None):
        """Elements `tag` inside the element with id `within` (and inside a `under` element)."""
        return [a for t, a, up in self.elements
                if t == tag
                and (within is None or any(i == within for _, i in up))
                and (under is None or any(u == under for u, _ in up))
                and (cls is None or cls in a.get("class", "").split())]

    def by_id(self, id_):
        return next(((t, a, up) for t, a, up in self.elements if a.get("id") == id_), None)


def render(chromium, page):
    """Chromium's DOM of the page after its scripts ran; fails on any error it reports."""
    out = run_chromium(chromium, page, "--dump-dom")
    assert not console_problems(out.stderr), "\n".join(console_problems(out.stderr))
    dom = Dom(out.stdout)
    assert dom.by_id("report-errors") is not None, "the page lost its error recorder"
    assert dom.text.get("report-errors", "").strip() == "", dom.text["report-errors"]
    return dom


NETWORK = [
    re.compile(r"""\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I),
    re.compile(r"@import", re.I),
    re.compile(r"url\(\s*['\"]?\s*(?:https?:)?//", re.I),
    re.compile(r"<(?:link|iframe|object|embed)\b", re.I),
    re.compile(r"<script\b[^>]*\bsrc\s*=", re.I),
]


def assert_offline(html):
    for pattern in NETWORK:
        assert not pattern.search(html), f"the page references something outside itself: {pattern.pattern}"


def assert_charts_drawn(dom):
    for chart in CHARTS:
        t, a, up = dom.by_id(chart) or (None, {}, ())
        assert t == "svg", f"no <svg id={chart}>"
        assert a.get("role") == "img" and a.get("aria-label", "").strip(), chart
        assert "figure" in [u for u, _ in up], f"{chart} is not in a <figure>"
        drawn = [p for p in dom.find("path", within=chart) if p.get("d", "").strip()]
        assert drawn, f"{chart} drew no series"
    assert len(dom.find("figcaption")) >= len(CHARTS)


def bands(dom, chart):
    return Counter(g["data-rule"] for g in dom.find("g", within=chart, cls="alert-band"))


def test_template_is_one_offline_file_with_one_placeholder():
    html = TEMPLATE.read_text(encoding="utf-8")
    assert html.count(PLACEHOLDER) == 1
    assert_offline(html)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert len(html.encode()) < 60_000


def test_sample_report_draws_every_chart_band_and_row(chromium, tmp_path):
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    page = build_page(data, tmp_path / "report.html")
    assert_offline(page.read_text(encoding="utf-8"))
    dom = render(chromium, page)
    assert_charts_drawn(dom)

    # every alert interval is a labelled band on every time chart
    want = Counter(a["rule"] for a in data["alerts"])
    for chart in CHARTS:
        assert bands(dom, chart) == want, chart
        assert len(dom.find("text", within=chart, cls="band-label")) == sum(want.values()), chart
    listed = [tr["data-rule"] for tr in dom.find("tr", within="alerts") if "data-rule" in tr]
    assert Counter(listed) == want
    assert "still firing" in dom.text["alerts"]

    # one line per service for the top services, in the same colour on both line charts
    for chart in ["chart-error-rate", "chart-p95"]:
        keys = [p["data-key"] for p in dom.find("path", within=chart)]
        assert keys == [s["name"] for s in data["services"]][:8], chart
    colours = lambda chart: {p["data-key"]: p["stroke"] for p in dom.find("path", within=chart)}
    assert colours("chart-error-rate") == colours("chart-p95")

    # the top errors, one row each, their text shown as text (an example holds "</script><b>")
    rows = dom.find("tr", within="top-errors", under="tbody")
    assert len(rows) == len(data["top_errors"])
    text = dom.text["top-errors"]
    for e in data["top_errors"]:
        assert e["template"] in text and e["example"] in text
    assert not dom.find("b", within="top-errors")
    assert len(dom.find("details", within="top-errors")) == len(data["top_errors"])
    assert f"{data['totals']['records']:,}" in dom.text["top"]


def test_empty_report_says_so(chromium, tmp_path):
    data = {"title": "loglake report", "lake": "lake", "from": "2026-12-01T10:00:00Z", "to": "2026-12-01T16:00:00Z",
            "generated_at": "2026-12-03T01:00:00Z", "minutes": [], "levels": {}, "status": {}, "services": [],
            "top_errors": [], "alerts": [], "totals": {"records": 0, "errors": 0, "services": 0, "minutes": 0, "alerts": 0}}
    dom = render(chromium, build_page(data, tmp_path / "report.html"))
    assert "Nothing in this range" in dom.text.get("empty", "")
    assert not dom.find("svg")


def test_page_without_data_says_so(chromium, tmp_path):
    page = tmp_path / "template.html"
    shutil.copy(TEMPLATE, page)
    dom = render(chromium, page)
    assert "no report data" in dom.text.get("empty", "")


def awkward(kind):
    d = json.loads(SAMPLE.read_text(encoding="utf-8"))
    n = len(d["minutes"])
    if kind == "one-minute":
        cut = lambda a: a[:1] if isinstance(a, list) else a
        d["minutes"] = d["minutes"][:1]
        d["levels"] = {k: cut(v) for k, v in d["levels"].items()}
        d["status"] = {k: cut(v) for k, v in d["status"].items()}
        d["services"] = [{k: cut(v) for k, v in s.items()} for s in d["services"]]
        d["alerts"] = [dict(d["alerts"][0], **{"from": d["minutes"][0], "to": d["minutes"][0]})]
    elif kind == "nulls":
        d["levels"]["INFO"] = [None] * n
        d["levels"]["CRITICAL"] = [1] * n  # a level the page does not know
        del d["status"]["1xx"]
        for s in d["services"]:
            s["p95_ms"] = [None if (i // 7) % 2 else v for i, v in enumerate(s["p95_ms"])]
            s["error_pct"] = [None] * n
        d["services"][0]["records"] = d["services"][0]["records"][:5]  # shorter than minutes
        d["alerts"].append({"rule": "odd", "severity": "unknown", "from": "not a time", "to": None, "summary": None})
        d["alerts"].append({"rule": "earlier", "severity": "info", "from": "2026-11-30T10:00:00Z", "to": d["minutes"][30]})
        d["top_errors"].append({"template": None, "count": None, "services": None})
        d["totals"] = None
    elif kind == "huge":
        for k in d["levels"]:
            d["levels"][k] = [v * 10**13 if v else v for v in d["levels"][k]]
        for s in d["services"]:
            s["p95_ms"] = [v * 10**6 if v else v for v in s["p95_ms"]]
        d["services"] = d["services"] + [dict(copy.deepcopy(s), name=s["name"] + "-2") for s in d["services"]]
        d["totals"]["records"] = 10**21
        d["top_errors"][0]["template"] = "x" * 5000
    return d


@pytest.mark.parametrize("kind", ["one-minute", "nulls", "huge"])
def test_awkward_documents_draw_without_errors(chromium, tmp_path, kind):
    dom = render(chromium, build_page(awkward(kind), tmp_path / "report.html"))
    assert_charts_drawn(dom)
    if kind == "huge":
        assert "4 more services" in dom.text["report"]


def loglake(*args):
    assert Path(BIN).is_file(), f"no loglake binary at {BIN}: run `make test-py` (it builds it and sets LOGLAKE_BIN)"
    out = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"loglake {' '.join(args)} failed:\n{out.stderr}"
    return out


def test_report_of_a_generated_lake_shows_the_incidents(chromium, tmp_path):
    # The generator injects five incidents, for the six rules of alerts.toml
    # (crates/cli/src/generate/incidents.rs); `report` draws the intervals
    # during which each rule fired as bands.
    rules = {r["name"] for r in tomllib.loads((ROOT / "alerts.toml").read_text(encoding="utf-8"))["rule"]}
    src, lake, page = tmp_path / "shop.ndjson.gz", tmp_path / "lake", tmp_path / "report.html"
    loglake("generate", "--lines", "60000", "--malformed", "0.01", "--seed", "7", "--incidents", "--out", str(src))
    loglake("ingest", str(src), "--lake", str(lake))
    loglake("report", "--lake", str(lake), "--rules", str(ROOT / "alerts.toml"), "--out", str(page))

    html = page.read_text(encoding="utf-8")
    assert PLACEHOLDER not in html
    assert_offline(html)
    dom = render(chromium, page)
    assert_charts_drawn(dom)
    fired = set(bands(dom, "chart-levels"))
    assert len(fired) >= 3 and fired <= rules, fired
    for chart in CHARTS:
        assert set(bands(dom, chart)) == fired, chart
    assert fired <= {tr.get("data-rule") for tr in dom.find("tr", within="alerts")}
    assert dom.find("tr", within="top-errors", under="tbody")

    shot = tmp_path / "report.png"
    run_chromium(chromium, page, f"--screenshot={shot}", "--window-size=1400,2600", "--hide-scrollbars")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (1400, 2600)
    assert len(png) > 50_000, f"a {len(png)}-byte screenshot is nearly blank"
