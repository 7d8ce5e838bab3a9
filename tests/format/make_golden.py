"""Build the golden store tests/format/data/v1/ (a .tmt folder) from fixed inputs.

    python tests/format/make_golden.py        # rewrite data/v1 (only for a format bump!)

Everything is deterministic: the code tree, the series, the artifact and the record (fixed
id and times). test_golden.py rebuilds the store in a temporary folder with this same code
and requires it to equal the committed bytes, so any change of the on-disk format (hashing,
tree encoding, record JSON) fails until it is made on purpose, with a new version.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "v1"

RUN_ID = "0123456789abcdef0123456789abcdef"

# The code tree, as (relative path bytes, content, executable); plus one symlink.
CODE_FILES: list[tuple[bytes, bytes, bool]] = [
    (b".gitignore", b"*.log\n", False),
    (b"README.md", b"golden\n", False),
    (b"train.py", b"print('train')\n", False),
    (b"run.sh", b"#!/bin/sh\nexec python train.py\n", True),
    (b"out.log", b"ignored by .gitignore\n", False),
    (b"pkg/__init__.py", b"", False),
    (b"pkg/caf\xe9.py", b"x = 1\n", False),  # not UTF-8: latin-1 e-acute
    (b"pkg/with space.txt", b"s\n", False),
]
CODE_LINKS: list[tuple[bytes, bytes]] = [(b"latest", b"train.py")]
ARTIFACT = b"artifact bytes\n"


def write_code(root: Path) -> None:
    broot = os.fsencode(root)
    for rel, content, executable in CODE_FILES:
        path = os.path.join(broot, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, 0o755 if executable else 0o644)
    for rel, target in CODE_LINKS:
        os.symlink(target, os.path.join(broot, rel))


def build(out: Path) -> dict:
    """Write the golden store into `out` (created, must not exist); return what was made."""
    from tmt.records.io import write_record
    from tmt.records.model import Record
    from tmt.records.series import Series, encode_series
    from tmt.snapshot.build import snapshot
    from tmt.store.objects import ObjectStore

    out.mkdir(parents=True)
    store = ObjectStore(out)
    with tempfile.TemporaryDirectory() as scratch:
        code = Path(scratch) / "code"
        write_code(code)
        res = snapshot(code, store, warn=lambda m: None)
    series = store.put(encode_series(Series("loss", [0, 1, 2], [1.0, 0.5, 0.25], [1700000000.0, 1700000001.0, 1700000002.5])))
    artifact = store.put(ARTIFACT)
    record = Record(
        id=RUN_ID,
        name="golden",
        status="completed",
        created_at="2024-01-02T03:04:05+00:00",
        finished_at="2024-01-02T03:04:06.500000+00:00",
        duration_s=1.5,
        description="the golden record",
        tags=["golden", "v1"],
        code={"root": "/golden/code", "tree": res.tree, "files": res.files, "bytes": res.bytes, "git": None},
        params={"lr": 0.1, "layers": [64, 32], "name": "résumé"},
        metrics={"f1": 0.9, "steps": 3, "diverged": float("nan"), "best": float("inf"), "worst": float("-inf")},
        series={"loss": series},
        artifacts=[{"name": "preds", "object": artifact, "size": len(ARTIFACT), "format": "bytes", "filename": "preds.bin"}],
        parent=None,
        env={"argv": ["train.py"], "cwd": "/golden/code", "python": "3.11.0", "platform": "Linux", "host": "golden", "user": "golden", "pid": 1},
        error=None,
    )
    tmp = out / "tmp"
    write_record(out / "experiments", tmp, record)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"tree": res.tree, "series": series, "artifact": artifact}


def main() -> None:
    if DATA.exists():
        for dirpath, _, filenames in os.walk(DATA):
            for n in filenames:
                os.chmod(os.path.join(dirpath, n), 0o644)
        shutil.rmtree(DATA)
    made = build(DATA)
    for key, value in made.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    sys.exit(main())
