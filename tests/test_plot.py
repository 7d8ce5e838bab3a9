"""tmt plot and its pieces: smoothing, downsampling, log axes, the chart, SVG/HTML/PNG files."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from cli_helpers import invoke
from plot_helpers import GOLDEN, plot_store, series_blob
from cli_helpers import make_run
from tmt.plot.figure import Curve, Figure, PALETTE, columns, run_colors
from tmt.plot.series import build_curve, series_picture
from tmt.plot.smooth import ema, moving_average, parse_smoothing
from tmt.plot.terminal import Chart

UPDATE = bool(os.environ.get("TMT_UPDATE_GOLDEN"))  # regenerate tests/data/plot/* on purpose


def golden(name: str, data: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data, encoding="utf-8")
    assert data == path.read_text(encoding="utf-8"), f"{name} differs from the golden file (TMT_UPDATE_GOLDEN=1)"


# -- smoothing ----------------------------------------------------------------------------


def test_debiased_ema_matches_a_hand_computation():
    # w = 0.5: last = 0.5, 1.25, 2.125; debias 1 - 0.5**n = 0.5, 0.75, 0.875
    assert ema([1.0, 2.0, 3.0], 0.5) == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875])
    # the first smoothed value is the first value (no pull towards 0), as in TensorBoard
    assert ema([10.0, 0.0], 0.9)[0] == pytest.approx(10.0)
    assert ema([10.0, 0.0], 0.9)[1] == pytest.approx((0.9 * 1.0 + 0.0) / (1 - 0.81))


def test_ema_passes_non_finite_values_and_constant_series_through():
    out = ema([1.0, math.nan, 3.0], 0.5)
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx((0.25 + 1.5) / 0.75)  # NaN skipped
    assert ema([0.1] * 5, 0.99) == [0.1] * 5  # exactly, no float drift


def test_moving_average_is_trailing_and_shorter_at_the_start():
    assert moving_average([1.0, 2.0, 3.0, 4.0, 5.0], 3) == pytest.approx([1.0, 1.5, 2.0, 3.0, 4.0])


def test_smoothing_option_parsing_and_its_errors():
    assert parse_smoothing("0.6").kind == "ema" and parse_smoothing("ma:20").value == 20
    assert parse_smoothing("0") is None and parse_smoothing("ma:1") is None
    r = invoke("plot", "loss", "--smooth", "1.5")
    assert r.exit_code == 2
    assert "Error: --smooth '1.5': the EMA weight must be at least 0 and below 1" in r.output
    r = invoke("plot", "loss", "--smooth", "ma:x")
    assert "Error: --smooth 'ma:x': the moving-average window must be a whole number >= 1" in r.output
    r = invoke("plot", "loss", "--smooth", "fast")
    assert "Error: --smooth 'fast' is neither an EMA weight nor ma:N" in r.output


def test_smoothing_is_computed_on_every_point_before_downsampling(repo):
    # A square wave of period 2: smoothing the full data gives ~0.5 everywhere; smoothing
    # what a narrow chart keeps (each column's low and high, 0 and 1) would not.
    values = [float(i % 2) for i in range(10_000)]
    curve, _, _ = build_curve("r", "#000000", "1", list(range(10_000)), values, parse_smoothing("0.99"), False)
    assert curve.ys == ema(values, 0.99)  # every point, in order
    buckets = columns(curve.xs, curve.ys, 0, 9_999, 40)
    late = [b for b in buckets if b[0] > 5]
    assert all(0.45 < b[2] <= b[3] < 0.55 for b in late)
    assert curve.raw == (list(range(10_000)), values)  # the raw curve, drawn faintly in files


def test_downsampling_keeps_every_extreme():
    xs = list(range(10_000))
    ys = [0.0] * 10_000
    ys[4321] = 7.0  # a one-step spike
    buckets = columns(xs, ys, 0, 9_999, 30)
    assert max(b[3] for b in buckets) == 7.0
    assert sum(1 for b in buckets) == 30


def test_log_axis_masks_values_at_or_below_zero(repo):
    curve, _, masked = build_curve("r", "#000000", "1", [0, 1, 2, 3, 4], [1.0, 0.0, -1.0, 10.0, 100.0], None, True)
    assert (curve.xs, curve.ys, masked) == ([0, 3, 4], [1.0, 10.0, 100.0], 2)
    plot_store(repo)
    r = invoke("plot", "loss", "3333", "--logy")
    assert r.exit_code == 0
    assert "log axis: 2 values <= 0 not drawn" in r.output


def test_series_blobs_with_values_of_the_wrong_type_are_corrupt():
    # the fast type checks of decode_series (a plot decodes 1,000,000 points) keep every refusal
    from tmt.errors import CorruptObject
    from tmt.records.series import decode_series
    from tmt.store import codec

    assert decode_series(codec.packb([1, "a", [0, None], [1.0, 2.0], [0.0, 1.0]])).steps == [0, None]
    for steps, values, times, what in (([True], [1.0], [0.0], "step is not an integer"),
                                       ([0.5], [1.0], [0.0], "step is not an integer"),
                                       ([0], [1], [0.0], "value or time is not a float"),
                                       ([0], [1.0], ["x"], "value or time is not a float")):
        with pytest.raises(CorruptObject, match=what):
            decode_series(codec.packb([1, "a", steps, values, times]), "abc")


# -- colours ------------------------------------------------------------------------------


def test_run_colours_stay_the_same_from_plot_to_plot_and_differ_within_one():
    a, b, c = "0a" * 16, "0b" * 16, "14" * 16  # 0x0a0a0a0a % 10 == 0x14141414 % 10
    assert run_colors([a])[0] == run_colors([b, a])[1]
    both = run_colors([a, c])
    assert both[0] != both[1] and set(both) <= set(PALETTE)
    assert len(set(run_colors([f"{i:032x}" for i in range(10)]))) == 10


# -- golden outputs -----------------------------------------------------------------------


def test_golden_terminal_output(repo):
    plot_store(repo)
    r = invoke("plot", "loss", "1111", "2222", "3333", "--smooth", "0.6", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    golden("plot_loss.txt", r.output)
    r = invoke("plot", "loss", "--logy", "--x", "rel", env={"COLUMNS": "72"})  # filters: every run
    assert r.exit_code == 0, r.output
    golden("plot_loss_logy_rel.txt", r.output)


def test_golden_svg_and_html_bytes(repo, tmp_path):
    plot_store(repo)
    r = invoke("plot", "loss", "1111", "2222", "3333", "--smooth", "0.6", "-o", str(tmp_path / "loss.svg"))
    assert r.exit_code == 0, r.output
    assert "Wrote 'loss' of 3 runs to" in r.output
    svg = (tmp_path / "loss.svg").read_text(encoding="utf-8")
    golden("plot_loss.svg", svg)
    invoke("plot", "loss", "1111", "2222", "3333", "--smooth", "0.6", "-o", str(tmp_path / "loss.html"))
    page = (tmp_path / "loss.html").read_text(encoding="utf-8")
    golden("plot_loss.html", page)
    assert svg.rstrip("\n") in page  # the same picture, inlined
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing to fetch
    assert "default-src 'none'" in page


def test_the_same_store_always_writes_the_same_svg(repo, tmp_path):
    plot_store(repo)
    outs = []
    for n in range(2):
        invoke("plot", "acc", "--x", "time", "-o", str(tmp_path / f"{n}.svg"), env={"TZ": "UTC"})
        outs.append((tmp_path / f"{n}.svg").read_bytes())
    assert outs[0] == outs[1]


# -- the renderer as a component ----------------------------------------------------------


def test_chart_renders_at_any_width_and_as_a_rich_renderable():
    from io import StringIO

    from rich.console import Console

    fig = Figure("f", [Curve("a", [0, 1, 2, 3], [1.0, 3.0, 2.0, 4.0], "#4e79a7", "1"),
                       Curve("b", [0, 3], [4.0, 1.0], "#f28e2b", "2")])
    for width in (20, 41, 120):
        lines = Chart(fig, height=5).lines(width)
        assert all(sum(len(t) for t, _ in line) <= width for line in lines)
    buf = StringIO()
    Console(file=buf, width=50, color_system=None).print(Chart(fig, height=6))
    text = buf.getvalue()
    assert "┤" in text and "━━ a" in text and "━━ b" in text
    assert Chart(fig, height=6, unicode=False).plain(50).count("*") > 3  # ASCII fallback


def test_a_stream_that_cannot_encode_braille_gets_an_ascii_chart(repo, project):
    plot_store(repo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMT_")}
    env.update(PYTHONIOENCODING="ascii", COLUMNS="60")
    r = subprocess.run([sys.executable, "-c", "from tmt.cli import main; main()", "plot", "loss", "1111"],
                       cwd=project, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "*" in r.stdout and "+--" in r.stdout and "-- 11111111  baseline" in r.stdout


def test_control_characters_in_run_names_are_escaped(repo):
    make_run(repo, 1, "evil\x1b]52;c;Zm9v\x07name", series={"loss": series_blob(repo, "loss", [1, 2, 3])})
    r = invoke("plot", "loss", "1111")
    assert "\x1b" not in r.output and "\\x1b]52" in r.output
    svg = series_picture([__import__("tmt").get("1111", repo=repo)], "loss").to_svg()
    assert "\x1b" not in svg and "\x07" not in svg


# -- choosing runs, errors -----------------------------------------------------------------


def test_filters_choose_the_newest_runs_that_have_the_series(repo):
    plot_store(repo)
    make_run(repo, 4, "no-series")
    r = invoke("plot", "loss", "--name", ".", "-n", "2")
    assert r.exit_code == 0, r.output
    legend = [line for line in r.output.splitlines() if "━━" in line]
    assert [line.split()[2] for line in legend] == ["22222222", "33333333"]  # oldest first
    r = invoke("plot", "loss", "--sort", "loss", "--asc", "-n", "1")
    assert "33333333" in r.output and "11111111" not in r.output


def test_plot_errors_say_what_to_do(repo, tmp_path):
    plot_store(repo)
    make_run(repo, 4, "no-series")
    r = invoke("plot", "loss", "4444")
    assert r.exit_code == 1
    assert "Error: run 44444444 (no-series) has no series 'loss'" in r.output
    r = invoke("plot", "nope")
    assert r.exit_code == 2
    assert "Error: no run among these 4 has a series 'nope'\nhint: series they have: acc, loss" in r.output
    r = invoke("plot", "loss", "1111", "--name", "x")
    assert "Error: give the runs either as refs or with filters, not both" in r.output
    r = invoke("plot", "loss", "-o", str(tmp_path / "a.pdf"))
    assert r.exit_code == 2
    assert "unknown picture format '.pdf'\nhint: name a file ending in .svg, .html, .png" in r.output
    r = invoke("plot", "loss", "-o", str(tmp_path / "missing" / "a.svg"))
    assert r.exit_code == 1 and f"check that the folder {tmp_path / 'missing'} exists" in r.output
    r = invoke("plot", "loss", "--name", "^zzz")
    assert "Error: no runs match these filters" in r.output


def test_png_needs_the_plot_extra(repo, tmp_path, monkeypatch):
    plot_store(repo)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    r = invoke("plot", "loss", "-o", str(tmp_path / "a.png"))
    assert r.exit_code == 1
    assert ("Error: writing a PNG needs matplotlib, which is not installed\n"
            "hint: pip install 'ThatMetricTimeline[plot]', or write an .svg or .html file instead") in r.output
    assert not (tmp_path / "a.png").exists()


@pytest.mark.slow
def test_png_through_matplotlib_is_a_real_picture(repo, tmp_path):
    pytest.importorskip("matplotlib")  # in the [test] extra; the [plot] extra for users
    from PIL import Image

    plot_store(repo)
    r = invoke("plot", "loss", "--smooth", "ma:10", "--logy", "-o", str(tmp_path / "a.png"))
    assert r.exit_code == 0, r.output
    img = Image.open(tmp_path / "a.png").convert("RGB")
    assert img.size == (1000, 560)
    colours = img.getcolors(1 << 20)
    assert len(colours) > 50  # lines, text, anti-aliasing: not a blank canvas


# -- the API --------------------------------------------------------------------------------


def test_api_twin_returns_a_picture_and_writes_files(repo, tmp_path):
    import tmt

    plot_store(repo)
    pic = tmt.plot("loss", "1111", "2222", smooth=0.6, output=tmp_path / "a.svg", repo=repo)
    assert (tmp_path / "a.svg").read_text() == pic.to_svg()
    assert pic._repr_svg_().startswith("<svg")
    assert "baseline" in pic.to_text(width=90)
    runs = tmt.runs(repo=repo)
    assert len(tmt.plot("acc", runs, repo=repo).figure.curves) == 3


def test_import_tmt_does_not_import_plot_and_either_import_order_works():
    code = ("import sys, tmt; assert 'tmt.plot' not in sys.modules and 'tmt.timeline' not in sys.modules;"
            "import tmt.plot.svg, tmt.timeline.functions; assert callable(tmt.plot) and callable(tmt.timeline);"
            "print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "ok", r.stderr
    r = subprocess.run([sys.executable, "-c", "import tmt; f = tmt.plot; import tmt.plot.svg; print(tmt.plot is f)"],
                       capture_output=True, text=True)
    assert r.stdout.strip() == "True", r.stderr
