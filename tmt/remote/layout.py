"""Key names of the remote layout (docs/format.md, "Remote layout"), defined here only.

    tmt-remote.json                          {"format": 1}: marks the prefix as a tmt remote
    objects/ab/cdef…                         objects, exactly the local bytes and names
    records/<run id>/<rank>-<stamp>-<h>.json immutable record versions
    leases/<lease id>.json, <lease id>.done  a push in progress, and its end
    gc/<gc id>.json, gc/<gc id>.leases.json  a remote gc's candidates, then the pushes it waits for
    gc/lock                                  one remote gc at a time
    fossils/<gc id>/ab/cdef…                 objects a gc set aside (readers still find them)
    probes/<random>                          create-only probes (deleted by gc)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from tmt.store.ids import OID_RE

MARKER = "tmt-remote.json"
MARKER_BYTES = b'{"format": 1}\n'
REMOTE_FORMAT = 1
OBJECTS = "objects/"
RECORDS = "records/"
LEASES = "leases/"
GC = "gc/"
GC_LOCK = "gc/lock"
FOSSILS = "fossils/"
PROBES = "probes/"

#: statuses a record leaves once: a `running` version is less final than any other
FINAL_STATUSES = ("completed", "failed", "interrupted", "crashed")  # crashed: stored by `tmt run`
_VERSION_RE = re.compile(r"records/([0-9a-f]{32})/([01])-([0-9]{20})-([0-9a-f]{32})\.json\Z")
_ID_RE = re.compile(r"[0-9a-f]{16,64}\Z")


def object_key(oid: str) -> str:
    return f"{OBJECTS}{oid[:2]}/{oid[2:]}"


def fossil_key(gc_id: str, oid: str) -> str:
    return f"{FOSSILS}{gc_id}/{oid[:2]}/{oid[2:]}"


def oid_of(key: str, prefix: str = OBJECTS) -> str | None:
    """The object id a key under `prefix` names, or None for any other name."""
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix):]
    if len(rest) != 65 or rest[2] != "/":
        return None
    oid = rest[:2] + rest[3:]
    return oid if OID_RE.match(oid) else None


@dataclass(frozen=True, slots=True, order=True)
class Version:
    """One stored version of a run's record. Versions order by finality: a final status beats
    `running`, then the later stamp (the record file's mtime in ns where it was written), then
    the hash (so every reader picks the same one)."""

    rank: int  # 0 running, 1 finished
    stamp: int
    digest: str  # first 32 hex of the BLAKE3 of the record's bytes
    run_id: str

    @property
    def key(self) -> str:
        return f"{RECORDS}{self.run_id}/{self.rank}-{self.stamp:020d}-{self.digest}.json"


def rank_of(status: str) -> int:
    return 1 if status in FINAL_STATUSES else 0


def parse_version(key: str) -> Version | None:
    m = _VERSION_RE.match(key)
    if m is None:
        return None
    return Version(int(m.group(2)), int(m.group(3)), m.group(4), m.group(1))


def lease_key(lease_id: str) -> str:
    return f"{LEASES}{lease_id}.json"


def lease_done_key(lease_id: str) -> str:
    return f"{LEASES}{lease_id}.done"


def gc_key(gc_id: str) -> str:
    return f"{GC}{gc_id}.json"


def gc_leases_key(gc_id: str) -> str:
    return f"{GC}{gc_id}.leases.json"


def parse_named(key: str, prefix: str, suffix: str) -> str | None:
    """`<prefix><id><suffix>` -> id (hex), else None."""
    if not (key.startswith(prefix) and key.endswith(suffix)):
        return None
    ident = key[len(prefix): len(key) - len(suffix)]
    return ident if _ID_RE.match(ident) else None
