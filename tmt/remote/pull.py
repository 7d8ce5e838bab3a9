"""tmt pull: bring runs from a remote (records, then every object they reference).

Order, as every local writer: each object is re-hashed when it arrives, blobs are published
first, then trees bottom-up (a tree only once everything below it is here), then the
record, last and atomically. A killed pull therefore leaves no half-visible run, only
objects no record names yet (pinned while the pull lived, then gc's after the grace), and the
next pull finds them present and resumes. Every id is pinned before its presence is checked,
so a local `tmt gc --grace 0` beside a pull never deletes what the pull is assembling.

Which version of a record: the remote may hold several versions of a run (its `running`
start and its end); the most final wins (layout.Version), and a local record is replaced only
by a more final or later one, so pulling never undoes anything.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field

from tmt._warn import warn
from tmt.errors import CorruptObject, InvalidTree, RecordError
from tmt.records.io import check_nesting
from tmt.records.model import Record, decode
from tmt.remote import config, layout
from tmt.remote.backend import RemoteNotFound
from tmt.remote.local import LocalStore, digest
from tmt.remote.remote import Progress, Remote, parallel
from tmt.repo import Repo
from tmt.snapshot import tree as treemod
from tmt.text import printable

#: objects larger than this are streamed to a temp file instead of held in memory
STREAM_ABOVE = 16 << 20


@dataclass(slots=True)
class PullResult:
    remote: str
    url: str
    runs_pulled: list[str] = field(default_factory=list)
    runs_up_to_date: int = 0
    runs_filtered_out: int = 0
    objects_downloaded: int = 0
    bytes_downloaded: int = 0
    records_only: bool = False
    failed: list[dict] = field(default_factory=list)  # {"run", "reason"}: not pulled
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class _Incoming:
    version: layout.Version
    data: bytes
    record: Record


def pull(
    remote: str | None = None,
    *,
    repo=None,
    records_only: bool = False,
    progress: Progress | None = None,
    **filters,
) -> PullResult:
    """Pull from `remote` (default: the first remote) every run not yet here, or those
    matching `filters` (name, since, until, status, where, tags, as `tmt.runs`).
    `records_only` fetches the records alone (a lazy clone's objects come when needed)."""
    t0 = time.monotonic()
    repo = Repo.resolve(repo)
    spec = config.get(repo, remote)
    progress = progress or (lambda phase, done, total: None)
    if config.lazy_remote(repo) == spec.name:
        records_only = True
    with Remote.open(spec) as rem, LocalStore(repo) as local:
        result = PullResult(remote=spec.name, url=rem.url, records_only=records_only)
        progress("Listing the remote's runs", 0, 0)
        versions = rem.record_versions()
        if not versions and not rem.check(create=False):
            result.duration_s = time.monotonic() - t0
            return result
        want = _wanted(local, versions, result)
        incoming = _fetch_records(rem, want, versions, result, progress)
        if filters and any(v not in (None, (), [], "") for v in filters.values()):
            incoming = _filter(repo, incoming, filters, result)
        if incoming and not records_only:
            complete = fetch_objects(rem, local, [i.record for i in incoming], progress, result)
            kept = []
            for inc in incoming:
                if inc.record.id in complete:
                    kept.append(inc)
                else:
                    result.failed.append({"run": inc.record.id,
                                          "reason": "some of its objects could not be fetched (see the warnings)"})
            incoming = kept
        local.write_records((inc.record.id, inc.data, inc.version.stamp) for inc in incoming)
        result.runs_pulled.extend(inc.record.id for inc in incoming)
    result.duration_s = time.monotonic() - t0
    return result


def _wanted(local: LocalStore, versions: dict[str, list[layout.Version]], result: PullResult) -> list[layout.Version]:
    want = []
    for rid, vs in versions.items():
        best = max(vs)
        got = local.record_bytes(rid)
        if got is not None:
            data, mtime = got
            if digest(data) == best.digest:
                result.runs_up_to_date += 1
                continue
            try:
                rank = layout.rank_of(decode(json.loads(data.decode("utf-8")), rid).status)
            except (ValueError, RecordError):
                rank = -1  # a damaged local record is replaced by the remote's good one
            if rank >= 0 and layout.Version(rank, mtime, digest(data), rid) >= best:
                result.runs_up_to_date += 1
                continue
        want.append(best)
    return want


def parse_record(data: bytes, version: layout.Version, source: str) -> Record:
    """Validate a record version from a remote exactly as a local record file is."""
    if digest(data) != version.digest:
        raise RecordError(f"{source} does not match the hash in its name")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise RecordError(f"{source} is not valid JSON ({e})") from None
    check_nesting(data, obj, source)
    rec = decode(obj, source)
    if rec.id != version.run_id:
        raise RecordError(f"{source} holds the record of another run ({rec.id})")
    return rec


def _fetch_records(rem: Remote, want: list[layout.Version], versions, result: PullResult,
                   progress: Progress) -> list[_Incoming]:
    label = "Downloading records"
    progress(label, 0, len(want))

    def one(best: layout.Version) -> _Incoming | None:
        # The best version first; a damaged one falls back to the next most final.
        for v in sorted(versions[best.run_id], reverse=True):
            try:
                data = rem.get(v.key)
                return _Incoming(v, data, parse_record(data, v, f"{rem.url}/{v.key}"))
            except RemoteNotFound:
                continue
            except RecordError as e:
                warn(f"skipping a damaged record version: {printable(e.message)}")
                continue
        result.failed.append({"run": best.run_id, "reason": "no readable record version"})
        return None

    got = parallel(one, want, rem.backend.concurrency, lambda n: progress(label, n, len(want)))
    return [g for g in got if g is not None]


def _filter(repo: Repo, incoming: list[_Incoming], filters: dict, result: PullResult) -> list[_Incoming]:
    """Keep the records that match `filters`, with the same semantics as `tmt.runs`: the
    candidates are queried in a throwaway store under .tmt/tmp/."""
    import shutil

    from tmt.query import runs as query_runs
    from tmt.store.fsutil import tmp_name

    scratch = tmp_name(repo.tmp_dir, "-pull")
    try:
        tmp_repo = Repo.init(scratch, tmt_dir=scratch)
        for inc in incoming:
            (tmp_repo.experiments_dir / f"{inc.record.id}.json").write_bytes(inc.data)
        keep = {run.id for run in query_runs(repo=tmp_repo, **filters)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.runs_filtered_out += len(incoming) - len([i for i in incoming if i.record.id in keep])
    return [i for i in incoming if i.record.id in keep]


def fetch_objects(rem: Remote, local: LocalStore, records: list[Record], progress: Progress,
                  result: PullResult | None = None, *, roots: tuple[list[str], dict[str, int]] | None = None) -> set[str]:
    """Fetch every object the records (or `roots`: (trees, {blob: size})) reference that is not
    here; return the ids of the records now complete here."""
    from tmt.maintenance.reach import record_roots

    trees: list[str] = []
    blobs: dict[str, int] = {}
    per_run: dict[str, tuple[list[str], list[str]]] = {}
    if roots is not None:
        trees, blobs = list(roots[0]), dict(roots[1])
    for rec in records:
        r = record_roots(rec)
        sizes = {a.get("object"): a.get("size") or 0 for a in rec.artifacts}
        per_run[rec.id] = (list(r.trees), [b for b, _ in r.blobs])
        trees.extend(r.trees)
        for b, _ in r.blobs:
            blobs.setdefault(b, sizes.get(b, 0))
    fetch = _Fetch(rem, local, result)
    fetch.run(list(dict.fromkeys(trees)), blobs, progress)
    complete = set()
    for rid, (ts, bs) in per_run.items():
        if all(local.has(o) for o in (*ts, *bs)):
            complete.add(rid)
    return complete


class _Fetch:
    def __init__(self, rem: Remote, local: LocalStore, result: PullResult | None) -> None:
        self.rem = rem
        self.local = local
        self.result = result
        self.failed: set[str] = set()
        self._lock = threading.Lock()

    def _present(self, oids: list[str]) -> list[bool]:
        self.local.pin(oids)  # before the check: a local gc then keeps them (pins.py)
        return [self.local.has(o) for o in oids]

    def _download(self, oid: str, size: int = 0) -> bytes | None:
        """The verified bytes of `oid` (None for a streamed object already published, or on
        failure: warned and remembered in self.failed)."""
        try:
            if size > STREAM_ABOVE:
                tmp = self.local.tmp_path()
                n = self.rem.get_object(oid, into=tmp)
                self.local.publish_file(tmp, oid)
                self._count(n)
                return None
            data = self.rem.get_object(oid)
            self._count(len(data))
            return data
        except RemoteNotFound:
            warn(f"object {oid[:12]} is missing from {self.rem.url} (run `tmt fsck --remote {self.rem.name}` there)")
        except CorruptObject as e:
            warn(printable(e.message))
        self.failed.add(oid)
        return None

    def _count(self, n: int) -> None:
        if self.result is not None:
            with self._lock:  # called from the download threads
                self.result.objects_downloaded += 1
                self.result.bytes_downloaded += n

    def run(self, roots: list[str], blobs: dict[str, int], progress: Progress) -> None:
        got, raw = self._trees(roots, blobs, progress)
        self._blobs(blobs, progress)
        self._publish_trees(got, raw)

    def _trees(self, roots: list[str], blobs: dict[str, int], progress: Progress
               ) -> tuple[dict[str, list[treemod.TreeEntry]], dict[str, bytes]]:
        """1. Trees, top-down: learn what is missing (held in memory, not yet published).
        The missing blobs they name are added to `blobs`; returns the trees' entries and bytes."""
        label = "Downloading trees"
        got: dict[str, list[treemod.TreeEntry]] = {}
        raw: dict[str, bytes] = {}
        level = [t for t, here in zip(roots, self._present(roots)) if not here]
        seen = set(level)
        n_trees = 0
        while level:
            datas = parallel(self._download, level, self.rem.backend.concurrency)
            n_trees += len(level)
            progress(label, n_trees, 0)
            nxt: list[str] = []
            for oid, data in zip(level, datas):
                if data is None:
                    continue
                try:
                    entries = treemod.decode_tree(data, oid)
                except InvalidTree as e:
                    warn(f"tree {oid[:12]} on {self.rem.url} is invalid ({printable(e.message)}); not fetched")
                    self.failed.add(oid)
                    continue
                got[oid], raw[oid] = entries, data
                self._missing_below(entries, seen, nxt, blobs)
            level = nxt
        return got, raw

    def _missing_below(self, entries: list[treemod.TreeEntry], seen: set[str], trees: list[str],
                       blobs: dict[str, int]) -> None:
        """Of a tree's entries not `seen` yet, those missing here: subtrees to `trees`, blobs
        (with their sizes) to `blobs`."""
        kids = {e.oid: e for e in entries if e.oid not in seen}
        seen.update(kids)
        for (kid, entry), here in zip(kids.items(), self._present(list(kids))):
            if here:
                continue
            if entry.kind == treemod.TREE:
                trees.append(kid)
            else:
                blobs.setdefault(kid, entry.size)

    def _blobs(self, blobs: dict[str, int], progress: Progress) -> None:
        """2. Blobs, published in one batch (one file-system sync)."""
        todo = [(o, s) for (o, s), here in zip(blobs.items(), self._present(list(blobs))) if not here]
        label = "Downloading objects"
        progress(label, 0, len(todo))
        with self.local.batch() as batch:
            def one(item: tuple[str, int]) -> None:
                data = self._download(*item)
                if data is not None:
                    batch.add(data, item[0])

            parallel(one, todo, self.rem.backend.concurrency, lambda n: progress(label, n, len(todo)))

    def _publish_trees(self, got: dict[str, list[treemod.TreeEntry]], raw: dict[str, bytes]) -> None:
        """3. Trees bottom-up, and only complete ones: a tree whose subtree lost an object is
        never published (a present tree implies its whole subtree, here as on the remote)."""
        from tmt.remote.push import _by_height

        ok: set[str] = set()

        def complete(entries: list[treemod.TreeEntry]) -> bool:
            for e in entries:
                if e.kind == treemod.TREE and e.oid in got:
                    if e.oid not in ok:
                        return False
                elif not self.local.has(e.oid):
                    return False
            return True

        with self.local.batch() as batch:
            for group in _by_height(got):
                for oid in group:
                    if complete(got[oid]):
                        batch.add(raw[oid], oid)
                        ok.add(oid)
                    else:
                        self.failed.add(oid)
