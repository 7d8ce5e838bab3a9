"""Build the golden broken stores under tests/data/broken/ (and the helpers tests use).

Run `python tests/data/make_broken.py` to regenerate; the output is committed. Every store is
a small project folder (code root) holding a `.tmt/` with runs recorded the ordinary way
(a real snapshot, series and artifact blobs, records written by tmt.records.io), then damaged
in exactly one way:

  clean/             nothing wrong (two runs)
  missing_blob/      the blob of lib/util.py is deleted
  corrupt_blob/      the blob of train.py has one byte flipped
  dangling/          an object no run references
  truncated_record/  the second run's record is cut in half
  missing_tree/      the tree of lib/ is deleted

Run ids, timestamps and file contents are fixed, so the output is the same on every run
(the stat cache, which holds inode numbers, is not kept).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tmt.records.io import record_path, write_record  # noqa: E402
from tmt.records.model import Record, new_run_id  # noqa: E402
from tmt.repo import Repo  # noqa: E402
from tmt.snapshot.build import snapshot_repo  # noqa: E402
from tmt.snapshot.checkout import read_tree  # noqa: E402
from tmt.store import codec  # noqa: E402
from tmt.store.pins import PinFile  # noqa: E402

FILES = {
    "train.py": "import lib.util\n\nprint('training', lib.util.LR)\n",
    "lib/util.py": "LR = 0.1\nEPOCHS = 3\n",
    "lib/__init__.py": "",
    "README.md": "# a tiny experiment\n",
}
RUN_IDS = ["a" * 31 + "1", "b" * 31 + "2"]
EPOCH = "0" * 32


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)


def series_blob(name: str, values: list[float]) -> bytes:
    steps = list(range(len(values)))
    return codec.packb([1, name, steps, [float(v) for v in values], [1700000000.0 + i for i in steps]])


def record_run(
    repo: Repo,
    name: str = "exp",
    *,
    run_id: str | None = None,
    status: str = "completed",
    created_at: str = "2026-01-01T00:00:00+00:00",
    series: dict[str, list[float]] | None = None,
    artifacts: dict[str, bytes] | None = None,
    snapshot: bool = True,
    pin: PinFile | None = None,
    root_label: str | None = None,
) -> Record:
    """Record a run the way the recorder does: pin, snapshot, blobs, then the record."""
    own = pin is None
    pin = pin or PinFile(repo.tmt_dir)
    try:
        code = None
        if snapshot:
            snap = snapshot_repo(repo, pin=pin, warn=lambda m: None)
            code = {"root": root_label or str(repo.root), "tree": snap.tree, "files": snap.files, "bytes": snap.bytes, "git": None}
        ser = {}
        for sname, values in (series or {}).items():
            data = series_blob(sname, values)
            from tmt.store.ids import hash_bytes

            oid = hash_bytes(data)
            pin.add([oid])  # pin before put: put may find it present and skip writing
            ser[sname] = repo.store.put(data, oid)
        arts = []
        for aname, data in (artifacts or {}).items():
            from tmt.store.ids import hash_bytes

            oid = hash_bytes(data)
            pin.add([oid])
            repo.store.put(data, oid)
            arts.append({"name": aname, "object": oid, "size": len(data), "format": "bytes", "filename": aname})
        rec = Record(
            id=run_id or new_run_id(), name=name, status=status, created_at=created_at,
            finished_at=None if status == "running" else created_at, code=code, series=ser, artifacts=arts,
            params={"lr": 0.1}, metrics={"loss": 0.5}, env={"host": "golden", "pid": 1},
        )
        write_record(repo.experiments_dir, repo.tmp_dir, rec)
        return rec
    finally:
        if own:
            pin.close()


def tree_entry(repo: Repo, tree: str, path: str):
    """The TreeEntry at `path` ("lib/util.py") below `tree`."""
    parts = path.split("/")
    oid = tree
    for i, part in enumerate(parts):
        for e in read_tree(repo.store, oid):
            if e.name == part.encode():
                if i == len(parts) - 1:
                    return e
                oid = e.oid
                break
        else:
            raise KeyError(path)
    raise KeyError(path)


def remove_object(repo: Repo, oid: str) -> None:
    os.unlink(repo.store.path(oid))


def corrupt_object(repo: Repo, oid: str) -> None:
    p = repo.store.path(oid)
    os.chmod(p, 0o644)
    data = bytearray(p.read_bytes())
    data[0] ^= 0xFF
    p.write_bytes(bytes(data))
    os.chmod(p, 0o444)


def base_store(root: Path) -> tuple[Repo, list[Record]]:
    root.mkdir(parents=True)
    write_files(root, FILES)
    repo = Repo.init(root)
    (repo.tmt_dir / "gc.epoch").write_text(EPOCH)
    runs = [
        record_run(repo, "exp", run_id=RUN_IDS[0], series={"loss": [1.0, 0.5, 0.25]}, artifacts={"model.bin": b"weights-1"}, root_label="."),
        record_run(repo, "exp", run_id=RUN_IDS[1], created_at="2026-01-02T00:00:00+00:00",
                   series={"loss": [0.9, 0.4]}, artifacts={"model.bin": b"weights-2"}, root_label="."),
    ]
    return repo, runs


def build(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out, onerror=_force_rm)
    out.mkdir(parents=True)

    repo, runs = base_store(out / "clean")

    repo, runs = base_store(out / "missing_blob")
    remove_object(repo, tree_entry(repo, runs[0].code["tree"], "lib/util.py").oid)

    repo, runs = base_store(out / "corrupt_blob")
    corrupt_object(repo, tree_entry(repo, runs[0].code["tree"], "train.py").oid)

    repo, runs = base_store(out / "dangling")
    repo.store.put(b"nobody references me\n")

    repo, runs = base_store(out / "truncated_record")
    p = record_path(repo.experiments_dir, runs[1].id)
    data = p.read_bytes()
    os.chmod(p, 0o644)
    p.write_bytes(data[: len(data) // 2])

    repo, runs = base_store(out / "missing_tree")
    remove_object(repo, tree_entry(repo, runs[0].code["tree"], "lib").oid)

    for d in out.iterdir():
        shutil.rmtree(d / ".tmt" / "cache", ignore_errors=True)
        (d / ".tmt" / "cache").mkdir()
        for p in (d / ".tmt").rglob("*"):
            if p.is_file():
                os.chmod(p, 0o644)  # git keeps 644/755 only; say so explicitly


def _force_rm(func, path, exc_info) -> None:
    os.chmod(os.path.dirname(path), 0o755)
    os.chmod(path, 0o755)
    func(path)


def copy_store(name: str, dest: Path) -> Path:
    """Copy golden store `name` to `dest` (a test's own folder) and return the copy."""
    shutil.copytree(HERE / "broken" / name, dest)
    for sub in ("tmp", "pins", "cache"):
        (dest / ".tmt" / sub).mkdir(exist_ok=True)
    return dest


if __name__ == "__main__":
    build(HERE / "broken")
    print(f"wrote {HERE / 'broken'}")
