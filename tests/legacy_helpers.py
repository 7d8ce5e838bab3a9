"""A project recorded by the real ThatMetricTimeline 0.1.8, and what `tmt migrate` must make of it.

`record_project(old_python, folder)` writes a small git project and records four runs with
0.1.8's own decorator, editing the code between them: results saved with pickle, with a
custom_save that adds its own extension (as numpy.save does), with one that returns another
path, one name saved twice; a sub-entry (DuplicatePolicy.AS_SUB_ENTRY); metrics that are not
numbers (a string, None, NaN); a run that raised with save_on_exception=True. `expected_runs`
says what each run must become; `check_migrated` runs the real `tmt` command and checks it.

Used by tests/test_legacy_migrate.py on the committed store (tests/data/legacy-0.1.8/, made
by its make_store.py with this module) and on a store recorded live in the test session.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "data" / "legacy-0.1.8"
GOLDEN_TAR = GOLDEN / "store.tar.gz"
NOTICE = "found {n} runs recorded by tmt 0.1.8: import them with 'tmt migrate'"

TRAIN_PY = '''\
import os
import sys

from tmt import tmt_recorder, tmt_save
from tmt.utils.duplicates import DuplicatePolicy, DuplicateStrategy

from pkg import model

name, mode = sys.argv[1], sys.argv[2]
policy = DuplicatePolicy.AS_SUB_ENTRY if mode == "sub" else DuplicatePolicy.AS_NEW_ENTRY


def save_text(obj, path):
    # adds its own extension, as numpy.save does: 0.1.8 records the path without it
    with open(path + ".txt", "w") as f:
        f.write(repr(obj))


def save_json(obj, path):
    # writes elsewhere and returns that path, which 0.1.8 records
    import json

    target = os.path.join(os.path.dirname(path), "saved_" + os.path.basename(path))
    with open(target, "w") as f:
        json.dump(obj, f)
    return target


@tmt_recorder(name=name, description=f"{name} at scale {model.SCALE}",
              duplicate_strategy=DuplicateStrategy(policy), save_on_exception=(mode == "fail"))
def train(scale):
    tmt_save({"scale": scale, "weights": [scale, 2 * scale]}, "model")
    tmt_save([scale] * 3, "preds", custom_save=save_text)
    tmt_save({"scale": scale}, "summary", custom_save=save_json, extension=".json")
    tmt_save("first", "dup", allow_exist=True)
    tmt_save("second", "dup", allow_exist=True)  # 0.1.8 overwrites dup.pkl: one object remains
    if mode == "fail":
        raise RuntimeError("diverged")
    return {"f1": 0.5 + scale / 10, "epochs": 3 * scale, "note": f"scale {scale}", "missing": None,
            "nan": float("nan")}


train(model.SCALE)
'''

GITIGNORE = "data/\n*.log\n__pycache__/\n"


@dataclass(frozen=True)
class Step:
    argv: tuple[str, ...]  # train.py's arguments
    edits: dict[str, str]  # files written before the run (relative path -> text)
    scale: int
    failed: bool = False


STEPS = (
    Step(("baseline", "new"), {
        ".gitignore": GITIGNORE, "train.py": TRAIN_PY, "pkg/__init__.py": "",
        "pkg/model.py": "SCALE = 1\n", "data/train.csv": "x,y\n1,2\n", "run.log": "started\n",
        "pkg/__pycache__/old.cpython-311.pyc": "not code\n",
    }, 1),
    Step(("baseline", "sub"), {"pkg/model.py": "SCALE = 2\n", "pkg/extra.py": "EXTRA = True\n"}, 2),
    Step(("other", "new"), {"pkg/model.py": "SCALE = 3\n", "train.py": TRAIN_PY + "# tuned\n"}, 3),
    Step(("diverging", "fail"), {"pkg/model.py": "SCALE = 4\n"}, 4, failed=True),
)

#: What tmt keeps of a snapshot folder: .git and the files the project's .gitignore ignores
#: are left out, as in any tmt snapshot (0.1.8's first snapshot copied them all).
IGNORED_PREFIXES = ("data/", ".git/", "pkg/__pycache__/")


def env_without_tmt() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("TMT_", "PYTHON"))}


def _old_env() -> dict[str, str]:
    # No .pyc: pkg/model.py is edited within a second at the same size, and a stale .pyc
    # (checked by whole-second mtime and size) would run the previous version.
    return {**env_without_tmt(), "PYTHONDONTWRITEBYTECODE": "1"}


def record_project(old_python: str | Path, folder: Path) -> None:
    """Record STEPS with 0.1.8 in `folder`, a new git work tree."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--template=", str(folder)], check=True)
    for step in STEPS:
        for rel, text in step.edits.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        subprocess.run([str(old_python), "train.py", *step.argv], cwd=folder, check=True,
                       env=_old_env(), capture_output=True)


