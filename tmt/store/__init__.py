"""The content-addressed object store: ids, msgpack codec, atomic file writes, pins.

The names below load on first use: importing one submodule (tmt.store.fsutil for a record
write, tmt.store.codec for the index) does not import the object store and BLAKE3 with it.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmt.store.ids import ObjectId, hash_bytes, validate_oid
    from tmt.store.objects import ObjectStore

__all__ = ["ObjectId", "ObjectStore", "hash_bytes", "validate_oid"]
_HOME = {"ObjectId": "tmt.store.ids", "hash_bytes": "tmt.store.ids", "validate_oid": "tmt.store.ids",
         "ObjectStore": "tmt.store.objects"}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'tmt.store' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
