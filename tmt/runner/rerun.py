"""`tmt rerun REF`: run a recorded run's exact code again, as a new run (docs/run.md).

1. REF's code tree is materialized as writable copies into a new folder (under
   `.tmt/cache/rerun/`, or `--in DIR`) marked with a `.tmt` pointer file, so the new run
   records into this store with that folder as its code root (its snapshot is REF's tree).
2. REF's command runs again from REF's working folder inside it: `tmt run`'s command as
   it was given; a decorated run's script (or `-m` module) with this interpreter. `--set
   NAME=VALUE` is written where the command line spells NAME; otherwise argparse, click
   or the decorated function receives it as the parsed value (through the run's channel).
3. The new run is recorded as `tmt run` records (same --param, --metrics-file,
   --no-scalars), named as REF, tagged `rerun`, with `parent` = REF.
4. `--verify` compares its metrics (and step series) with REF's (`compare`).
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from tmt.errors import RecordError, UsageError
from tmt.records.model import Record, code_tree, flatten
from tmt.runner import argv as argvmod
from tmt.runner.command import RunResult, RunSpec, run_command
from tmt.store.ids import ObjectId

RERUN_TAG = "rerun"
#: --verify: two numbers agree when they differ by at most this much relative to the
#: larger (float64 sums done in another order differ by ~1e-16 per operation).
DEFAULT_TOLERANCE = 1e-12
#: ... or by this much absolutely (values at or near zero).
ABS_TOLERANCE = 1e-300


@dataclass(slots=True)
class Plan:
    """What a rerun will run: the command, from where, and the --set values it carries."""

    argv: list[str]
    program: str | None  # the file REF ran for argv[0], when it still exists
    cwd_rel: str  # REF's working folder, relative to the code root
    params: dict[str, Any]  # REF's --param values (with --set applied)
    overrides: dict[str, dict[str, Any]]  # --set values the command line cannot carry
    metrics_files: list[str]
    scalars: bool
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Difference:
    what: str  # "status", a metric's name, "series NAME"
    before: Any
    after: Any


@dataclass(slots=True)
class RerunResult:
    result: RunResult
    folder: Path
    ref: Record
    new: Record | None
    env_changes: list[str]
    differences: list[Difference] | None  # with verify


def _is_tmt_run(record: Record) -> bool:
    return isinstance((record.env or {}).get("tmt_run"), dict)


def plan(record: Record, sets: dict[str, str]) -> Plan:
    """The command to run again for `record`, with `sets` ({name: text}) applied."""
    env = record.env or {}
    argv = env.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise RecordError(f"run {record.id[:8]} ({record.name}) has no command line to run again")
    cwd = env.get("cwd")
    if not isinstance(cwd, str):
        cwd = "."
    notes = []
    if os.path.isabs(cwd) or cwd == ".." or cwd.startswith("../"):
        notes.append(f"run {record.id[:8]} ran from {cwd}, outside its code; the rerun runs from the code's root")
        cwd = "."
    program = None
    if _is_tmt_run(record):
        opts = env["tmt_run"]
        params = dict(opts.get("param") or {})
        files = [f for f in opts.get("metrics_file") or [] if isinstance(f, str)]
        scalars = not opts.get("no_scalars")
        command = list(argv)
        ran = env.get("program")
        if os.sep not in argv[0] and isinstance(ran, str) and os.path.isabs(ran):
            # `python` is whatever PATH finds: run the one REF ran, if it is still there
            if os.access(ran, os.X_OK) and not os.path.isdir(ran):
                program = ran
            else:
                notes.append(f"{argv[0]} was {ran} for run {record.id[:8]}, which is gone; "
                             "running the one on PATH")
    else:
        params, files, scalars = {}, [], True
        command = _python_command(record, argv, cwd)
        if os.path.isabs(argv[0]) and not (record.env or {}).get("module"):
            notes.append(f"run {record.id[:8]}'s script {argv[0]} is outside its code: the rerun runs it "
                         "as it is now")
    _check_sets(record, sets)
    command, left = argvmod.apply_set(command, sets)
    overrides = {}
    known = flatten(record.params)
    for given, text in left.items():
        name = given if given in known else argvmod.key(given)  # the param's recorded name
        if name in params:
            params[name] = argvmod.coerce(text)
        else:
            overrides[name] = {"raw": text, "value": typed_like(text, known.get(name))}
    return Plan(command, program, cwd, params, overrides, files, scalars, notes)


def _python_command(record: Record, argv: list[str], cwd: str) -> list[str]:
    """A decorated run's command: this interpreter, its script (relative to the code root
    in the record, so relative to REF's cwd here) or `-m` module, and its arguments."""
    module = (record.env or {}).get("module")
    if isinstance(module, str) and module:
        return [sys.executable, "-m", module, *argv[1:]]
    script = argv[0]
    if script in ("-c", "-", "") or "ipykernel" in os.path.basename(script):
        raise RecordError(
            f"run {record.id[:8]} ({record.name}) was not started from a script ({script or 'interactive'}); "
            "there is no command to run again",
            "record the script with `tmt run -- python script.py` (or a decorated function in a script)",
        )
    if not os.path.isabs(script):
        script = os.path.relpath(script, cwd) if cwd != "." else script
    return [sys.executable, script, *argv[1:]]


