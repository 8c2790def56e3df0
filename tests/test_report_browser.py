"""The report in a real browser: headless Chromium draws every figure, without JS errors.

Needs a ``chromium`` (or ``chromium-browser``) binary; on Debian/Ubuntu ``apt-get install
chromium``. Skipped when none is found. Run with ``-m browser``.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

import mcsim
from mcsim.report import build_figures, policy_colours, write_report

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
