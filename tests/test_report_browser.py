"""The report in a real browser: headless Chromium draws every figure, without JS errors,
and at 1,400 and 390 px nothing is wider than the screen, panels stack on a phone and panel
titles do not overlap.

Needs a ``chromium`` (or ``chromium-browser``) binary; on Debian/Ubuntu ``apt-get install
chromium``. Skipped when none is found. Run with ``-m browser``.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

import mcsim
from mcsim.report import PLOTLY_FILE, build_figures, policy_colours, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no chromium binary on PATH (install the Debian package `chromium`)",
    ),
]

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=10000",
)


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run(
        [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


@pytest.fixture(scope="module")
def result():
    scenario = mcsim.Scenario.from_toml(mcsim.default_scenario_path())
    return mcsim.run(scenario, n_paths=300, seed=1)


@pytest.fixture(scope="module")
def report_file(result, tmp_path_factory) -> Path:
    return write_report(result, tmp_path_factory.mktemp("browser") / "report.html")


@pytest.fixture(scope="module")
def dom(report_file) -> str:
    out = _chromium(report_file.parent, "--dump-dom", report_file.as_uri())
    return out.stdout


def test_every_figure_is_drawn(result, dom):
    figures = build_figures(result)
    # One plot container per figure, each with its SVG layers, all inside the plot divs.
    assert dom.count('class="plot-container plotly"') == len(figures)
    assert dom.count('class="main-svg"') >= len(figures)
    for key in figures:
        assert re.search(rf'<div id="fig-{key}" class="[^"]*js-plotly-plot', dom), key
    # Every trace of every figure is in the drawn SVG.
    n_traces = sum(len(f.data) for f in figures.values())
    assert len(re.findall(r'class="trace (?:scatter|bars|boxes)', dom)) == n_traces


def test_no_javascript_errors(dom):
    assert re.search(r'<div id="js-errors" hidden="[^"]*"></div>', dom)
    assert "<p>JavaScript error" not in dom


def test_error_detector_sees_errors(report_file, tmp_path):
    """The page's error box shows a thrown error (so the test above can fail)."""
    broken = tmp_path / "broken.html"
    text = report_file.read_text(encoding="utf-8")
    broken.write_text(
        text.replace("</body>", "<script>notAFunction();</script></body>"), encoding="utf-8"
    )
    out = _chromium(tmp_path, "--dump-dom", broken.as_uri()).stdout
    assert "<p>JavaScript error: " in out
    assert "notAFunction" in out


def test_screenshot_is_not_blank(result, report_file, tmp_path):
    png = tmp_path / "report.png"
    _chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={png}", report_file.as_uri())
    img = decode_png(png.read_bytes())
    assert img.shape[:2] == (2400, 1280)
    rgb = img[..., :3].reshape(-1, 3)
    assert np.mean(np.any(rgb < 245, axis=1)) > 0.05  # more than 5 % of pixels are not white
    assert len(np.unique(rgb, axis=0)) > 200  # text, bands, lines: many colours
    # The fan chart is in view: some pixels have each of the first policies' line colours.
    for colour in list(policy_colours(result.policy_names).values())[:3]:
        target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        assert np.any(np.abs(rgb.astype(int) - target).max(axis=1) <= 12), colour


# -- layout at 1,400 and 390 px ----------------------------------------------------------------
# Runs after the page's own load handlers: records what overflows the viewport, plots without
# an SVG, the panels of each plot, and panel titles that overlap.
_PROBE = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  var vw = document.documentElement.clientWidth, bad = [];
  // Wholly left of the page (plotly's own text-measuring nodes sit at -10000 px) is unseen.
  function fits(r) { return r.right <= 0 || (r.right <= vw + 1 && r.left >= -1); }
  document.querySelectorAll("body *").forEach(function (el) {
    var r = el.getBoundingClientRect();
    if ((r.width === 0 && r.height === 0) || fits(r)) return;
    for (var a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== "visible" && fits(a.getBoundingClientRect())) return;
    }
    var cls = typeof el.className === "string" ? el.className : el.getAttribute("class");
    bad.push(el.tagName + "." + cls + " " + Math.round(r.left) + ".." + Math.round(r.right));
  });
  var plots = {};
  document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
    var box = gd.getBoundingClientRect();
    var panels = Array.from(gd.querySelectorAll("g.draglayer rect.nsewdrag")).map(function (p) {
        var r = p.getBoundingClientRect();
        return [r.left - box.left, r.top - box.top, r.width, r.height];
      });
    var titles = Array.from(gd.querySelectorAll("g.annotation")).map(function (t) {
      var r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];
    });
    var overlaps = 0;
    for (var i = 0; i < titles.length; i++) for (var j = i + 1; j < titles.length; j++) {
      var a = titles[i], b = titles[j];
      if (a[0] < b[2] - 1 && b[0] < a[2] - 1 && a[1] < b[3] - 1 && b[1] < a[3] - 1) overlaps++;
    }
    plots[gd.id] = {svg: !!gd.querySelector("svg.main-svg"), width: box.width,
                    panels: panels, title_overlaps: overlaps};
  });
  var msg = JSON.stringify({vw: vw, scroll: document.documentElement.scrollWidth,
                           bad: bad.slice(0, 20), n_bad: bad.length, plots: plots});
  if (window.parent !== window) { window.parent.postMessage(msg, "*"); return; }
  var out = document.createElement("pre");
  out.id = "layout-check";
  out.textContent = msg;
  document.body.appendChild(out);
}, 1500); });
</script></body>"""


@pytest.fixture(scope="module", params=["inline", "directory"])
def probed(request, result, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp(f"layout-{request.param}")
    page = write_report(result, folder / "report.html", plotly=request.param)
    text = page.read_text(encoding="utf-8")
    probed = folder / "probed.html"
    probed.write_text(text.replace("</body>", _PROBE), encoding="utf-8")
    return probed


# Headless windows are at least 500 px wide: a narrower screen is an iframe that wide, which
# passes the probe's findings up to the page Chromium dumps.
_FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:{height}px;border:0;display:block"></iframe>
<script>window.addEventListener("message", function (e) {{
  var out = document.createElement("pre"); out.id = "layout-check"; out.textContent = e.data;
  document.body.appendChild(out); }});</script></body></html>"""


