"""Helpers for the CLI tests: deterministic runs written as records, a CliRunner at a fixed width."""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from tmt.cli import cli
from tmt.records.io import write_record
from tmt.records.model import Record
from tmt.snapshot.build import snapshot_repo

ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(cli, list(args), input=input, env={**ENV, **(env or {})}, catch_exceptions=False)


def make_run(repo, n: int, name: str, *, status: str = "completed", params: dict | None = None,
             metrics: dict | None = None, tags: list[str] | None = None, duration: float | None = 12.5,
             files: dict[str, bytes] | None = None, error: dict | None = None, pid: int = 4242,
             day: int | None = None, **extra: Any) -> Record:
    """Run number n: id 'n'*32 style (hex digit n), created on 2024-01-<day or n> 12:00 UTC."""
    if files is not None:
        for rel, data in files.items():
            p = Path(repo.root, rel)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    snap = snapshot_repo(repo, warn=lambda m: None)
    rid = (f"{n:x}" * 32)[:32]
    d = day or n
    rec = Record(
        id=rid, name=name, status=status,
        created_at=f"2024-01-{d:02d}T12:00:00+00:00",
        finished_at=None if status == "running" else f"2024-01-{d:02d}T12:00:12.500000+00:00",
        duration_s=None if status == "running" else duration,
        tags=tags or [], params=params or {}, metrics=metrics or {},
        code={"root": ".", "tree": snap.tree, "files": snap.files, "bytes": snap.bytes,
              "git": {"commit": "c0ffee" * 6 + "abcd", "branch": "main", "dirty": True}},
        env={"argv": ["train.py", "--lr", "0.1"], "cwd": ".", "python": "3.11.7", "host": socket.gethostname(),
             "pid": pid, "user": "me"},
        error=error, **extra,
    )
    write_record(repo.experiments_dir, repo.tmp_dir, rec)
    return rec


def files_of(root: Path, skip: tuple[str, ...] = (".tmt",)) -> dict[str, bytes]:
    """Every file under `root` (relative POSIX path -> bytes), folders named in `skip` left out."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        for f in files:
            p = Path(dirpath, f)
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out
