"""Benchmark: finding runs in a store of 100,000 runs (5 params, 5 metrics each).

    /work/venv/bin/python benchmarks/query.py [--runs 100000] [--mlflow-runs 10000] [--workdir DIR]

Builds the store by writing record files directly (the recorder is not what is measured),
then measures medians of: `tmt.runs().to_pandas()`, a filtered query, `tmt.get('last')`
in-process and as a whole fresh process, and an index rebuild from scratch. Against:

- the predecessor (ThatMetricTimeline 0.1.8, /work/oldvenv): its DbManager on the same runs,
  written in its JSON db format: all entries (its table), a name query + metric filter, and
  one entry by id (it has no `last`);
- MLflow `search_runs` on a sqlite backend (a separate venv, /work/mlflowvenv; skipped with a
  message when it is not installed), on --mlflow-runs runs, with tmt measured on a store of
  the same size for the ratio.

Targets at 100k runs: to_pandas < 1 s, filtered < 50 ms, get('last') < 20 ms, rebuild < 10 s.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import tmt
from tmt.query import index as ix
from tmt.records.model import Record, encode
from tmt.repo import Repo

OLD_PYTHON = "/work/oldvenv/bin/python"
MLFLOW_PYTHON = "/work/mlflowvenv/bin/python"
NAMES = 50
T_END = datetime(2025, 1, 1, tzinfo=timezone.utc)
FILTER = dict(name="^exp_1", where=["f1 > 0.9", "params.lr <= 0.001"])


def median(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def fake_runs(n: int, seed: int = 7):
    rnd = random.Random(seed)
    start = T_END - timedelta(seconds=n)
    for i in range(n):
        created = start + timedelta(seconds=i)
        yield Record(
            id=f"{rnd.getrandbits(128):032x}", name=f"exp_{i % NAMES}", status="completed",
            created_at=created.isoformat(), finished_at=(created + timedelta(seconds=0.5)).isoformat(),
            duration_s=0.5,
            params={"lr": rnd.choice([0.1, 0.01, 0.001, 0.0001]), "batch": rnd.choice([16, 32, 64, 128]),
                    "opt": rnd.choice(["adam", "sgd", "rmsprop"]), "layers": rnd.randint(1, 12),
                    "dropout": round(rnd.random() / 2, 3)},
            metrics={"f1": rnd.random(), "accuracy": rnd.random(), "loss": rnd.random() * 3,
                     "precision": rnd.random(), "recall": rnd.random()},
            env={"host": "bench", "pid": 1, "argv": ["train.py"], "python": "3.11"},
        )


def build_store(folder: Path, n: int) -> Repo:
    """Write n records directly (no fsync: this is set-up), reusing a complete earlier build."""
    marker = folder / f".built-{n}"
    if marker.exists():
        return Repo(folder / ".tmt")
    if folder.exists():
        shutil.rmtree(folder)
    repo = Repo.init(folder)
    t = time.perf_counter()
    exp = repo.experiments_dir
    for rec in fake_runs(n):
        data = json.dumps(encode(rec), indent=2, ensure_ascii=False, allow_nan=False).encode() + b"\n"
        with open(exp / f"{rec.id}.json", "wb") as f:
            f.write(data)
    marker.write_text("")
    print(f"  built {n:,} records in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return repo


def age_dir(repo: Repo) -> None:
    """Set the experiments folder's mtime in the past, as after a pause between runs (a
    folder changed within the last second is rescanned by design, see index.py)."""
    past = time.time() - 5
    os.utime(repo.experiments_dir, (past, past))


def measure_tmt(repo: Repo, quick: bool = False) -> dict[str, float]:
    out: dict[str, float] = {}
    age_dir(repo)
    ix._OPEN.clear()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{repo.tmt_dir / 'index.sqlite'}{suffix}").unlink(missing_ok=True)

    def rebuild():
        ix._OPEN.clear()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{repo.tmt_dir / 'index.sqlite'}{suffix}").unlink(missing_ok=True)
        count = tmt.query.rebuild_index(repo)
        assert count > 0

    out["rebuild"] = median(rebuild, 1 if quick else 3)
    age_dir(repo)
    tmt.runs(repo=repo)  # settle
    # The first `where` on a key after a rebuild fills that key's values in the index.
    t = time.perf_counter()
    len(tmt.runs(repo=repo, **FILTER))
    out["filtered_first"] = time.perf_counter() - t
    df = tmt.runs(repo=repo).to_pandas()
    out["rows"] = len(df)
    out["to_pandas"] = median(lambda: tmt.runs(repo=repo).to_pandas(), 5)
    out["filtered_n"] = len(tmt.runs(repo=repo, **FILTER))
    out["filtered"] = median(lambda: len(tmt.runs(repo=repo, **FILTER)), 21)
    out["get_last"] = median(lambda: tmt.get("last", repo=repo).metrics, 51)
    code = f"import tmt; tmt.get('last', repo={str(repo.tmt_dir.parent)!r}).metrics"
    out["get_last_process"] = median(lambda: subprocess.run([sys.executable, "-c", code], check=True), 7)
    out["python_floor"] = median(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 7)
    return out


# -- the predecessor ------------------------------------------------------------------------

OLD_SCRIPT = textwrap.dedent("""
    import json, statistics, sys, time, os
    from tmt.storage.json_db import DbManager
    path, last_id = sys.argv[1], sys.argv[2]
    db = DbManager(path, read_only=True)
    def median(fn, n):
        ts = []
        for _ in range(n):
            t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
        return statistics.median(ts)
    def filtered():
        return [e for e in db.get_entries_by_name("exp_1")
                if any(m.name == "f1" and m.value > 0.9 for m in e.metrics)]
    out = {
        "all": median(lambda: db.get_entries_by_name(""), 3),
        "filtered": median(filtered, 3),
        "by_id": median(lambda: db.get_entry_by_id(last_id), 5),
    }
    try:
        db.get_entries_greater_than_date(0)
        out["dates"] = "ok"
    except Exception as e:
        out["dates"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))
