"""The SVG and HTML pictures as a person sees them: rendered by a real headless Chromium.

Debian's `chromium` package (.ci/run installs it). Each page is screenshotted and the
screenshot checked: the page's size, mostly white paper, the curves' colours present,
dark text present. (The screenshots of docs/plots.md were made the same way and looked at.)
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cli_helpers import invoke
from plot_helpers import plot_store
from test_timeline import timeline_store
from tmt.plot.figure import PALETTE

pytestmark = pytest.mark.slow


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("these tests need Debian's chromium: apt-get install -y chromium (.ci/run installs it)")
    return exe


def screenshot(page: Path, out: Path, size: tuple[int, int], profile: Path):
    """A PNG of `page` at `size` by headless Chromium, as a PIL image (RGB)."""
    from PIL import Image

    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", f"--screenshot={out}",
           page.as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)  # bounds a hang only
    assert r.returncode == 0 and out.exists(), r.stderr[-2000:]
    return Image.open(out).convert("RGB")


def near(c: tuple[int, int, int], hex_color: str, tol: int = 40) -> bool:
    rgb = tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return all(abs(a - b) <= tol for a, b in zip(c, rgb))


def check_picture(img, colors: list[str]) -> None:
    counts = img.getcolors(1 << 24)
    total = img.width * img.height
    white = sum(n for n, c in counts if min(c) >= 245)
    assert 0.5 < white / total < 0.995, "blank, or not a picture on white paper"
    for color in colors:
        assert sum(n for n, c in counts if near(c, color)) > 150, f"no {color} curve to be seen"
    assert sum(n for n, c in counts if max(c) < 90) > 300, "no text to be seen"


def test_svg_and_html_plot_render_in_chromium(repo, tmp_path):
    plot_store(repo)
    for suffix in ("svg", "html"):
        target = tmp_path / f"loss.{suffix}"
        r = invoke("plot", "loss", "1111", "2222", "3333", "--smooth", "0.6", "-o", str(target))
        assert r.exit_code == 0, r.output
        img = screenshot(target, tmp_path / f"loss-{suffix}.png", (860, 560), tmp_path / f"profile-{suffix}")
        assert img.size == (860, 560)
        from tmt.plot.figure import run_colors

        check_picture(img, run_colors(["1" * 32, "2" * 32, "3" * 32]))


def test_timeline_html_renders_in_chromium(repo, tmp_path):
    timeline_store(repo)
    target = tmp_path / "timeline.html"
    assert invoke("timeline", "f1", "-o", str(target)).exit_code == 0
    img = screenshot(target, tmp_path / "timeline.png", (900, 760), tmp_path / "profile")
    check_picture(img, [PALETTE[0], PALETTE[2]])  # the runs' points and the level line
