#!/usr/bin/env python3
"""CLI start-up and `tmt ls` speed, whole process, hyperfine-style medians.

    /work/venv/bin/python benchmarks/cli.py [--runs 100000] [--repeat 15] [--keep DIR]

Measures (each command started as a new process, output piped, median of --repeat runs):
- the floor: `python -c pass` and `python -c "import click"` with the same interpreter;
- `tmt --help`, and `tmt ls` on a small store (10 runs) — target: under 150 ms;
- `tmt ls -n 50` (the first screen: what `tmt ls` lists on a terminal, with the metrics and
  the params that differ among those runs) and `tmt ls --json -n 50` on a store of 100,000
  runs — target: under 0.5 s, param columns included (chosen with --params / --columns, or
  sorted and filtered on a series statistic: --sort loss.last, --where 'loss.min < …'); plus
  the first `tmt ls` on that store, which builds the query index from the record files
  (one-off), and `tmt show last`;
- `-X importtime`: the slowest imports of `tmt ls`.

The 100,000 runs are written directly as record files (no recording), each with a few
params and metrics, spread over the past year.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
TMT = str(Path(PY).parent / "tmt")


def timeit(cmd: list[str], cwd: Path, repeat: int, env: dict | None = None) -> tuple[float, float]:
    """(median, min) wall seconds of `cmd` as a fresh process, after one warm-up run."""
    e = {**os.environ, **(env or {})}
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=e)
        times.append(time.perf_counter() - t)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr.decode()}")
    return statistics.median(times), min(times)


def make_store(root: Path, n: int) -> None:
    """n runs as record files written directly (the recorder's format, no fsync)."""
    from tmt.repo import Repo

    repo = Repo.init(root)
    (root / "train.py").write_text("print('hi')\n")
    from tmt.snapshot.build import snapshot_repo

    snap = snapshot_repo(repo)
    from tmt.records.series import Series, encode_series

    loss_blob = repo.store.put(encode_series(Series("loss", [0, 1, 2], [1.0, 0.5, 0.25], [0.0, 1.0, 2.0])))
    exp = repo.experiments_dir
    now = time.time()
    names = [f"exp_{i}" for i in range(50)]
    for i in range(n):
        rid = f"{i:08x}" + os.urandom(12).hex()
        created = now - 365 * 86400 * (n - i) / n
        iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(created))
        rec = {
            "format": 1, "id": rid, "name": names[i % len(names)], "status": "completed" if i % 17 else "failed",
            "created_at": iso, "finished_at": iso, "duration_s": 10.0 + i % 100, "description": "", "tags": [],
            "code": {"root": ".", "tree": snap.tree, "files": snap.files, "bytes": snap.bytes, "git": None},
            "params": {"lr": 10 ** -(i % 5), "batch": 32 * (1 + i % 4), "optimizer": "adam" if i % 2 else "sgd"},
            "metrics": {"f1": (i % 1000) / 1000, "loss": 1 / (1 + i % 100), "acc": (i % 997) / 997},
            "series": {"loss": loss_blob}, "artifacts": [], "parent": None,
            "env": {"argv": ["train.py"], "cwd": ".", "python": "3.11", "host": "bench", "pid": 1, "user": "u"},
            "error": None,
            "series_summary": {"loss": {"points": 3, "last": 1 / (2 + i % 97), "min": 1 / (3 + i % 89), "max": 1.0,
                                        "first_step": 0, "last_step": 2}},
        }
        (exp / f"{rid}.json").write_text(json.dumps(rec))


