"""tmt push: copy runs (records and every object they reference) to a remote.

Order, as locally (docs/format.md, "Remote layout"): blobs, then trees deepest first, then
the record versions, so whatever a reader can reach on the remote is complete, and a killed
push leaves only objects no record names (remote gc removes them) and resumes where it
stopped: its objects are found present by the next push.

Cost: a push first lists `records/` and compares it with the local records; a store the
remote already has costs that one listing. For runs to send, negotiation starts at each
record's code tree and stops at the first tree the remote has (a present tree implies its
whole subtree), with HEAD requests, or with one listing of `objects/` when many trees are
missing (a first push). Blobs under a missing tree are sent create-only: the server answers
"exists" for those it has.

Remote gc runs beside pushes without a lock: a push writes a lease before it looks at the
remote and a done marker after its records (tmt/remote/gc.py says why that is enough), and
treats every object a pending gc has set aside as absent.
"""
from __future__ import annotations

import getpass
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field

from tmt._sys import hostname
from tmt._warn import warn
from tmt.errors import ObjectNotFound, RecordError, RemoteError
from tmt.records.model import BACKUP_NAME, BACKUP_TAG, Record, decode
from tmt.remote import config, layout
from tmt.remote.local import LocalStore, digest
from tmt.remote.remote import Progress, Remote, parallel
from tmt.repo import Repo
from tmt.snapshot import tree as treemod
from tmt.text import printable

#: a push must write its records within this long after its lease (else it re-leases and
#: checks again): remote gc treats an older lease without a done marker as a dead push
LEASE_TTL_S = 24 * 3600.0
#: past this many trees to check one by one, one listing of objects/ is cheaper
LIST_ALL_AFTER = 256
#: blobs larger than this are looked up (HEAD) before they are sent
HEAD_FIRST_ABOVE = 1 << 20


@dataclass(slots=True)
class PushResult:
    remote: str
    url: str
    runs_pushed: list[str] = field(default_factory=list)
    runs_up_to_date: int = 0
    objects_uploaded: int = 0
    bytes_uploaded: int = 0
    objects_present: int = 0  # found on the remote (or already there when sent)
    records_uploaded: int = 0
    skipped: list[dict] = field(default_factory=list)  # {"run", "reason"}: not pushed
    create_only: bool | None = None  # the server refused an overwrite (None: not probed)
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class _Run:
    id: str
    version: layout.Version
    data: bytes
    record: Record


def push(
    remote: str | None = None,
    refs: "list[str] | tuple[str, ...]" = (),
    *,
    repo=None,
    progress: Progress | None = None,
    **filters,
) -> PushResult:
    """Push runs to `remote` (default: the first remote): the runs `refs` name, or those
    matching `filters` (name, since, until, status, where, tags, as `tmt.runs`), or every
    run not yet there."""
    t0 = time.monotonic()
    repo = Repo.resolve(repo)
    spec = config.get(repo, remote)
    progress = progress or (lambda phase, done, total: None)
    ids = select_local(repo, refs, filters)
    with Remote.open(spec) as rem, LocalStore(repo) as local:
        result = PushResult(remote=spec.name, url=rem.url)
        progress("Listing the remote's runs", 0, 0)
        versions = rem.record_versions()
        runs = _runs_to_send(local, ids, versions, result)
        if runs:
            rem.check(create=True)
            result.create_only = create_only(repo, rem, spec)
            for attempt in range(3):
                if _send(rem, local, runs, result, progress):
                    break
            else:  # pragma: no cover - three pushes each longer than the lease
                raise RemoteError("the push took longer than its lease three times", "push fewer runs at a time")
    result.duration_s = time.monotonic() - t0
    return result


def select_local(repo: Repo, refs, filters: dict) -> list[str] | None:
    """Run ids the refs or filters name (None: every run)."""
    filters = {k: v for k, v in filters.items() if v not in (None, (), [], "")}
    if not refs and not filters:
        return None
    from tmt.query import runs as query_runs
    from tmt.query.refs import resolve

    ids: dict[str, None] = {}
    for ref in refs:
        ids[resolve(repo, ref).id] = None
    if filters:
        for run in query_runs(repo=repo, **filters):
            ids[run.id] = None
    return list(ids)


def _runs_to_send(local: LocalStore, ids: list[str] | None, versions, result: PushResult) -> list[_Run]:
    runs = []
    for rid in ids if ids is not None else local.record_ids():
        got = local.record_bytes(rid)
        if got is None:
            continue
        data, mtime = got
        try:
            rec = decode(json.loads(data.decode("utf-8")), rid)
        except (ValueError, RecordError) as e:
            reason = getattr(e, "reason", None) or str(e)
            warn(f"run {rid[:8]}: its record cannot be read ({printable(reason)}); not pushed")
            result.skipped.append({"run": rid, "reason": f"unreadable record: {reason}"})
            continue
        if ids is None and (rec.name == BACKUP_NAME or BACKUP_TAG in rec.tags):
            continue  # a working tree saved by checkout stays local unless asked for by ref
        version = layout.Version(layout.rank_of(rec.status), mtime, digest(data), rid)
        have = versions.get(rid, [])
        if any(v.digest == version.digest for v in have) or any(v.rank > version.rank for v in have):
            result.runs_up_to_date += 1
            continue
        runs.append(_Run(rid, version, data, rec))
    return runs


