"""Trees written byte by byte (no validation, rows kept in the order given): for tests of
what readers do with trees tmt would never write (hostile names, kinds, sizes, sorting)."""
from __future__ import annotations

import msgpack

from tmt.store.backend import ObjectBackend


def raw_tree(store: ObjectBackend, rows: list) -> str:
    """Store the tree of `rows` ([name, kind, object id, size]; the id as hex or as its 32
    bytes) and return its id."""
    entries = [[name, kind, bytes.fromhex(oid) if isinstance(oid, str) else oid, size] for name, kind, oid, size in rows]
    return store.put(msgpack.packb([1, entries], use_bin_type=True))
