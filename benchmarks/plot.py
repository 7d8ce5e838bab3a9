"""Benchmark: `tmt plot` of 100 runs x 10,000 steps, and `tmt timeline` of 1,000 runs.

    .venv/bin/python benchmarks/plot.py [--runs 100] [--steps 10000] [--timeline-runs 1000] [--workdir DIR]

Stores are built once under the work folder by writing records, trees and series blobs
directly (the recorder is not what is measured) and reused. Whole-process medians of 5:

- plot: `tmt plot loss -n 100` piped (plain text) and with FORCE_COLOR (rich, colour),
  and with `--smooth 0.6` (smoothing of all 1,000,000 points), against the floor of any
  plot of this data (a process that reads and decodes the 100 series blobs) and against
  the peer most users reach for (matplotlib drawing the same 100 curves to a PNG, Agg).
- timeline: `tmt timeline f1 --json` over 1,000 runs of a project of 30 files whose code
  changes every 25 runs (functions edited in real .py files), a learning rate changed 4
  times, a seed at every run, packages changed twice; against `tmt ls --all --json` of the
  same store (reading every run, no analysis) as the floor.

Targets: plot under 1 s, timeline (jumps + file/function attribution) under 2 s.
The predecessor (0.1.8) has neither, so it has no column here.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_WORKDIR, Report, clean_env, fmt_s, fmt_x, machine_line, ratio, source_state, time_cmd  # noqa: E402

from tmt.records.io import write_record  # noqa: E402
from tmt.records.model import Record  # noqa: E402
from tmt.records.series import Series, encode_series  # noqa: E402
from tmt.repo import Repo  # noqa: E402
from tmt.snapshot.build import snapshot_repo  # noqa: E402

TMT = str(Path(sys.executable).with_name("tmt"))
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
STORE_FORMAT = 1  # bump when what the builders write changes: cached stores are rebuilt


def _record(i: int, name: str, tree: str, params: dict, metrics: dict, series: dict, env: dict | None = None) -> Record:
    created = T0 + timedelta(minutes=i)
    return Record(
        id=f"{i + 1:032x}", name=name, status="completed", created_at=created.isoformat(),
        finished_at=(created + timedelta(seconds=30)).isoformat(), duration_s=30.0, params=params,
        metrics=metrics, series=series, code={"root": ".", "tree": tree, "files": 1, "bytes": 1, "git": None},
        env=env or {"argv": ["train.py"], "host": "bench", "pid": 1},
    )


def build_plot_store(root: Path, runs: int, steps: int) -> Path:
    marker = root / f".built-{STORE_FORMAT}-{runs}-{steps}"
    if marker.exists():
        return root
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    root.mkdir(parents=True)
    (root / "train.py").write_text("print('train')\n")
    repo = Repo.init(root)
    tree = snapshot_repo(repo, warn=lambda m: None).tree
    rng = random.Random(1)
    for i in range(runs):
        scale, floor = rng.uniform(1, 3), rng.uniform(0.05, 0.3)
        values = [floor + scale * math.exp(-s / (steps / 5)) + rng.gauss(0, 0.02) for s in range(steps)]
        times = [1.7e9 + i * 3600 + s * 0.5 for s in range(steps)]
        oid = repo.store.put(encode_series(Series("loss", list(range(steps)), values, times)))
        write_record(repo.experiments_dir, repo.tmp_dir,
                     _record(i, f"sweep{i % 7}", tree, {"lr": 10 ** -rng.uniform(1, 4)}, {"loss": values[-1]},
                             {"loss": oid}))
    marker.touch()
    return root


MODULE = '''"""Module {name}: generated code of a realistic size."""
import math


def preprocess_{name}(rows, scale={scale}):
    out = []
    for row in rows:
        out.append([x * scale for x in row])
    return out


class Model{name}:
    def __init__(self, width=64, depth={depth}):
        self.width = width
        self.depth = depth

    def forward(self, x):
        for _ in range(self.depth):
            x = math.tanh(x * {gain})
        return x

    def loss(self, y, t):
        return (y - t) ** 2
'''


def build_timeline_store(root: Path, runs: int) -> Path:
    marker = root / f".built-{STORE_FORMAT}-{runs}"
    if marker.exists():
        return root
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    (root / "src").mkdir(parents=True)
    (root / "README.md").write_text("# project\n")
    for k in range(20):
        (root / "src" / f"m{k}.py").write_text(MODULE.format(name=k, scale=1.0, depth=4, gain=0.5) * 6)
    for k in range(8):
        (root / f"data{k}.csv").write_text("a,b\n" * 200)
    repo = Repo.init(root)
    rng = random.Random(2)
    level = 0.80
    tree = snapshot_repo(repo, warn=lambda m: None).tree
    lr = 0.1
    numpy = "1.26.4"
    for i in range(runs):
        if i and i % 25 == 0:  # an edit: one function in one module, sometimes a real improvement
            k = rng.randrange(20)
            path = root / "src" / f"m{k}.py"
            text = path.read_text().replace("gain", "gain * 1.01", 1) if rng.random() < 0.5 else \
                path.read_text() + f"\n\ndef helper_{i}():\n    return {i}\n"
            path.write_text(text)
            if rng.random() < 0.3:
                (root / "README.md").write_text(f"# project\n\nrun {i}\n")
            tree = snapshot_repo(repo, warn=lambda m: None).tree
            if rng.random() < 0.4:
                level += rng.choice((-1, 1)) * 0.03
        if i and i % 200 == 0:
            lr /= 2
            level += 0.02
        if i in (300, 700):
            numpy = {300: "2.0.0", 700: "2.1.0"}[i]
        env = {"argv": ["train.py"], "host": "bench", "pid": 1,
               "packages": {"numpy": numpy, "torch": "2.5.0", "tmt": "0.2.0"}}
        f1 = level + rng.gauss(0, 0.004)
        write_record(repo.experiments_dir, repo.tmp_dir,
                     _record(i, "exp", tree, {"lr": lr, "seed": i, "batch": 64}, {"f1": f1}, {}, env))
    marker.touch()
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--timeline-runs", type=int, default=1_000)
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rep = Report()
    rep.title("tmt plot / tmt timeline")
    rep.out(machine_line())
    rep.out(source_state())
    rep.out(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    t = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i
    rep.out(f"machine speed now: a 3,000,000-step Python loop takes {fmt_s(time.perf_counter() - t)} "
            "(the figures below scale with it when the machine is busy)")

    pdir = build_plot_store(args.workdir / "plot-store", args.runs, args.steps)
    env = clean_env(COLUMNS="120")
    n = str(args.runs)
    rep.section(f"plot: {args.runs} runs x {args.steps:,} steps, whole process, median of {args.repeat}")
    plain = time_cmd([TMT, "plot", "loss", "-n", n], args.repeat, cwd=pdir, env=env)
    rich = time_cmd([TMT, "plot", "loss", "-n", n], args.repeat, cwd=pdir, env={**env, "FORCE_COLOR": "1"})
    smooth = time_cmd([TMT, "plot", "loss", "-n", n, "--smooth", "0.6"], args.repeat, cwd=pdir, env=env)
    svg = time_cmd([TMT, "plot", "loss", "-n", n, "-o", str(args.workdir / "bench.svg")], args.repeat, cwd=pdir,
                   env=env)
    floor_code = ("import tmt\nfrom tmt.records.series import decode_series\n"
                  f"for r in tmt.runs().sort('created_at', descending=True)[:{n}]:\n"
                  "    oid = r.record.series['loss']; decode_series(r.repo.store.get(oid), oid)\n")
    floor = time_cmd([sys.executable, "-c", floor_code], args.repeat, cwd=pdir, env=env)
    mpl_code = ("import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt, tmt\n"
                f"fig, ax = plt.subplots(figsize=(10, 5))\n"
                f"for r in tmt.runs().sort('created_at', descending=True)[:{n}]:\n"
                "    s = r.series('loss'); ax.plot(s.steps, s.values, linewidth=1)\n"
                f"fig.savefig({str(args.workdir / 'bench-mpl.png')!r})\n")
    try:
        mpl = time_cmd([sys.executable, "-c", mpl_code], args.repeat, cwd=pdir, env=env)
    except RuntimeError:
        mpl = None
    rows = [
        ["tmt plot (piped, plain text)", fmt_s(plain.median), fmt_x(ratio(plain.median, floor.median))],
        ["tmt plot (terminal, rich colour)", fmt_s(rich.median), fmt_x(ratio(rich.median, floor.median))],
        ["tmt plot --smooth 0.6", fmt_s(smooth.median), fmt_x(ratio(smooth.median, floor.median))],
        ["tmt plot -o bench.svg", fmt_s(svg.median), fmt_x(ratio(svg.median, floor.median))],
        ["floor: read + decode the series", fmt_s(floor.median), "1.00x"],
    ]
    if mpl is not None:
        rows.append(["peer: matplotlib to PNG (same runs)", fmt_s(mpl.median), fmt_x(ratio(mpl.median, floor.median))])
    rep.table(["", "median", "vs floor"], rows)
    if mpl is not None:
        rep.out(f"tmt plot (terminal) is {fmt_x(ratio(mpl.median, rich.median))} faster than matplotlib")
    worst = max(plain.median, rich.median)
    rep.target("plot 100 runs x 10,000 steps in the terminal < 1 s", worst < 1.0, fmt_s(worst))

    tdir = build_timeline_store(args.workdir / "timeline-store", args.timeline_runs)
    rep.section(f"timeline: {args.timeline_runs} runs, whole process, median of {args.repeat}")
    tl = time_cmd([TMT, "timeline", "f1", "--json"], args.repeat, cwd=tdir, env=env)
    tl_text = time_cmd([TMT, "timeline", "f1"], args.repeat, cwd=tdir, env=env)
    ls = time_cmd([TMT, "ls", "--all", "--json"], args.repeat, cwd=tdir, env=env)
    out = subprocess.run([TMT, "timeline", "f1", "--json"], cwd=tdir, env=env, capture_output=True, text=True)
    import json

    data = json.loads(out.stdout)
    rep.table(["", "median", "vs floor"], [
        ["tmt timeline f1 --json", fmt_s(tl.median), fmt_x(ratio(tl.median, ls.median))],
        ["tmt timeline f1 (chart)", fmt_s(tl_text.median), fmt_x(ratio(tl_text.median, ls.median))],
        ["floor: tmt ls --all --json", fmt_s(ls.median), "1.00x"],
    ])
    rep.out(f"{len(data['jumps'])} jumps found; noise sigma {data['noise']['sigma']:.4f} from {data['noise']['method']}")
    worst = max(tl.median, tl_text.median)
    rep.target("timeline of 1,000 runs with attribution < 2 s", worst < 2.0, fmt_s(worst))
    rep.out("")
    for t in rep.targets:
        rep.out(t.line())


if __name__ == "__main__":
    main()