def create_only(repo: Repo, rem: Remote, spec: config.RemoteSpec, *, quiet: bool = False) -> bool:
    """Whether the server refuses overwrites, probed once per remote URL and remembered in
    .tmt/cache/ (derived: deleting it only costs one probe)."""
    from tmt.store.fsutil import atomic_write

    path = repo.cache_dir / "remotes" / f"{spec.name}.json"
    ident = f"{spec.url} {spec.endpoint_url or ''}"
    try:
        from tmt.store.nofollow import read_file

        cached = json.loads(read_file(path, limit=1 << 16))  # in the store: never a link or FIFO
        if cached.get("ident") == ident and isinstance(cached.get("create_only"), bool):
            ok = cached["create_only"]
            if not quiet:
                _warn_overwrites(rem, ok)
            return ok
    except (OSError, ValueError, AttributeError):
        pass
    ok = rem.probe_create_only()
    try:
        atomic_write(path, json.dumps({"ident": ident, "create_only": ok}).encode(), repo.tmp_dir,
                     durable=False, make_dirs=True)
    except Exception:
        pass
    if not quiet:
        _warn_overwrites(rem, ok)
    return ok


def _warn_overwrites(rem: Remote, ok: bool) -> None:
    if not ok:
        warn(f"{rem.url} does not enforce create-only writes (If-None-Match is ignored): pushes stay safe, "
             "since every name tmt writes is derived from its content, but another tool could overwrite "
             "what tmt wrote; `tmt gc --remote` refuses to run there without --force")


def _send(rem: Remote, local: LocalStore, runs: list[_Run], result: PushResult, progress: Progress) -> bool:
    """One leased attempt: negotiate, upload, write the records. False when the lease ran
    out before the records could be written (the caller tries again under a new lease)."""
    lease_id = f"{time.time_ns():020d}{os.urandom(6).hex()}"
    t_lease = time.monotonic()
    rem.put(layout.lease_key(lease_id), json.dumps({
        "host": hostname(), "user": _user(), "pid": os.getpid(), "started_at": time.time(),
        "ttl_s": LEASE_TTL_S, "runs": len(runs),
    }).encode())
    # Read after the lease is written: a gc that set objects aside before this point is seen
    # here; one that starts later waits for this lease (tmt/remote/gc.py).
    aside: set[str] = set()
    for _, cands in rem.pending_gcs(refresh=True):
        aside |= cands
    plan = _Plan(rem, local, aside, result)
    sendable = []
    for run in runs:
        try:
            plan.add_run(run.record)
            sendable.append(run)
        except ObjectNotFound as e:
            warn(f"run {run.id[:8]} ({printable(run.record.name)}): object {e.oid[:12]} is missing here and on "
                 "the remote; not pushed (run `tmt fsck`)")
            result.skipped.append({"run": run.id, "reason": f"object {e.oid} missing"})
    plan.finish()
    plan.upload(progress)
    if time.monotonic() - t_lease > LEASE_TTL_S * 0.9:
        return False
    # Records last: every object they reference is on the remote now.
    progress("Writing records", 0, len(sendable))
    created = parallel(lambda r: rem.put(r.version.key, r.data), sendable, rem.backend.concurrency,
                       lambda n: progress("Writing records", n, len(sendable)))
    result.records_uploaded += sum(created)
    result.runs_pushed.extend(r.id for r in sendable)
    rem.put(layout.lease_done_key(lease_id), b"{}")
    return True


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


