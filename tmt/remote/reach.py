"""What a remote's records reach: every record version read and checked, trees walked.

Shared by remote gc (what may go) and remote fsck (what is missing). A record version or a
tree is read from the local store when it is there with the same hash (the machine running
gc usually holds most of them), else from the remote, and re-hashed either way.
"""
from __future__ import annotations

from tmt.errors import CorruptObject, RecordError
from tmt.maintenance.reach import Marker, TreeProblem, record_roots
from tmt.records.model import Record
from tmt.remote import layout
from tmt.remote.backend import RemoteNotFound
from tmt.remote.local import LocalStore, digest
from tmt.remote.pull import parse_record
from tmt.remote.remote import Remote, parallel
from tmt.store.ids import ObjectId


def read_versions(rem: Remote, local: LocalStore | None, versions: dict[str, list[layout.Version]]
                  ) -> tuple[list[tuple[layout.Version, Record]], list[tuple[layout.Version, str]]]:
    """(good versions with their records, bad versions with the reason)."""
    items = [v for vs in versions.values() for v in vs]

    def one(v: layout.Version):
        data = None
        if local is not None:
            got = local.record_bytes(v.run_id)
            if got is not None and digest(got[0]) == v.digest:
                data = got[0]
        try:
            if data is None:
                data = rem.get(v.key)
            return v, parse_record(data, v, v.key)
        except RemoteNotFound:
            return v, None  # deleted meanwhile (not by tmt: record versions are never deleted)
        except RecordError as e:
            return v, getattr(e, "reason", None) or e.message

    good, bad = [], []
    for v, rec in parallel(one, items, rem.backend.concurrency):
        if isinstance(rec, Record):
            good.append((v, rec))
        elif rec is not None:
            bad.append((v, rec))
    return good, bad


def tree_reader(rem: Remote, local: LocalStore | None):
    def read(oid: str) -> bytes:
        if local is not None and local.has(oid):
            try:
                data = local.get(oid)
                from tmt.store.ids import hash_bytes

                if hash_bytes(data) == oid:
                    return data
            except Exception:
                pass
        try:
            return rem.get_object(oid)
        except RemoteNotFound:
            raise TreeProblem("missing", "missing from the remote") from None
        except CorruptObject as e:
            raise TreeProblem("corrupt", e.reason) from None

    return read


def mark(rem: Remote, local: LocalStore | None, records: list[tuple[layout.Version, Record]],
         *, track: bool = False) -> Marker:
    """Every id the record versions reach (trees recursively); `marker.problems` holds the
    trees that could not be read."""
    marker = Marker(read=tree_reader(rem, local), threads=rem.backend.concurrency, track=track)
    trees: list[tuple[ObjectId, str]] = []  # (id, what reaches it)
    blobs: list[tuple[ObjectId, str]] = []
    for v, rec in records:
        roots = record_roots(rec)
        label = f"run {rec.id[:8]}"
        trees.extend((t, label) for t in roots.trees)
        blobs.extend((b, label) for b, _ in roots.blobs)
    marker.add_blobs(blobs)
    marker.add_trees(trees)
    return marker
