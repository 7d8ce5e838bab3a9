"""Shared by tests/reliability and scripts/stress: real writer processes, the real `tmt`
command, and checks that a store lost nothing and shows nothing half-written.

Run as a script, it is a writer process:
    python workload.py writer ROOT ME RUNS OUT [--junk]
which records RUNS runs named w<ME> from the code root ROOT (each with 5 logged steps, a
JSON artifact, a pickled payload and a final metric), appending one JSON line per finished
run to OUT (id, i, start and end times). With --junk it also records and removes a throwaway
run after each one, so gc always has garbage to collect.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = 5


def tmt_command() -> str:
    """The installed `tmt` script of the interpreter running us (or the one on PATH)."""
    beside = Path(sys.executable).parent / "tmt"
    return str(beside) if beside.exists() else (shutil.which("tmt") or "tmt")


def run_tmt(args: list[str], cwd: str | os.PathLike[str], timeout: float = 120, env: dict | None = None):
    return subprocess.run(
        [tmt_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env=env if env is not None else child_env(),
    )


#: `tmt` as a user who is not root would run it, even when the tests run as root: the one
#: check that tells them apart (tmt.store.fsutil.ignores_file_modes) says no.
_AS_NON_ROOT = (
    "import sys, tmt.store.fsutil as f; f.ignores_file_modes = lambda: False; "
    "from tmt.cli import main; sys.argv[0] = 'tmt'; main()"
)


def run_tmt_as_non_root(args: list[str], cwd: str | os.PathLike[str], timeout: float = 120):
    return subprocess.run([sys.executable, "-c", _AS_NON_ROOT, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=child_env())


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMT_")}
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


SCRATCH = ".scratch"


def setup_project(root: Path) -> None:
    """A code root for writers: train.py, and .tmtignore leaving out the writers' scratch."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.py").write_text("print('hello')\n")
    (root / ".tmtignore").write_text(f"{SCRATCH}/\n")


# -- what a writer records ------------------------------------------------------------------


def loss(me: int, i: int, step: int) -> float:
    return me * 1000 + i + step / 8  # exact in binary floating point


def payload(me: int, i: int) -> bytes:
    """Half the payloads are shared by every writer (dedup under gc), half are unique."""
    seed = f"shared-{i % 3}" if i % 2 == 0 else f"writer-{me}-run-{i}"
    return hashlib.sha256(seed.encode()).digest() * (64 + i % 7)


def writer_main(root: str, me: int, runs: int, out: str, junk: bool) -> None:
    os.chdir(root)
    import tmt
    from tmt.query import remove

    mine = Path(root) / "src" / f"w{me}.py"
    mine.parent.mkdir(exist_ok=True)
    with open(out, "a", encoding="utf-8") as log:
        for i in range(runs):
            # Code churn: a new blob and new trees in most runs, shared trees otherwise.
            if i % 2 == 0:
                # The temp file lives in an ignored folder: other writers' snapshots would
                # otherwise (rightly) warn that a file vanished under them.
                tmp = Path(root) / SCRATCH / f"{mine.name}.{os.getpid()}"
                tmp.parent.mkdir(exist_ok=True)
                tmp.write_text(f"WRITER = {me}\nRUN = {i}\n")
                os.replace(tmp, mine)
            t0, w0 = time.monotonic(), time.time()
            with tmt.start_run(name=f"w{me}", params={"w": me, "i": i}, tags=["load"]) as run:
                for s in range(STEPS):
                    run.log({"loss": loss(me, i, s)}, step=s)
                run.save({"w": me, "i": i}, name="meta", format="json")
                run.save(payload(me, i), name="blob")
                run.metrics["score"] = me * 1000 + i
            line = {"id": run.id, "w": me, "i": i, "start": w0, "end": time.time(), "dt": time.monotonic() - t0}
            log.write(json.dumps(line) + "\n")
            log.flush()
            if junk:
                with tmt.start_run(name=f"junk{me}") as j:
                    j.save(os.urandom(3000), name="junk")
                remove(j.id)


# -- checks ----------------------------------------------------------------------------------


def read_lines(path: str | os.PathLike[str]) -> list[dict]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def half_written(tmt_dir: str | os.PathLike[str]) -> list[str]:
    """Everything visible that is not whole: objects that do not hash to their name, records
    that do not parse (or whose name is not their id). Temp files are not visible state."""
    from blake3 import blake3

    from tmt.errors import RecordError
    from tmt.records.io import read_record

    bad = []
    objects = Path(tmt_dir) / "objects"
    if objects.is_dir():
        for fan in sorted(os.listdir(objects)):
            for name in sorted(os.listdir(objects / fan)):
                p = objects / fan / name
                if blake3(p.read_bytes()).hexdigest() != fan + name:
                    bad.append(f"object {p} does not hash to its name")
    exp = Path(tmt_dir) / "experiments"
    if exp.is_dir():
        for name in sorted(os.listdir(exp)):
            if name.startswith("."):
                continue
            try:
                read_record(exp / name)
            except RecordError as e:
                bad.append(f"record {name}: {e.message}")
    return bad


def check_run(repo_path: str | os.PathLike[str], line: dict) -> list[str]:
    """What is wrong with run `line` (as a writer logged it): [] when it is whole and right."""
    import tmt
    from tmt.errors import TmtError

    me, i = line["w"], line["i"]
    try:
        run = tmt.get(line["id"], repo=repo_path)
        problems = []
        if run.status != "completed":
            problems.append(f"status {run.status}")
        if run.name != f"w{me}" or run.params != {"w": me, "i": i}:
            problems.append(f"name/params {run.name} {run.params}")
        if run.metrics != {"score": me * 1000 + i}:
            problems.append(f"metrics {run.metrics}")
        s = run.series("loss")
        if list(s.steps) != list(range(STEPS)) or list(s.values) != [loss(me, i, k) for k in range(STEPS)]:
            problems.append(f"series {list(s.steps)} {list(s.values)}")
        if run.artifacts["meta"].load() != {"w": me, "i": i}:
            problems.append("artifact meta")
        if run.artifacts["blob"].load() != payload(me, i):
            problems.append("artifact blob")
        tree = run.code["tree"]
        run.repo.store.get(tree, verify=True)
        return problems
    except TmtError as e:
        return [f"{type(e).__name__}: {e.message}"]


def check_runs(repo_path, lines: list[dict]) -> dict[str, list[str]]:
    out = {}
    for line in lines:
        p = check_run(repo_path, line)
        if p:
            out[line["id"]] = p
    return out


if __name__ == "__main__":
    if len(sys.argv) >= 6 and sys.argv[1] == "writer":
        writer_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], "--junk" in sys.argv[6:])
    else:
        sys.exit(__doc__)