def _check_sets(record: Record, sets: dict[str, str]) -> None:
    known = flatten(record.params)
    for name in sets:
        if name not in known and argvmod.key(name) not in known:
            have = ", ".join(sorted(known)[:20]) or "none"
            raise UsageError(f"--set {name}: run {record.id[:8]} ({record.name}) has no param {name!r}",
                             f"its params: {have}")


def typed_like(text: str, like: Any) -> Any:
    """`text` read as the type of the value it replaces (a float param stays a float)."""
    value = argvmod.coerce(text)
    if isinstance(like, bool):
        return value if isinstance(value, bool) else text
    if isinstance(like, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(like, (list, dict)) or like is None:
        import json

        try:
            return json.loads(text)
        except ValueError:
            return value
    if isinstance(like, str):
        return text
    return value


def rerun(ref: str, *, sets: dict[str, str] | None = None, into: str | os.PathLike[str] | None = None,
          verify: bool = False, tolerance: float = DEFAULT_TOLERANCE, links: list[str] | None = None,
          repo: Any = None) -> RerunResult:
    """Run REF's code again as a new run (see the module docstring). `links`: paths of the
    project (data its snapshot leaves out) made visible in the rerun folder as symlinks."""
    from tmt._sys import token_hex
    from tmt.query import get
    from tmt.repo import Repo, write_pointer
    from tmt.snapshot.checkout import materialize

    repo = Repo.resolve(repo)
    old = get(ref, repo=repo)
    record = old.record
    tree = code_tree(record)  # required: RecordError when there is none
    assert tree is not None
    the_plan = plan(record, sets or {})
    targets = _link_targets(repo.root, links or [])
    folder = Path(into).absolute() if into is not None else repo.cache_dir / "rerun" / f"{record.id[:8]}-{token_hex(3)}"
    inside = _inside(folder, repo.tmt_dir)
    notes = list(the_plan.notes)
    if not inside and _inside(folder, repo.root):
        notes.append(f"{folder} is inside the code root {repo.root}: the project's next snapshots take it "
                     "too, unless it is ignored (.tmtignore); a folder outside the project avoids that")
    materialize(repo.store, ObjectId(tree), folder, link=False)  # code_tree validated it
    write_pointer(folder, repo.tmt_dir, relative=inside)
    for rel, _ in targets:
        if os.path.lexists(folder / rel):
            raise UsageError(f"--link {rel}: {rel} is part of run {record.id[:8]}'s code",
                             "link only what its snapshot left out (ignored data, checkpoints)")
    code = Repo(repo.tmt_dir, code_root=folder)
    code.view = True
    workdir = folder / the_plan.cwd_rel
    workdir.mkdir(parents=True, exist_ok=True)  # a working folder that held no code file
    git = (record.code or {}).get("git")

    def started(run) -> None:
        # The folder holds REF's code, not a git work tree: REF's commit describes it.
        if git is not None and run.record.code.get("tree") == tree:
            run.record.code["git"] = git
        # After the snapshot, so the new run's code is exactly REF's tree.
        for rel, target in targets:
            link = folder / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, link)

    spec = RunSpec(argv=the_plan.argv, name=record.name, tags=[RERUN_TAG], params=the_plan.params,
                   scalars=the_plan.scalars, metrics_files=the_plan.metrics_files, parent=record.id,
                   overrides=the_plan.overrides, repo=code, on_started=started, program=the_plan.program)
    here = os.getcwd()
    os.chdir(workdir)
    try:
        result = run_command(spec)
    finally:
        os.chdir(here)
    try:
        new = get(result.run_id, repo=repo).record
    except Exception:  # noqa: BLE001 - the final record could not be written (a warning said so)
        new = None
    changes = env_changes(record, new) if new is not None else []
    if result.status == "failed" and record.status == "completed" and not targets:
        left = left_out(repo.root, folder)
        if left:
            notes.append("the rerun folder holds run " + record.id[:8] + "'s code only; its snapshot left out "
                         + ", ".join(left) + ": if the command reads them, rerun with --link " + left[0].rstrip("/"))
    differences = compare(record, new, repo, tolerance) if verify and new is not None else None
    return RerunResult(result, folder, record, new, notes + changes, differences)


