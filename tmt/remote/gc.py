"""Remote gc: delete objects no record version on a remote references, beside live pushes.

S3 has no rename and no utime, so the local protocol (move aside, refresh mtimes) does not
carry over. Instead, two phases, leases and a grace period:

1. **Collect.** Mark every id the record versions reach. Candidates are the objects not
   marked and older than the grace period (by the server's clock). Write `gc/<id>.json`
   listing them, then set each aside: copy it to `fossils/<id>/…`, delete it from
   `objects/`; trees before their contents, so "a present tree implies its whole subtree"
   keeps holding for everything but what this gc set aside. Then write
   `gc/<id>.leases.json`: the leases of the pushes running at that moment (a lease without
   its done marker, younger than its TTL).
2. **Sweep**, at once when no push was running, else by a later `tmt gc --remote` once every
   one of those leases is done or expired: mark again, copy back every fossil that became
   reachable (blobs before trees), delete the rest of `fossils/<id>/` and the gc files.

Why no push loses an object. A push writes its lease, *then* reads the pending gcs' lists
and treats every listed object as absent (it uploads it again), and it never relies on a
present tree whose local subtree holds a listed object. So a push whose lease came after a
collection's lease snapshot never relies on a fossil; a push whose lease came before is in
the snapshot, and the sweep waits until its records are written (done marker) or it is dead
(lease expired; a push re-checks everything under a new lease before its own lease could
expire), and then sees its records in the second mark. Readers (pull, lazy fetch) that meet
a missing object look in the pending gcs' fossils. Only gc deletes, so only gc needs
delete permission. One gc at a time: `gc/lock`, created create-only (a server that ignores
If-None-Match cannot keep two gcs apart: gc refuses to run there without `force`).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

from tmt._sys import hostname
from tmt._units import parse_duration
from tmt.errors import LockedError, RemoteError
from tmt.maintenance.reach import TREE_MAGIC
from tmt.remote import config, layout
from tmt.remote.backend import RemoteNotFound
from tmt.remote.local import LocalStore
from tmt.remote.pull import STREAM_ABOVE
from tmt.remote.push import LEASE_TTL_S, create_only
from tmt.remote.reach import mark, read_versions
from tmt.remote.remote import Progress, Remote, parallel
from tmt.repo import Repo
from tmt.text import printable

DEFAULT_GRACE_S = 3600.0
#: objects set aside per round (copied, then deleted in one request)
SET_ASIDE_BATCH = 256
#: larger objects are taken for blobs without being read (a tree this big names ~100,000 files)
TREE_MAX = 16 << 20
#: a gc lock older than this is a killed gc's (a gc that runs longer refreshes nothing: keep
#: a remote gc well under it)
LOCK_TTL_S = 6 * 3600.0


@dataclass(slots=True)
class RemoteGcResult:
    remote: str
    url: str
    objects_kept: int = 0  # reachable
    objects_young: int = 0  # unreachable, within the grace period
    objects_set_aside: int = 0  # by this gc's collection (moved to fossils/)
    bytes_set_aside: int = 0
    objects_deleted: int = 0  # fossils deleted by sweeps (or that would be set aside, dry run)
    bytes_freed: int = 0
    objects_restored: int = 0  # fossils a push adopted meanwhile, put back
    collections_swept: int = 0
    collections_waiting: int = 0  # set aside, waiting for pushes to end
    pushes_waited_for: int = 0
    leases_removed: int = 0
    probes_removed: int = 0
    dry_run: bool = False
    grace_s: float = DEFAULT_GRACE_S
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def gc(remote: str | None = None, *, repo=None, grace: float | str = DEFAULT_GRACE_S, dry_run: bool = False,
       force: bool = False, progress: Progress | None = None) -> RemoteGcResult:
    """Run remote gc on `remote` (default: the first remote); see the module docstring."""
    t0 = time.monotonic()
    repo = Repo.resolve(repo)
    spec = config.get(repo, remote)
    grace_s = parse_duration(grace)
    progress = progress or (lambda phase, done, total: None)
    with Remote.open(spec) as rem, LocalStore(repo) as local:
        result = RemoteGcResult(spec.name, rem.url, dry_run=dry_run, grace_s=grace_s)
        if not rem.check(create=False):
            return result
        if not create_only(repo, rem, spec, quiet=True) and not force:
            raise RemoteError(
                f"{rem.url} ignores create-only writes (If-None-Match), so tmt cannot keep two remote gcs apart",
                "make sure no other `tmt gc --remote` runs on it, then pass --force",
            )
        clock = _lock(rem, dry_run)
        try:
            _Gc(rem, local, clock, grace_s, dry_run, result, progress).run()
        finally:
            if not dry_run:
                rem.call(rem.backend.delete_many, [layout.GC_LOCK])
    result.duration_s = time.monotonic() - t0
    return result


class _Clock:
    """The server's time: the mtime of an object we just wrote, advanced by our monotonic
    clock (leases and grace are judged by one clock, whatever the machines' skew)."""

    def __init__(self, server_now: float) -> None:
        self.base = server_now
        self.t0 = time.monotonic()

    def now(self) -> float:
        return self.base + (time.monotonic() - self.t0)


def _lock(rem: Remote, dry_run: bool) -> _Clock:
    body = json.dumps({"host": hostname(), "pid": os.getpid(), "started_at": time.time()}).encode()
    if dry_run:  # writes nothing; the clock from a probe would be a write too: use ours
        return _Clock(time.time())
    for attempt in range(2):
        if rem.put(layout.GC_LOCK, body):
            info = rem.head(layout.GC_LOCK)
            return _Clock(info.mtime if info else time.time())
        info = rem.head(layout.GC_LOCK)
        try:
            holder = json.loads(rem.get(layout.GC_LOCK))
        except (RemoteNotFound, ValueError):
            holder = {}
        probe_key = f"{layout.PROBES}{time.time_ns():020d}{os.urandom(6).hex()}"
        rem.put(probe_key, b"clock")
        probe = rem.head(probe_key)
        server_now = probe.mtime if probe else time.time()
        if info is not None and server_now - info.mtime < LOCK_TTL_S and attempt == 0:
            who = f"{printable(holder.get('host', '?'))} (pid {holder.get('pid', '?')})"
            raise LockedError(
                f"another `tmt gc --remote` is running on {rem.url} (from {who}, for "
                f"{int(server_now - info.mtime)} s)",
                f"wait for it to finish; a killed gc's lock is ignored after {int(LOCK_TTL_S // 3600)} hours",
            )
        rem.call(rem.backend.delete_many, [layout.GC_LOCK])  # a killed gc's lock
    raise LockedError(f"could not take the gc lock of {rem.url}", "try again")


class _Gc:
    def __init__(self, rem, local, clock, grace_s, dry_run, result, progress) -> None:
        self.rem: Remote = rem
        self.local: LocalStore = local
        self.clock: _Clock = clock
        self.grace_s = grace_s
        self.dry_run = dry_run
        self.r: RemoteGcResult = result
        self.progress = progress

    def run(self) -> None:
        pending = self.rem.pending_gcs(refresh=True)
        leases = self._leases()
        # Which earlier collections may be swept: every push they wait for has ended.
        ready: list[tuple[str, str]] = []  # (gc id, its state)
        waiting: list[tuple[str, str]] = []
        for gc_id, _ in pending:
            state = self._collection_state(gc_id, leases)
            (ready if state != "waiting" else waiting).append((gc_id, state))
        # One mark, made after those pushes ended (their records are written by now).
        self.progress("Reading records", 0, 0)
        versions = self.rem.record_versions()
        good, bad = read_versions(self.rem, self.local, versions)
        if bad:
            v, reason = bad[0]
            raise RemoteError(
                f"record version {v.key} on {self.rem.url} cannot be read ({printable(reason)}); it may reference "
                "objects, so gc deletes nothing",
                f"run `tmt fsck --remote {self.rem.name}`",
            )
        marker = mark(self.rem, self.local, good)
        if marker.problems:
            oid, (kind, reason) = next(iter(marker.problems.items()))
            raise RemoteError(
                f"tree {oid} needed by a record on {self.rem.url} is {kind} ({reason}); gc cannot tell which objects "
                "it needs, so it deletes nothing",
                f"push the run again from a machine that has it, and run `tmt fsck --remote {self.rem.name}`",
            )
        reachable = marker.marked
        for gc_id, state in ready:
            self._sweep(gc_id, reachable, restore_all=(state == "interrupted"))
        self.r.collections_waiting = len(waiting)
        self._collect(reachable, leases, busy={g for g, _ in waiting})
        self._tidy(leases)

    # -- leases ------------------------------------------------------------------------------

    def _leases(self) -> dict[str, dict]:
        """lease id -> {"mtime", "done", "ttl"} from one listing of leases/."""
        out: dict[str, dict] = {}
        for info in self.rem.list(layout.LEASES):
            lid = layout.parse_named(info.key, layout.LEASES, ".json")
            if lid is not None:
                out.setdefault(lid, {"done": False})["mtime"] = info.mtime
                continue
            lid = layout.parse_named(info.key, layout.LEASES, ".done")
            if lid is not None:
                out.setdefault(lid, {"done": False})["done"] = True
        return out

    def _live(self, lease: dict) -> bool:
        mtime = lease.get("mtime")
        return not lease["done"] and mtime is not None and self.clock.now() - mtime < LEASE_TTL_S

    def _collection_state(self, gc_id: str, leases: dict[str, dict]) -> str:
        try:
            doc = json.loads(self.rem.get(layout.gc_leases_key(gc_id)))
        except RemoteNotFound:
            return "interrupted"  # killed while setting aside: put everything back
        except ValueError:
            return "interrupted"
        waits = [lid for lid in doc.get("leases", []) if isinstance(lid, str) and self._live(leases.get(lid, {"done": True}))]
        self.r.pushes_waited_for += len(waits)
        return "waiting" if waits else "ready"

    # -- phase 2: sweep ----------------------------------------------------------------------

    def _sweep(self, gc_id: str, reachable: set[str], *, restore_all: bool) -> None:
        prefix = f"{layout.FOSSILS}{gc_id}/"
        fossils = {}
        for info in self.rem.list(prefix):
            oid = layout.oid_of(info.key, prefix)
            if oid is not None:
                fossils[oid] = info
        back = [o for o in fossils if restore_all or o in reachable]
        if self.dry_run:
            self.r.objects_deleted += len(fossils) - len(back)
            self.r.bytes_freed += sum(fossils[o].size for o in fossils if o not in back)
            return
        self._restore(gc_id, back)
        self.r.objects_restored += len(back) if not restore_all else 0
        gone = [o for o in fossils if o not in back]
        self.rem.call(self.rem.backend.delete_many, [layout.fossil_key(gc_id, o) for o in fossils])
        self.r.objects_deleted += len(gone)
        self.r.bytes_freed += sum(fossils[o].size for o in gone)
        self.rem.call(self.rem.backend.delete_many, [layout.gc_leases_key(gc_id), layout.gc_key(gc_id)])
        self.r.collections_swept += 1

    def _restore(self, gc_id: str, oids: list[str]) -> None:
        """Copy fossils back to objects/: blobs first, then trees (a tree after its content)."""
        keys = {o: layout.fossil_key(gc_id, o) for o in oids}
        trees = self._trees(keys)
        for group in ([o for o in oids if o not in trees], [o for o in oids if o in trees]):
            self._copy_all([(keys[o], layout.object_key(o)) for o in group])

    # -- copies with bounded memory ------------------------------------------------------------

    def _trees(self, keys: dict[str, str]) -> set[str]:
        """Which of these objects are trees: from the local store when it has them, else by
        reading their first bytes from the remote (objects of a tree's size only)."""
        from tmt.store.ids import hash_bytes

        def is_tree(item: tuple[str, str]) -> bool:
            oid, key = item
            if self.local.has(oid):
                return self.local.head(oid, 2) == TREE_MAGIC
            info = self.rem.head(key)
            if info is None or info.size > TREE_MAX:
                return False
            data = self.rem.get(key)
            return data[:2] == TREE_MAGIC and hash_bytes(data) == oid

        items = list(keys.items())
        return {o for (o, _), t in zip(items, parallel(is_tree, items, self.rem.backend.concurrency)) if t}

    def _copy_all(self, pairs: list[tuple[str, str]]) -> None:
        """Create-only copies src -> dst, large objects through a temp file, never all in memory."""
        def copy(pair: tuple[str, str]) -> None:
            src, dst = pair
            info = self.rem.head(src)
            if info is not None and info.size > STREAM_ABOVE:
                tmp = self.local.tmp_path()
                try:
                    self.rem.get(src, into=tmp)
                    self.rem.put(dst, tmp)
                finally:
                    tmp.unlink(missing_ok=True)
            else:
                self.rem.put(dst, self.rem.get(src))

        parallel(copy, pairs, self.rem.backend.concurrency)

    # -- phase 1: collect ----------------------------------------------------------------------

    def _collect(self, reachable: set[str], leases: dict[str, dict], busy: set[str]) -> None:
        self.progress("Scanning objects", 0, 0)
        objects = self.rem.object_ids()
        now = self.clock.now()
        # Objects a waiting collection listed are its business (a push may re-upload one).
        listed = set()
        for gc_id, cands in self.rem.pending_gcs(refresh=True):
            if gc_id in busy:
                listed |= cands
        candidates = []
        for oid, info in objects.items():
            if oid in reachable:
                self.r.objects_kept += 1
            elif now - info.mtime < self.grace_s:
                self.r.objects_young += 1
            elif oid not in listed:
                candidates.append(oid)
        size = sum(objects[o].size for o in candidates)
        if self.dry_run:
            self.r.objects_deleted += len(candidates)
            self.r.bytes_freed += size
            return
        if not candidates:
            return
        gc_id = f"{time.time_ns():020d}{os.urandom(4).hex()}"
        self.rem.put(layout.gc_key(gc_id), json.dumps({"candidates": candidates, "host": hostname(),
                                                        "created_at": time.time()}).encode())
        # Set aside: keep a fossil, then delete the original; every tree before any blob, so
        # a tree still in objects/ never lacks part of its subtree because of this gc.
        label = "Setting objects aside"
        keys = {o: layout.object_key(o) for o in candidates}
        trees = self._trees(keys)
        done = 0
        for group in ([o for o in candidates if o in trees], [o for o in candidates if o not in trees]):
            for start in range(0, len(group), SET_ASIDE_BATCH):
                batch = group[start: start + SET_ASIDE_BATCH]
                self._copy_all([(keys[o], layout.fossil_key(gc_id, o)) for o in batch])
                self.rem.call(self.rem.backend.delete_many, [keys[o] for o in batch])
                done += len(batch)
                self.progress(label, done, len(candidates))
        self.r.objects_set_aside = len(candidates)
        self.r.bytes_set_aside = size
        # The pushes running now: listed *after* every candidate left objects/.
        live = [lid for lid, lease in self._leases().items() if self._live(lease)]
        self.rem.put(layout.gc_leases_key(gc_id), json.dumps({"leases": live}).encode())
        self.rem._pending = None
        if not live:
            marker_again = mark(self.rem, self.local, read_versions(self.rem, self.local, self.rem.record_versions())[0])
            self._sweep(gc_id, marker_again.marked, restore_all=False)
        else:
            self.r.collections_waiting += 1
            self.r.pushes_waited_for += len(live)

    def _tidy(self, leases: dict[str, dict]) -> None:
        """Delete ended leases no waiting collection names, and old probes."""
        if self.dry_run:
            return
        named: set[str] = set()
        for gc_id, _ in self.rem.pending_gcs(refresh=True):
            try:
                named |= set(json.loads(self.rem.get(layout.gc_leases_key(gc_id))).get("leases", []))
            except (RemoteNotFound, ValueError, AttributeError):
                pass
        now = self.clock.now()
        old = [lid for lid, lease in leases.items()
               if not self._live(lease) and lid not in named and now - lease.get("mtime", 0) > self.grace_s]
        keys = [k for lid in old for k in (layout.lease_key(lid), layout.lease_done_key(lid))]
        probes = [i.key for i in self.rem.list(layout.PROBES) if now - i.mtime > self.grace_s]
        self.rem.call(self.rem.backend.delete_many, keys + probes)
        self.r.leases_removed = len(old)
        self.r.probes_removed = len(probes)