def step_codes() -> list[dict[str, str]]:
    """The code each run must restore: the project's files then, less what .gitignore ignores."""
    state: dict[str, str] = {}
    codes = []
    for step in STEPS:
        state.update(step.edits)
        codes.append({rel: text for rel, text in state.items()
                      if not rel.startswith(IGNORED_PREFIXES) and not rel.endswith(".log")})
    return codes


def legacy_entries(project: Path) -> dict[str, dict]:
    """The entries of the project's tmt_db.json (sub-entries included) by their args."""
    data = json.loads((project / ".tmt" / "tmt_db.json").read_text())["data"]
    out: dict[str, dict] = {}

    def walk(entries: list[dict], parent: str | None) -> None:
        for e in entries:
            out[e["args"]] = {**e, "parent": parent}
            walk(e["other_runs"], e["id"])

    walk(data, None)
    return out


def expected_runs(project: Path) -> list[dict]:
    entries = legacy_entries(project)
    runs = []
    for step, code in zip(STEPS, step_codes()):
        e = entries[" ".join(("train.py", *step.argv))]
        s = step.scale
        runs.append({
            "legacy_id": e["id"],
            "id": e["id"].replace("-", ""),
            "name": step.argv[0],
            "description": f"{step.argv[0]} at scale {s}",
            "parent": e["parent"].replace("-", "") if e["parent"] else None,
            "argv": ["train.py", *step.argv],
            "date_created": e["date_created"],
            "date_saved": e["date_saved"],
            "metrics": {} if step.failed else {"f1": 0.5 + s / 10, "epochs": 3 * s, "nan": math.nan},
            "outputs": {} if step.failed else {"note": f"scale {s}"},
            "artifacts": {
                "model": ({"scale": s, "weights": [s, 2 * s]}, "pickle", "model.pkl"),
                "preds": (repr([s] * 3), "txt", "preds.pkl.txt"),
                "summary": ({"scale": s}, "json", "saved_summary.json"),
                "dup": ("second", "pickle", "dup.pkl"),
            },
            "code": code,
        })
    return runs


def extract_golden(dest: Path) -> Path:
    """The committed 0.1.8 project, unpacked into `dest` (a new place: its paths moved)."""
    with tarfile.open(GOLDEN_TAR) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="tar")  # keeps hard links, symlinks and modes
        else:
            tar.extractall(dest)
    return dest / "project"


