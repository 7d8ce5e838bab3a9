"""Remote fsck: download and re-hash every object of a remote, decode every tree, validate
every record version and follow every reference. Read-only: it needs list and read access.

Problems (exit 1): a corrupt object (its bytes do not hash to its name), an invalid tree, a
record version that does not parse (or whose name does not match its bytes), an object a
record needs that is neither in objects/ nor set aside by a pending gc. Informational:
dangling objects (no record reaches them; `tmt gc --remote` collects them) and objects set
aside by a gc that waits for pushes.
"""
from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, field

from tmt.errors import InvalidTree
from tmt.maintenance.reach import TREE_MAGIC
from tmt.remote import config, layout
from tmt.remote.reach import mark, read_versions
from tmt.remote.remote import Progress, Remote, parallel
from tmt.repo import Repo
from tmt.snapshot import tree as treemod
from tmt.store.ids import hash_bytes
from tmt.text import printable


@dataclass(slots=True)
class RemoteProblem:
    kind: str  # corrupt_object | bad_tree | bad_record | missing_object | dangling_object
    message: str
    id: str | None = None
    severity: str = "error"  # "error" or "info"


@dataclass(slots=True)
class RemoteFsckResult:
    remote: str
    url: str
    objects_checked: int = 0
    bytes_checked: int = 0
    trees_checked: int = 0
    records_checked: int = 0
    runs: int = 0
    set_aside: int = 0  # objects in the fossils of pending gcs
    problems: list[RemoteProblem] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def errors(self) -> list[RemoteProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["exit_code"] = self.exit_code
        return d


def fsck(remote: str | None = None, *, repo=None, progress: Progress | None = None) -> RemoteFsckResult:
    t0 = time.monotonic()
    repo = Repo.resolve(repo)
    spec = config.get(repo, remote)
    progress = progress or (lambda phase, done, total: None)
    with Remote.open(spec) as rem:
        r = RemoteFsckResult(spec.name, rem.url)
        rem.check(create=False)
        objects = rem.object_ids()
        _check_objects(rem, objects, r, progress)
        _check_references(rem, objects, r)
    r.duration_s = time.monotonic() - t0
    return r


def _check_objects(rem: Remote, objects: Collection[str], r: RemoteFsckResult, progress: Progress) -> None:
    """Every object downloaded and re-hashed, every tree decoded."""
    label = "Checking objects"

    def check(oid: str) -> tuple[str, int, str | None]:
        data = rem.get(layout.object_key(oid))
        if hash_bytes(data) != oid:
            return oid, len(data), "corrupt"
        if data[:2] == TREE_MAGIC:
            try:
                treemod.decode_tree(data, oid)
                return oid, len(data), "tree"
            except InvalidTree as e:
                return oid, len(data), f"bad_tree:{e.message}"
        return oid, len(data), None

    for oid, size, verdict in parallel(check, list(objects), rem.backend.concurrency,
                                       lambda n: progress(label, n, len(objects))):
        r.objects_checked += 1
        r.bytes_checked += size
        if verdict == "corrupt":
            r.problems.append(RemoteProblem("corrupt_object", f"object {oid} does not match its id", oid))
        elif verdict == "tree":
            r.trees_checked += 1
        elif verdict is not None:
            r.problems.append(RemoteProblem("bad_tree", f"tree {oid} is invalid: {printable(verdict[9:])}", oid))


def _check_references(rem: Remote, objects: Collection[str], r: RemoteFsckResult) -> None:
    """Every record version validated and every reference followed: missing objects (unless
    a pending gc set them aside) are errors, unreferenced ones are dangling."""
    versions = rem.record_versions()
    r.runs = len(versions)
    # The remote's own copies only: this checks the remote, not what this machine holds.
    good, bad = read_versions(rem, None, versions)
    r.records_checked = len(good) + len(bad)
    for v, reason in bad:
        r.problems.append(RemoteProblem("bad_record", f"record version {v.key}: {printable(reason)}", v.run_id))
    marker = mark(rem, None, good, track=True)
    aside = _set_aside(rem)
    r.set_aside = len(aside)
    for oid, (kind, reason) in marker.problems.items():
        if kind == "missing" and oid in aside:
            continue
        r.problems.append(RemoteProblem("missing_object" if kind == "missing" else "bad_tree",
                                        f"tree {oid} ({marker.describe(oid)}): {printable(reason)}", oid))
    for oid in sorted(marker.marked):
        if oid not in objects and oid not in aside and oid not in marker.problems and oid not in marker.expected_tree:
            r.problems.append(RemoteProblem("missing_object", f"object {oid} ({marker.describe(oid)}) is missing", oid))
    dangling = [o for o in objects if o not in marker.marked]
    for oid in sorted(dangling):
        r.problems.append(RemoteProblem("dangling_object", f"object {oid} is not referenced by any run", oid, "info"))


def _set_aside(rem: Remote) -> set[str]:
    """The objects pending gcs have set aside (in their fossils)."""
    aside: set[str] = set()
    for gc_id, _ in rem.pending_gcs():
        prefix = f"{layout.FOSSILS}{gc_id}/"
        aside |= {oid for i in rem.list(prefix) if (oid := layout.oid_of(i.key, prefix)) is not None}
    return aside