def importtime(cwd: Path, args: list[str], top: int = 8) -> list[tuple[str, float]]:
    code = f"import sys; sys.argv=['tmt', *{args!r}]; from tmt.cli import main; main()"
    r = subprocess.run([PY, "-X", "importtime", "-c", code], cwd=cwd, capture_output=True, text=True)
    rows = []
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m and len(m.group(3)) <= 2:  # top-level imports only (cumulative includes children)
            rows.append((m.group(4), int(m.group(2)) / 1000))
    return sorted(rows, key=lambda r: -r[1])[:top]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--keep", metavar="DIR", help="build (or reuse) the big store in DIR and keep it")
    a = ap.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; medians of {a.repeat} runs (min in brackets)")
    tmp = Path(tempfile.mkdtemp(prefix="tmt-bench-cli-"))
    try:
        small = tmp / "small"
        small.mkdir()
        make_store(small, 10)
        rows = []
        for label, cmd in [
            ("python -c pass (floor)", [PY, "-c", "pass"]),
            ("python -c 'import click'", [PY, "-c", "import click"]),
            ("python -c 'import tmt'", [PY, "-c", "import tmt"]),
            ("tmt --help", [TMT, "--help"]),
            ("tmt ls (10 runs)", [TMT, "ls"]),
            ("tmt ls --json (10 runs)", [TMT, "ls", "--json"]),
            ("tmt show last (10 runs)", [TMT, "show", "last"]),
        ]:
            med, lo = timeit(cmd, small, a.repeat)
            rows.append((label, med, lo))
        floor = rows[0][1]
        for label, med, lo in rows:
            target = "  (target < 150 ms)" if label in ("tmt --help", "tmt ls (10 runs)") else ""
            print(f"  {label:<34} {med * 1000:7.1f} ms [{lo * 1000:6.1f}]  {med / floor:4.1f}x floor{target}")
        print("  slowest top-level imports of `tmt ls` (cumulative ms):")
        for mod, ms in importtime(small, ["ls"]):
            print(f"    {mod:<30} {ms:6.1f}")

        big = Path(a.keep) if a.keep else tmp / "big"
        if not (big / ".tmt" / "experiments").is_dir():
            big.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            make_store(big, a.runs)
            print(f"\n{a.runs} record files written in {time.perf_counter() - t:.1f} s")
        else:
            print(f"\nreusing the store in {big}")
        index = big / ".tmt" / "index.sqlite"
        for p in big.glob(".tmt/index.sqlite*"):
            p.unlink()
        t = time.perf_counter()
        r = subprocess.run([TMT, "ls", "-n", "50"], cwd=big, capture_output=True)
        cold = time.perf_counter() - t
        assert r.returncode == 0, r.stderr
        print(f"  first `tmt ls -n 50` (builds the index from the records): {cold:.2f} s"
              f"  (index {index.stat().st_size / 1e6:.0f} MB)" if index.exists() else "")
        for label, cmd in [
            ("tmt ls -n 50 (first screen)", [TMT, "ls", "-n", "50"]),
            ("tmt ls -n 50 --params lr,batch,optimizer", [TMT, "ls", "-n", "50", "--params", "lr,batch,optimizer"]),
            ("tmt ls -n 50 --columns f1,params.lr,loss.last", [TMT, "ls", "-n", "50", "--columns",
                                                              "f1,params.lr,loss.last"]),
            ("tmt ls --json -n 50", [TMT, "ls", "--json", "-n", "50"]),
            ("tmt ls --sort f1 -n 50", [TMT, "ls", "--sort", "f1", "-n", "50"]),
            ("tmt ls --sort loss.last -n 50", [TMT, "ls", "--sort", "loss.last", "-n", "50"]),
            ("tmt ls --sort params.lr -n 50", [TMT, "ls", "--sort", "params.lr", "-n", "50"]),
            ("tmt ls --where 'f1 > 0.99' -n 50", [TMT, "ls", "--where", "f1 > 0.99", "-n", "50"]),
            ("tmt ls --where 'loss.min < 0.0115' -n 50", [TMT, "ls", "--where", "loss.min < 0.0115", "-n", "50"]),
            ("tmt show last", [TMT, "show", "last"]),
        ]:
            med, lo = timeit(cmd, big, max(3, a.repeat // 3))
            first_screen = label.startswith(("tmt ls -n 50", "tmt ls --json -n 50"))  # no sort, no filter
            target = "  (target < 0.5 s)" if first_screen else ""
            print(f"  {label:<46} {med * 1000:7.1f} ms [{lo * 1000:6.1f}]{target}")
        t = time.perf_counter()
        r = subprocess.run([TMT, "ls"], cwd=big, capture_output=True)
        print(f"  tmt ls piped, all {a.runs} rows: {time.perf_counter() - t:.2f} s ({len(r.stdout) / 1e6:.1f} MB)")
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(tmp / "small", ignore_errors=True)


if __name__ == "__main__":
    main()