def _screen(page: Path, width: int, height: int) -> tuple[Path, str]:
    """The page to open and the window size flag for a screen ``width`` CSS px wide."""
    if width >= 500:
        return page, f"--window-size={width},{height}"
    frame = page.with_name(f"frame-{width}-{page.name}")
    frame.write_text(_FRAME.format(src=page.name, width=width, height=height), encoding="utf-8")
    return frame, f"--window-size=500,{height}"


def _layout(page: Path, width: int) -> dict:
    shown, size = _screen(page, width, 3000)
    dom = _chromium(page.parent, size, "--dump-dom", shown.as_uri()).stdout
    m = re.search(r'<pre id="layout-check">(.*?)</pre>', dom, re.S)
    assert m, "the probe did not run"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.mark.parametrize("width", [1400, 390])
def test_nothing_is_wider_than_the_screen_and_every_plot_is_drawn(probed, width):
    info = _layout(probed, width)
    assert info["vw"] == width
    assert info["scroll"] <= width, info["bad"]
    assert info["n_bad"] == 0, info["bad"]
    assert info["plots"], "no plots"
    for key, plot in info["plots"].items():
        assert plot["svg"], f"{key} drew no SVG"
        assert plot["title_overlaps"] == 0, f"{key}: panel titles overlap"


def test_panels_stack_on_a_phone(probed):
    narrow = _layout(probed, 390)["plots"]["fig-fan"]
    wide = _layout(probed, 1400)["plots"]["fig-fan"]
    # Six policies: a grid of panels when wide, one full-width panel per row on a phone.
    lefts_wide = {round(p[0]) for p in wide["panels"]}
    assert len(lefts_wide) > 1
    assert len({round(p[0]) for p in narrow["panels"]}) == 1
    for _, _, w, _ in narrow["panels"]:
        assert w > 0.6 * narrow["width"]
    assert len({round(p[1]) for p in narrow["panels"]}) == len(narrow["panels"])


@pytest.mark.parametrize("width", [1400, 390])
def test_screenshots_are_not_blank(probed, width, tmp_path):
    png = tmp_path / f"report-{width}.png"
    shown, size = _screen(probed, width, 2400)
    _chromium(tmp_path, size, f"--screenshot={png}", shown.as_uri())
    img = decode_png(png.read_bytes())
    assert img.shape[:2] == (2400, max(width, 500))
    rgb = img[:, :width, :3].reshape(-1, 3)
    assert np.mean(np.any(rgb < 245, axis=1)) > 0.05


def test_directory_report_loads_plotly_from_beside_it(probed):
    if not (probed.parent / PLOTLY_FILE).exists():
        pytest.skip("inline report")
    assert probed.stat().st_size < 600_000


def decode_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG (stdlib zlib + NumPy).

    Returns an array of shape (height, width, channels) of uint8.
    """
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, idat = 8, []
    width = height = depth = colour_type = interlace = None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert depth == 8 and interlace == 0 and colour_type in (2, 6), "unsupported PNG"
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int64)
    for r in range(height):
        start = r * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, np.uint8, stride, start + 1).astype(np.int64)
        if kind == 0:  # None
            cur = line
        elif kind == 1:  # Sub: running sum per channel
            cur = np.cumsum(line.reshape(width, bpp), axis=0).ravel() & 255
        elif kind == 2:  # Up
            cur = (line + prev) & 255
        else:  # Average (3) and Paeth (4) depend on the reconstructed left byte
            ln, up, rec = line.tolist(), prev.tolist(), [0] * stride
            for x in range(stride):
                a = rec[x - bpp] if x >= bpp else 0
                b = up[x]
                if kind == 3:
                    rec[x] = (ln[x] + ((a + b) >> 1)) & 255
                    continue
                c = up[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                rec[x] = (ln[x] + pred) & 255
            cur = np.array(rec, dtype=np.int64)
        out[r] = cur
        prev = cur
    return out.reshape(height, width, bpp)