""")


def write_old_db(folder: Path, n: int) -> tuple[Path, str]:
    path = folder / ".tmt" / "tmt_db.json"
    marker = folder / f".built-{n}"
    last_id = ""
    if marker.exists():
        return path, marker.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = []
    for rec in fake_runs(n):
        ts = int(datetime.fromisoformat(rec.created_at).timestamp())
        data.append({
            "id": rec.id, "name": rec.name, "args": json.dumps(rec.params), "date_created": ts,
            "local_results_path": f".tmt/results/{rec.id}", "local_snapshot_path": f".tmt/snapshots/{rec.id}",
            "description": "", "date_saved": ts + 1,
            "metrics": [{"entry_id": rec.id, "name": k, "value": v} for k, v in rec.metrics.items()],
            "other_runs": [], "results": [], "version": "0.1.8",
        })
        last_id = rec.id
    path.write_text(json.dumps({"data": data}))
    marker.write_text(last_id)
    return path, last_id


def measure_old(folder: Path, n: int) -> dict | str:
    if not os.path.exists(OLD_PYTHON):
        return f"skipped: {OLD_PYTHON} not found"
    path, last_id = write_old_db(folder, n)
    script = folder / "old_bench.py"
    script.write_text(OLD_SCRIPT)
    res = subprocess.run([OLD_PYTHON, str(script), str(path), last_id], capture_output=True, text=True,
                         cwd=folder, timeout=3600)
    if res.returncode != 0:
        return f"skipped: predecessor failed: {res.stderr.strip().splitlines()[-1:]}"
    return json.loads(res.stdout)


# -- MLflow ---------------------------------------------------------------------------------

MLFLOW_SCRIPT = textwrap.dedent("""
    import json, os, statistics, sys, time, logging
    logging.disable(logging.WARNING)
    import mlflow
    from mlflow.tracking import MlflowClient
    from mlflow.entities import Metric, Param, RunTag
    folder, n, runs_json = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    uri = "sqlite:///" + os.path.join(folder, "mlflow.db")
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    marker = os.path.join(folder, f".built-{n}")
    if not os.path.exists(marker):
        exp = client.create_experiment("bench")
        t = time.perf_counter()
        with open(runs_json) as f:
            runs = json.load(f)
        for r in runs:
            run = client.create_run(exp, start_time=int(r["t"] * 1000), run_name=r["name"])
            rid = run.info.run_id
            ms = int(r["t"] * 1000)
            client.log_batch(rid, metrics=[Metric(k, v, ms, 0) for k, v in r["metrics"].items()],
                             params=[Param(k, str(v)) for k, v in r["params"].items()])
            client.set_terminated(rid, end_time=ms + 500)
        open(marker, "w").write(exp)
        print(f"  mlflow: logged {n:,} runs in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    exp = open(marker).read()
    def median(fn, k):
        ts = []
        for _ in range(k):
            t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
        return statistics.median(ts)
    rows = len(mlflow.search_runs([exp], max_results=n + 10))
    out = {
        "rows": rows,
        "all": median(lambda: mlflow.search_runs([exp], max_results=n + 10), 3),
        "filtered": median(lambda: mlflow.search_runs([exp], filter_string="metrics.f1 > 0.9 and params.lr = '0.001' and attributes.run_name LIKE 'exp_1%'", max_results=n + 10), 5),
        "last": median(lambda: mlflow.search_runs([exp], max_results=1, order_by=["attributes.start_time DESC"]), 11),
    }
    print(json.dumps(out))
""")


def measure_mlflow(folder: Path, n: int) -> dict | str:
    if not os.path.exists(MLFLOW_PYTHON):
        return f"skipped: no MLflow venv at {MLFLOW_PYTHON} (python -m venv /work/mlflowvenv && /work/mlflowvenv/bin/pip install mlflow)"
    probe = subprocess.run([MLFLOW_PYTHON, "-c", "import mlflow, sqlalchemy"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "skipped: MLflow is not installed in /work/mlflowvenv"
    folder.mkdir(parents=True, exist_ok=True)
    runs_json = folder / "runs.json"
    if not runs_json.exists():
        runs_json.write_text(json.dumps([
            {"name": r.name, "t": datetime.fromisoformat(r.created_at).timestamp(), "params": r.params, "metrics": r.metrics}
            for r in fake_runs(n)
        ]))
    script = folder / "mlflow_bench.py"
    script.write_text(MLFLOW_SCRIPT)
    res = subprocess.run([MLFLOW_PYTHON, str(script), str(folder), str(n), str(runs_json)],
                         capture_output=True, text=True, timeout=7200)
    if res.returncode != 0:
        return f"skipped: MLflow failed: {res.stderr.strip().splitlines()[-1:]}"
    sys.stderr.write("".join(line + "\n" for line in res.stderr.splitlines() if line.startswith("  mlflow")))
    return json.loads(res.stdout.strip().splitlines()[-1])


# -- report ---------------------------------------------------------------------------------


def ms(s: float) -> str:
    return f"{s * 1000:9.2f} ms"


def ratio(theirs: float, ours: float) -> str:
    return f"{theirs / ours:8.1f}x" if ours > 0 else "       -"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--mlflow-runs", type=int, default=10_000)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "tmt-bench-query"))
    ap.add_argument("--skip-old", action="store_true")
    ap.add_argument("--skip-mlflow", action="store_true")
    args = ap.parse_args()
    work = Path(args.workdir)
    n = args.runs
    print(f"query benchmark: {n:,} runs, 5 params + 5 metrics each (medians; workdir {work})")
    print(f"machine: {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.1f}")
    repo = build_store(work / f"tmt-{n}", n)
    ours = measure_tmt(repo)
    old = "skipped (--skip-old)" if args.skip_old else measure_old(work / f"old-{n}", n)

    targets = {"to_pandas": 1.0, "filtered": 0.05, "get_last": 0.02, "rebuild": 10.0}
    print(f"\ntmt at {n:,} runs                           median      target")
    rows = [
        ("to_pandas", f"tmt.runs().to_pandas()  ({int(ours['rows']):,} rows)"),
        ("filtered", f"tmt.runs(name=^exp_1, f1>0.9, lr<=0.001) ({int(ours['filtered_n'])} runs)"),
        ("filtered_first", "  the same, first time after a rebuild (fills f1, lr)"),
        ("get_last", "tmt.get('last') in-process"),
        ("get_last_process", "python -c \"tmt.get('last')\" whole process"),
        ("python_floor", "python -c pass (floor)"),
        ("rebuild", "index rebuild from the records"),
    ]
    for key, label in rows:
        tgt = targets.get(key)
        ok = "" if tgt is None else (f"< {tgt * 1000:.0f} ms  " + ("OK" if ours[key] < tgt else "MISSED"))
        print(f"  {label:<62} {ms(ours[key])}  {ok}")

    print(f"\npredecessor DbManager (JSON db) at {n:,} runs                 its time       tmt     ratio")
    if isinstance(old, str):
        print(f"  {old}")
    else:
        print(f"  all entries (get_entries_by_name(''))  vs to_pandas       {ms(old['all'])} {ms(ours['to_pandas'])} {ratio(old['all'], ours['to_pandas'])}")
        print(f"  name + metric filter (in Python)  vs filtered query       {ms(old['filtered'])} {ms(ours['filtered'])} {ratio(old['filtered'], ours['filtered'])}")
        print(f"  get_entry_by_id(last id)  vs tmt.get('last')              {ms(old['by_id'])} {ms(ours['get_last'])} {ratio(old['by_id'], ours['get_last'])}")
        print(f"  (its date queries: {old['dates']})")

    if args.skip_mlflow:
        print("\nMLflow: skipped (--skip-mlflow)")
        return
    m = args.mlflow_runs
    mres = measure_mlflow(work / f"mlflow-{m}", m)
    print(f"\nMLflow search_runs (sqlite backend) at {m:,} runs         its time       tmt     ratio")
    if isinstance(mres, str):
        print(f"  {mres}")
        return
    small = ours if m == n else measure_tmt(build_store(work / f"tmt-{m}", m), quick=True)
    print(f"  search_runs() (all, DataFrame, {mres['rows']:,} rows) vs to_pandas  {ms(mres['all'])} {ms(small['to_pandas'])} {ratio(mres['all'], small['to_pandas'])}")
    print(f"  search_runs(filter) vs filtered query                   {ms(mres['filtered'])} {ms(small['filtered'])} {ratio(mres['filtered'], small['filtered'])}")
    print(f"  search_runs(max_results=1, newest) vs get('last')       {ms(mres['last'])} {ms(small['get_last'])} {ratio(mres['last'], small['get_last'])}")


if __name__ == "__main__":
    main()
