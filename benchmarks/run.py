"""`tmt run` benchmark: what recording a command costs over running it bare (DESIGN section 16).

    python benchmarks/run.py            # 9 samples per row
    python benchmarks/run.py --quick    # 5 samples per row, 30 MB of output instead of 100 MB

Measured in one go, whole processes, in a realistic project: a git work tree of ~300 files
(the sources of installed packages, with a .gitignore) plus an ignored data/ folder, its
store already holding one run (so the snapshot is the usual unchanged one):

1. **Overhead** on a 0.2 s Python script (`time.sleep(0.2)`, then `print("f1: 0.9")`):
   `tmt run -- python script.py` against the bare `python script.py`, against keeping the
   output the usual way (`python script.py | tee out.log`), and against recording the same
   script from inside (`with tmt.start_run():`, the snapshot and records both pay).
   Target: under 100 ms.
2. **Output capture** on a Python script printing 100 MB of training-log lines with
   print() (one metric line, a step series point, every 50), output to a pipe read by
   `cat > /dev/null`, as a terminal or `less` would read it: `tmt run` (metric lines read,
   output kept) and `tmt run --no-scalars` against the bare script through the same pipe,
   the fixed overhead of (1) subtracted. Target: at most 5% more. Also `cat` of the same
   100 MB (the fastest producer there is; reported, not judged: there tmt's own reading is
   the bottleneck).

There is no predecessor row (ThatMetricTimeline 0.1.8 had no way to record a command) and
no peer row (guild and mlflow run commands through their own project files and are not
installed here). Prints medians, ratios and PASS/MISS lines.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

TMT = str(Path(sys.executable).parent / "tmt")
PY = sys.executable

SLEEP = "import time\ntime.sleep(0.2)\nprint('f1: 0.9')\n"
# A training log: print() line by line, a metric line (a step series point) every 50 lines.
PRINT = """
import sys
total = int(sys.argv[1])
written = step = 0
while written < total:
    for i in range(49):
        line = f"INFO epoch 3 batch {step:07d}.{i:02d} read from shard {i % 7}, augmented and queued ok"
        print(line)
        written += len(line) + 1
    step += 1
    line = f"step {step} loss={1 / step:.6f} acc={1 - 1 / step:.6f} lr=0.001"
    print(line)
    written += len(line) + 1
"""
DECORATED = "import time, tmt\nwith tmt.start_run(name='noop'):\n    time.sleep(0.2)\nprint('f1: 0.9')\n"


def project(workdir: Path) -> Path:
    tree = C.ensure_tree(workdir, 300)
    proj = C.work_copy(tree, workdir / "run-project").path
    C.git_init(proj)
    C.run_cmd(C.GIT_COMMIT, cwd=proj)
    (proj / ".gitignore").write_bytes(C.GITIGNORE + b"data/\nout.log\n")
    (proj / "data").mkdir(exist_ok=True)
    (proj / "data" / "big.bin").write_bytes(os.urandom(1 << 20))
    (proj / "sleep.py").write_text(SLEEP)
    (proj / "print.py").write_text(PRINT)
    (proj / "decorated.py").write_text(DECORATED)
    C.run_cmd([TMT, "run", "--", PY, "sleep.py"], cwd=proj)  # the store exists, the stat cache is warm
    return proj


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workdir", type=Path, default=C.DEFAULT_WORKDIR)
    args = ap.parse_args()
    n = 5 if args.quick else args.repeat
    size = (30 if args.quick else 100) << 20
    report = C.Report(C.flush_print, design_section=16)
    report.title("tmt run: recording a command")
    report.out(C.machine_line())
    report.out(C.source_state())
    report.out(f"load average at start: {os.getloadavg()[0]:.2f}")
    proj = project(args.workdir)

    report.section("1. overhead on a 0.2 s script (whole process)")
    bare = C.time_cmd([PY, "sleep.py"], n, cwd=proj)
    tee = C.time_cmd(f"{PY} sleep.py | tee out.log > /dev/null", n, cwd=proj)
    run = C.time_cmd([TMT, "run", "--", PY, "sleep.py"], n, cwd=proj)
    decorated = C.time_cmd([PY, "decorated.py"], n, cwd=proj)
    overhead = run.median - bare.median
    report.table(
        ["", "median", "vs bare"],
        [
            ["python sleep.py (bare)", C.fmt_s(bare.median), "1.00x"],
            ["python sleep.py | tee out.log", C.fmt_s(tee.median), C.fmt_x(C.ratio(tee.median, bare.median))],
            ["tmt run -- python sleep.py", C.fmt_s(run.median), C.fmt_x(C.ratio(run.median, bare.median))],
            ["the same as a `with tmt.start_run()` script", C.fmt_s(decorated.median),
             C.fmt_x(C.ratio(decorated.median, bare.median))],
        ],
    )
    report.out(f"tmt run overhead: {overhead * 1000:.0f} ms (tee's: {(tee.median - bare.median) * 1000:.0f} ms; "
               f"recording the same script from inside: {(decorated.median - bare.median) * 1000:.0f} ms)")
    report.target("tmt run overhead on a 0.2 s script under 100 ms", overhead < 0.1, f"{overhead * 1000:.0f} ms")

    report.section(f"2. output capture: {size >> 20} MB of output, read through a pipe")
    report.out("(a training log printed line by line, one metric line in 50; cat: the same bytes at full speed)")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        blob = Path(tmp) / "out.txt"
        C.run_cmd(f"{PY} print.py {size} > {blob}", cwd=proj)
        rows = []
        cases = [
            ("python print.py", f"{PY} print.py {size}"),
            (f"cat {size >> 20} MB file", f"cat {blob}"),
        ]
        ratios = []
        for label, cmd in cases:
            floor = C.time_cmd(f"{cmd} | cat > /dev/null", n, cwd=proj)
            devnull = C.time_cmd(f"{cmd} > /dev/null", n, cwd=proj)
            tmt_run = C.time_cmd(f"{TMT} run -- {cmd} | cat > /dev/null", n, cwd=proj)
            quiet = C.time_cmd(f"{TMT} run --no-scalars -- {cmd} | cat > /dev/null", n, cwd=proj)
            capture = C.ratio(tmt_run.median - overhead, floor.median)
            ratios.append((label, capture))
            rows += [
                [f"{label} > /dev/null", C.fmt_s(devnull.median), ""],
                [f"{label} | cat", C.fmt_s(floor.median), "1.00x"],
                [f"tmt run -- {label} | cat", C.fmt_s(tmt_run.median), f"{C.fmt_x(capture)} (fixed overhead subtracted)"],
                [f"tmt run --no-scalars -- {label} | cat", C.fmt_s(quiet.median),
                 C.fmt_x(C.ratio(quiet.median - overhead, floor.median))],
            ]
        report.table(["", "median", "vs the pipe"], rows)
    label, capture = ratios[0]
    report.target(f"output capture of {label} ({size >> 20} MB) at most 5% more", capture <= 1.05,
                  f"{(capture - 1) * 100:+.1f}% (cat of the same bytes: {(ratios[1][1] - 1) * 100:+.1f}%)")
    report.out(f"load average at end: {os.getloadavg()[0]:.2f}")
    report.summary()
    shutil.rmtree(proj / ".tmt" / "cache" / "rerun", ignore_errors=True)


if __name__ == "__main__":
    main()
