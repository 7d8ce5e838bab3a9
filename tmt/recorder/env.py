"""The environment of a run: command line, interpreter, machine, git state, cluster job ids.

Paths inside the project are stored relative to the code root, so a record stays true when
the project is moved or copied to another machine. git is asked through the `git`
executable, started before the snapshot and collected after it, so it costs no wall time
in the common case; no git, no work tree or a slow git only leaves `git` as null.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any

from tmt._sys import hostname

if TYPE_CHECKING:  # pragma: no cover
    import subprocess

# subprocess and platform are imported only when needed: they cost milliseconds at the
# start of a short script, and most projects are either not git work trees or need no git.

GIT_TIMEOUT_S = 3.0
SLURM_VARS = {
    "job_id": "SLURM_JOB_ID",
    "array_job_id": "SLURM_ARRAY_JOB_ID",
    "array_task_id": "SLURM_ARRAY_TASK_ID",
}

_STATIC: dict[str, Any] | None = None


def _inside(p: str, folder: str) -> bool:
    return p == folder or p.startswith(folder.rstrip(os.sep) + os.sep)


def relative_to_root(path: str | os.PathLike[str], root: Path, project: Path | None = None) -> str:
    """`path` relative to `root` (posix separators) when it is inside `root`, or inside
    `project` (the folder holding .tmt/, which moves with the code); else as given."""
    p = os.path.abspath(path)
    r = os.fspath(root)
    if _inside(p, r) or (project is not None and _inside(p, os.fspath(project))):
        return Path(os.path.relpath(p, r)).as_posix()
    return os.fspath(path)


def _static() -> dict[str, Any]:
    """What cannot change while the process lives (computed once: platform() forks on some systems)."""
    global _STATIC
    if _STATIC is None:
        user = _user()
        u = os.uname() if hasattr(os, "uname") else None
        if u:
            plat = f"{u.sysname}-{u.release}-{u.machine}"
        else:  # pragma: no cover - Windows
            import platform

            plat = platform.platform()
        from tmt import __version__

        v = sys.version_info
        _STATIC = {
            "python": f"{v.major}.{v.minor}.{v.micro}" + ("" if v.releaselevel == "final" else f"{v.releaselevel[0]}{v.serial}"),
            "implementation": sys.implementation.name,
            "platform": plat,
            "user": user,
            "tmt": __version__,
        }
    return _STATIC


def _user() -> str | None:
    """The login name, as getpass.getuser() finds it, without importing getpass."""
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        name = os.environ.get(var)
        if name:
            return name
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):  # no passwd entry in a container; not POSIX
        return None


def capture_env(root: Path, project: Path | None = None, *, argv: list[str] | None = None) -> dict[str, Any]:
    """The env of a run. `argv`: a command line to record as given (`tmt run`'s command);
    by default this process's sys.argv, its script relative to the code root."""
    module = None
    if argv is None:
        argv = list(sys.argv)
        if argv and argv[0] and argv[0] not in ("-c", "-m", "-"):
            argv[0] = relative_to_root(argv[0], root, project)
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if spec is not None and getattr(spec, "name", None) not in (None, "__main__"):
            module = spec.name  # `python -m pkg.train`: what a rerun must run again
    else:
        argv = list(argv)
    static = _static()
    env: dict[str, Any] = {
        "argv": argv,
        "cwd": relative_to_root(os.getcwd(), root, project),
        "python": static["python"],
        "implementation": static["implementation"],
        "platform": static["platform"],
        "host": hostname(),
        "user": static["user"],
        "pid": os.getpid(),
        "tmt": static["tmt"],
    }
    if module:
        env["module"] = module
    slurm = {key: os.environ[var] for key, var in SLURM_VARS.items() if os.environ.get(var)}
    if slurm:
        env["slurm"] = slurm
    return env


def _in_git_tree(root: Path) -> bool:
    # A stat per parent is far cheaper than starting git in a folder that has none.
    for d in (root, *root.parents):
        if os.path.exists(os.path.join(d, ".git")):
            return True
    return False


class GitProbe:
    """`git status --porcelain=v2 --branch` started now, parsed by `result()`."""

    def __init__(self, root: Path, *, skip: bool = False) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        if skip or not _in_git_tree(root):
            return
        import subprocess
        env = dict(os.environ)
        env["GIT_OPTIONAL_LOCKS"] = "0"  # never take index.lock: the user's git must not trip on us
        env["LC_ALL"] = "C"
        try:
            self._proc = subprocess.Popen(
                ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        except OSError:  # no git executable
            self._proc = None

    def result(self) -> dict[str, Any] | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        import subprocess
        try:
            out, _ = proc.communicate(timeout=GIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None
        if proc.returncode != 0:
            return None
        return parse_git_status(out.decode("utf-8", "replace"))

    def cancel(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()


def parse_git_status(text: str) -> dict[str, Any] | None:
    commit = branch = None
    dirty = False
    for line in text.splitlines():
        if line.startswith("# branch.oid "):
            value = line[len("# branch.oid ") :].strip()
            commit = None if value == "(initial)" else value
        elif line.startswith("# branch.head "):
            value = line[len("# branch.head ") :].strip()
            branch = None if value == "(detached)" else value
        elif line and not line.startswith("#"):
            dirty = True
    return {"commit": commit, "branch": branch, "dirty": dirty}