class _Plan:
    """What one push must upload: trees found missing (with their heights) and blobs."""

    def __init__(self, rem: Remote, local: LocalStore, aside: set[str], result: PushResult) -> None:
        self.rem = rem
        self.local = local
        self.aside = aside
        self.result = result
        self.listed: set[str] | None = None  # every object id on the remote, once listed
        self.seen: set[str] = set()
        self.trees: dict[str, list[treemod.TreeEntry]] = {}  # missing trees -> entries
        self.blobs: dict[str, int] = {}  # blobs to send -> size
        self._checked_trees = 0
        self._lock = threading.Lock()

    def _remote_has(self, oids: list[str]) -> list[bool]:
        if self.listed is None and self._checked_trees + len(oids) > LIST_ALL_AFTER:
            self.listed = set(self.rem.object_ids())
        self._checked_trees += len(oids)
        if self.listed is not None:
            return [o in self.listed and o not in self.aside for o in oids]
        return parallel(lambda o: o not in self.aside and self.rem.has_object(o), oids, self.rem.backend.concurrency)

    def add_run(self, rec: Record) -> None:
        from tmt.maintenance.reach import record_roots

        roots = record_roots(rec)
        if roots.bad_refs:
            raise RecordError(f"run {rec.id[:8]} references {roots.bad_refs[0]}, which is not an object id")
        # Check local presence of this run's roots before anything is sent for it.
        for oid in [*roots.trees, *(b for b, _ in roots.blobs)]:
            if not self.local.has(oid) and not self._remote_has_one(oid):
                raise ObjectNotFound(oid)
        self._blobs([b for b, _ in roots.blobs if b not in self.seen])
        self._walk([t for t in roots.trees if t not in self.seen])

    def _remote_has_one(self, oid: str) -> bool:
        return self._remote_has([oid])[0]

    def _blobs(self, oids: list[str]) -> None:
        for oid in oids:
            if oid in self.seen:
                continue
            self.seen.add(oid)
            if not self.local.has(oid):
                continue  # checked present on the remote (add_run)
            self.blobs[oid] = self.local.size(oid)

    def _walk(self, level: list[str]) -> None:
        while level:
            level = [t for t in dict.fromkeys(level) if t not in self.seen]
            self.seen.update(level)
            present = self._remote_has(level) if level else []
            nxt: list[str] = []
            for oid, has in zip(level, present):
                if has and not (self.aside and self._subtree_aside(oid)):
                    self.result.objects_present += 1
                    continue
                if not self.local.has(oid):
                    raise ObjectNotFound(oid)
                entries = self.local.tree_entries(oid)
                self.trees[oid] = entries
                self._blobs([e.oid for e in entries if e.kind != treemod.TREE])
                nxt.extend(e.oid for e in entries if e.kind == treemod.TREE)
            level = nxt

    def _subtree_aside(self, oid: str) -> bool:
        """Whether a tree the remote has lost part of its subtree to a pending gc (the tree
        itself was young, its old contents set aside): then it is sent again, as missing."""
        stack, seen = [oid], set()
        while stack:
            t = stack.pop()
            if t in seen or not self.local.has(t):
                continue
            seen.add(t)
            for e in self.local.tree_entries(t):
                if e.oid in self.aside:
                    return True
                if e.kind == treemod.TREE:
                    stack.append(e.oid)
        return False

    def finish(self) -> None:
        """Decide which blobs need sending: with a listing, exactly the absent ones; without,
        the large ones are looked up first and the small ones sent create-only."""
        if self.listed is not None:
            for oid in [o for o in self.blobs if o in self.listed and o not in self.aside]:
                del self.blobs[oid]
                self.result.objects_present += 1
            return
        big = [o for o, size in self.blobs.items() if size > HEAD_FIRST_ABOVE and o not in self.aside]
        for oid, has in zip(big, parallel(self.rem.has_object, big, self.rem.backend.concurrency)):
            if has:
                del self.blobs[oid]
                self.result.objects_present += 1

    def upload(self, progress: Progress) -> None:
        total = len(self.blobs) + len(self.trees)
        done = 0
        label = "Uploading objects"
        progress(label, 0, total)

        def send_blob(oid: str) -> None:
            size = self.blobs[oid]
            data = self.local.path(oid) if size > HEAD_FIRST_ABOVE else self.local.get(oid)
            self._count(self.rem.put_object(oid, data), size)

        def tick(n: int) -> None:
            progress(label, done + n, total)

        parallel(send_blob, list(self.blobs), self.rem.backend.concurrency, tick)
        done += len(self.blobs)
        # Trees bottom-up: a tree goes only after everything below it is on the remote.
        for level in _by_height(self.trees):
            def send_tree(oid: str) -> None:
                data = self.local.get(oid)
                self._count(self.rem.put_object(oid, data), len(data))

            parallel(send_tree, level, self.rem.backend.concurrency, tick)
            done += len(level)

    def _count(self, created: bool, size: int) -> None:
        with self._lock:  # called from the upload threads
            if created:
                self.result.objects_uploaded += 1
                self.result.bytes_uploaded += size
            else:
                self.result.objects_present += 1


def _by_height(trees: dict[str, list[treemod.TreeEntry]]) -> list[list[str]]:
    """Missing trees grouped by height (0: no missing subtree), lowest first."""
    height: dict[str, int] = {}

    def h(oid: str) -> int:
        stack = [(oid, False)]
        while stack:
            t, expanded = stack.pop()
            if t in height:
                continue
            kids = [e.oid for e in trees[t] if e.kind == treemod.TREE and e.oid in trees]
            if expanded:
                height[t] = 1 + max((height[k] for k in kids), default=-1)
            else:
                stack.append((t, True))
                stack.extend((k, False) for k in kids if k not in height)
        return height[oid]

    levels: dict[int, list[str]] = {}
    for oid in trees:
        levels.setdefault(h(oid), []).append(oid)
    return [levels[k] for k in sorted(levels)]
