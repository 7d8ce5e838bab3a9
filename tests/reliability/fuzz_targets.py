"""Fuzz targets shared by the hypothesis tests and the atheris run (fuzz_atheris.py).

Each target takes untrusted input and may only raise a tmt.errors.TmtError subclass: any
other exception is a bug (an unhandled crash a user would see as a traceback).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from tmt.errors import TmtError

NAMES = ["lr", "lr_baseline", "sweep", "a~b"]


def make_store(root: Path):
    """A small store: a few runs with params, metrics, tags and a series."""
    import tmt
    from tmt.repo import Repo

    root.mkdir(parents=True, exist_ok=True)
    (root / "train.py").write_text("x = 1\n")
    repo = Repo.init(root)
    old = os.getcwd()
    os.chdir(root)
    try:
        for i, name in enumerate(NAMES * 2):
            with tmt.start_run(name=name, params={"C": i / 2, "opt": {"lr": 0.1 * i}, "kind": "x" * i},
                               tags=["paper"] if i % 2 else []) as run:
                run.log({"loss": 1.0 / (i + 1)}, step=0)
                run.metrics.update({"f1": i / 10, "acc": float("nan") if i == 3 else 0.5})
    finally:
        os.chdir(old)
    return repo


def decode_tree(data: bytes) -> None:
    from tmt.snapshot.tree import decode_tree as dec

    try:
        dec(data, "fuzz")
    except TmtError:
        pass


def read_record(folder: Path, data: bytes, name: str = "0" * 32) -> None:
    from tmt.records.io import read_record as read

    path = folder / f"{name}.json"
    path.write_bytes(data)
    try:
        read(path)
    except TmtError:
        pass


def get_ref(repo, ref: str) -> None:
    import tmt

    try:
        tmt.get(ref, repo=repo)
    except TmtError:
        pass


def where(repo, exprs: list[str]) -> None:
    import tmt

    try:
        list(tmt.runs(where=exprs, repo=repo))
    except TmtError:
        pass


def valid_record(run_id: str = "0" * 32) -> dict:
    return {
        "format": 1, "id": run_id, "name": "r", "status": "completed",
        "created_at": "2026-01-01T00:00:00+00:00", "finished_at": None, "duration_s": None,
        "description": "", "tags": [], "code": None, "params": {}, "metrics": {}, "series": {},
        "artifacts": [], "parent": None, "env": {}, "error": None,
    }


def record_bytes(value: object) -> bytes:
    return json.dumps(value).encode()
