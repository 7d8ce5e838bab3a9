"""Review fixes in the recorder: big params, the user name without getpass."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import tmt
from tmt.records.io import read_record, record_files
from tmt.repo import Repo


def only_params(project: Path) -> dict:
    (path,) = record_files(project / ".tmt" / "experiments")
    return read_record(path).params


# -- big params are summarised, long strings cut (finding 15) ---------------------------------


def test_big_params_are_summarised_not_stored_whole(repo: Repo, project: Path) -> None:
    params = {
        "texts": ["a sentence of a dataset"] * 100_000,
        "vocab": set(range(100_000)),
        "lookup": {f"k{i}": i for i in range(100_000)},
        "raw": b"\0" * 1_000_000,
        "doc": "x" * 1_000_000,
        "nested": [list(range(1000))] * 300,
    }
    with tmt.start_run("big", params=params):
        pass
    p = only_params(project)
    assert p["texts"].startswith("['a sentence of a dataset', 'a sentence of a dataset', ")
    assert p["texts"].endswith("... (100000 items)") and len(p["texts"]) == 200 + len(" (100000 items)")
    assert p["vocab"] == "{0, 1, 2, 3, 4, 5, 6, 7, ...} (100000 items)"
    assert p["lookup"] == "{'k0': 0, 'k1': 1, 'k2': 2, 'k3': 3, 'k4': 4, 'k5': 5, 'k6': 6, 'k7': 7, ...} (100000 items)"
    assert p["raw"] == "b'" + "\\x00" * 40 + "'... (1000000 bytes)"
    assert p["doc"] == "x" * 4093 + "..."
    assert p["nested"].startswith("[<list of 1000 items>, <list of 1000 items>,") and p["nested"].endswith("(300 items)")
    size = sum(f.stat().st_size for f in (project / ".tmt" / "experiments").iterdir())
    assert size < 20_000


def test_small_params_are_kept_whole(repo: Repo, project: Path) -> None:
    params = {"layers": list(range(256)), "name": "n" * 4096, "tags": {"a", "b"}, "blob": b"abc"}
    with tmt.start_run("small", params=params):
        pass
    p = only_params(project)
    assert p["layers"] == list(range(256)) and p["name"] == "n" * 4096
    assert p["tags"] in ("{'a', 'b'}", "{'b', 'a'}") and p["blob"] == "b'abc'"


# -- the user name without importing getpass (finding 27) -----------------------------------------


def test_user_is_recorded_without_importing_getpass(repo: Repo, project: Path, python: str) -> None:
    code = (
        "import sys, tmt\n"
        "with tmt.start_run('u'):\n"
        "    pass\n"
        "print('getpass' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("LOGNAME", "USER", "LNAME", "USERNAME")}
    env["USER"] = "alice"
    out = subprocess.run([python, "-c", code], cwd=project, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
    (path,) = record_files(project / ".tmt" / "experiments")
    assert json.loads(path.read_bytes())["env"]["user"] == "alice"

    env.pop("USER")
    env["LOGNAME"] = "bob"
    subprocess.run([python, "-c", code], cwd=project, env=env, capture_output=True, text=True, check=True)
    users = {json.loads(p.read_bytes())["env"]["user"] for p in record_files(project / ".tmt" / "experiments")}
    assert users == {"alice", "bob"}


# -- a progress bar for a first snapshot of many files, on a terminal (finding 18) -------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _record_with_stderr(project: Path, monkeypatch, stream, files: int) -> str:
    import tmt.recorder.run as runmod

    for i in range(files):
        (project / f"m{i}.py").write_text(f"v = {i}\n")
    monkeypatch.setattr(runmod, "PROGRESS_DELAY_S", 0.0, raising=False)  # show it at once: the snapshot is quick here
    monkeypatch.setattr(sys, "stderr", stream)
    with tmt.start_run("p"):
        pass
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    return stream.getvalue()


def test_first_snapshot_of_many_files_shows_progress_on_a_terminal(repo: Repo, project: Path, monkeypatch) -> None:
    out = _record_with_stderr(project, monkeypatch, FakeTerminal(), 250)
    assert "Hashing files" in out


def test_no_progress_when_stderr_is_not_a_terminal(repo: Repo, project: Path, monkeypatch) -> None:
    assert _record_with_stderr(project, monkeypatch, io.StringIO(), 250) == ""


def test_no_progress_for_a_snapshot_of_few_files(repo: Repo, project: Path, monkeypatch) -> None:
    assert _record_with_stderr(project, monkeypatch, FakeTerminal(), 20) == ""