def _link_targets(root: Path, links: list[str]) -> list[tuple[str, str]]:
    """(path in the rerun folder, absolute target) for each --link, checked before anything
    is written: it must exist, and lie inside the code root."""
    out = []
    for given in links:
        target = Path(os.path.abspath(root / given))
        if not os.path.exists(target):
            raise UsageError(f"--link {given}: {target} does not exist")
        if not _inside(target, root) or os.path.samefile(target, root):
            raise UsageError(f"--link {given}: not a path inside the code root {root}")
        out.append((os.path.relpath(target, root), os.fspath(target)))
    return out


def left_out(root: Path, folder: Path, limit: int = 5) -> list[str]:
    """The top-level entries of the code root that the rerun folder lacks (what REF's
    snapshot left out), leaving out tmt's and git's folders and environments."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    out = []
    for name in names:
        path = root / name
        if name in (".tmt", ".git") or os.path.lexists(folder / name) or (path / "pyvenv.cfg").exists():
            continue
        out.append(name + "/" if path.is_dir() else name)
    return out[:limit]


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def env_changes(ref: Record, new: Record) -> list[str]:
    """What differs between the two runs' interpreters, platforms and package versions."""
    a, b = ref.env or {}, new.env or {}
    out = []
    for key in ("python", "implementation", "platform"):
        if a.get(key) and b.get(key) and a[key] != b[key]:
            out.append(f"{key} {a[key]} (run {ref.id[:8]}) but {b[key]} now")
    before = a.get("packages")
    if isinstance(before, dict) and before:
        after = b.get("packages")
        if not isinstance(after, dict) and _same_interpreter(new):
            after = _installed(before)  # the command ran in this environment: ask it
        if isinstance(after, dict):
            changed = [f"{name} {v} -> {after.get(name, 'absent')}" for name, v in sorted(before.items())
                       if after.get(name) != v]
            if changed:
                out.append("packages differ: " + ", ".join(changed[:10]) + (", ..." if len(changed) > 10 else ""))
    return out


def _same_interpreter(new: Record) -> bool:
    argv = (new.env or {}).get("argv") or []
    return bool(argv) and argv[0] == sys.executable


def _installed(names: dict[str, Any]) -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def agree(a: Any, b: Any, tolerance: float) -> bool:
    """Two metric values agree: equal, both NaN, or numbers within `tolerance` (relative)."""
    if a == b:
        return True
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    if not numbers:
        return False
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=ABS_TOLERANCE)


def compare(ref: Record, new: Record, repo: Any, tolerance: float = DEFAULT_TOLERANCE) -> list[Difference]:
    """Where the new run's outcome differs from REF's: status, final metrics, step series."""
    from tmt.records.series import load_series

    out = []
    if ref.status != new.status:
        out.append(Difference("status", ref.status, new.status))
    for name in sorted(ref.metrics.keys() | new.metrics.keys()):
        a, b = ref.metrics.get(name), new.metrics.get(name)
        if not agree(a, b, tolerance):
            out.append(Difference(name, a, b))
    for name in sorted(set(ref.series) | set(new.series)):
        try:
            sa, sb = load_series(repo, ref, name), load_series(repo, new, name)
        except Exception:  # noqa: BLE001 - an unreadable series cannot be said to agree
            sa = sb = None
        va = list(sa.values) if sa is not None else None
        vb = list(sb.values) if sb is not None else None
        if va is None or vb is None or len(va) != len(vb) or not all(agree(x, y, tolerance) for x, y in zip(va, vb)):
            out.append(Difference(f"series {name}", _series_label(va), _series_label(vb)))
    return out


def _series_label(values: list | None) -> str:
    if values is None:
        return "none"
    return f"{len(values)} points, last {values[-1]!r}" if values else "0 points"