def tmt(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The real `tmt` command (of the interpreter running the tests) in `project`."""
    env = {**env_without_tmt(), "NO_COLOR": "1", "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-c", "from tmt.cli import main; main()", *args], cwd=project,
                          env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"tmt {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def files_of(folder: Path) -> dict[str, bytes]:
    """The files of a view, but its `.tmt` pointer to its store (docs/format.md, "Views")."""
    out = {}
    for dirpath, _dirs, names in os.walk(folder):
        for n in names:
            p = Path(dirpath, n)
            if p == folder / ".tmt" and p.read_bytes().startswith(b"tmtdir: "):
                continue
            out[p.relative_to(folder).as_posix()] = p.read_bytes()
    return out


def check_migrated(project: Path, runs: list[dict], scratch: Path) -> None:
    """Everything a user relies on after `tmt migrate`, through the real command and the API."""
    n = len(runs)
    before = tmt(project, "ls")
    assert before.stderr.splitlines().count(NOTICE.format(n=n)) == 1, before.stderr
    assert "No runs yet" in before.stderr

    first = tmt(project, "migrate")
    assert first.stdout.strip() == f"Imported {n} runs recorded by tmt 0.1.8 (1 of them sub-runs).", first.stdout
    assert NOTICE.format(n=n) not in first.stderr

    import tmt as api
    from tmt import TmtManager

    for want in runs:
        run = api.get(want["id"], repo=project)
        assert run.id == want["id"] and run.name == want["name"] and run.status == "completed"
        rec = run.record
        assert rec.description == want["description"]
        assert rec.parent == want["parent"]
        assert rec.env["argv"] == want["argv"] and rec.env["tmt"] == "0.1.8"
        created = datetime.fromisoformat(rec.created_at)
        assert created.tzinfo is not None and abs(created.timestamp() - want["date_created"]) < 0.01
        assert created.utcoffset() == datetime.fromtimestamp(want["date_created"]).astimezone().utcoffset()
        assert abs(datetime.fromisoformat(rec.finished_at).timestamp() - want["date_saved"]) < 0.01
        got = dict(run.metrics)
        if want["metrics"]:
            assert math.isnan(got.pop("nan"))
            assert got == {k: v for k, v in want["metrics"].items() if k != "nan"}
        else:
            assert got == {}
        assert rec.outputs == want["outputs"]
        assert sorted(run.artifacts) == sorted(want["artifacts"])
        for name, (value, fmt, filename) in want["artifacts"].items():
            art = run.artifacts[name]
            assert (art.load(), art.format, art.filename) == (value, fmt, filename), name
        out = scratch / f"code-{want['id'][:8]}"
        tmt(project, "checkout", want["id"][:8], "-o", str(out))
        assert files_of(out) == {k: v.encode() for k, v in want["code"].items()}

    # the predecessor's manager: hyphenated ids, names, and a parent's results with its sub-runs'
    manager = TmtManager(config=project)
    assert manager.set_entry_by_id(runs[1]["legacy_id"]).id == runs[1]["id"]
    assert manager.set_entry_by_name("other").id == runs[2]["id"]
    manager.set_entry_by_id(runs[0]["legacy_id"])
    assert [name for name, _ in manager.load_results()] == ["model", "preds", "summary", "dup"] * 2
    assert [r.id for r in api.runs(parent=runs[0]["id"], repo=project)] == [runs[1]["id"]]

    records = {p.name: p.read_bytes() for p in (project / ".tmt" / "experiments").iterdir()}
    again = tmt(project, "migrate")
    assert again.stdout.strip() == f"Nothing to import: the {n} runs recorded by tmt 0.1.8 are already in the store."
    assert {p.name: p.read_bytes() for p in (project / ".tmt" / "experiments").iterdir()} == records

    after = tmt(project, "ls", "--json")
    assert "tmt 0.1.8" not in after.stderr, after.stderr
    assert sorted(r["id"] for r in json.loads(after.stdout)) == sorted(r["id"] for r in runs)

    removed = tmt(project, "migrate", "--remove-legacy")
    assert "Removed the tmt 0.1.8 files" in removed.stdout, removed.stdout
    tmt_dir = project / ".tmt"
    assert not any((tmt_dir / p).exists() for p in ("tmt_db.json", "tmt_db.json.lock", "snapshots", "results"))
    assert tmt(project, "fsck").returncode == 0
    last = api.get(runs[-1]["id"], repo=project)
    assert last.artifacts["model"].load() == runs[-1]["artifacts"]["model"][0]
    out = scratch / "code-after-removal"
    tmt(project, "checkout", runs[0]["id"], "-o", str(out))
    assert files_of(out) == {k: v.encode() for k, v in runs[0]["code"].items()}
