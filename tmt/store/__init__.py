"""The content-addressed object store: ids, msgpack codec, atomic file writes, pins."""
from tmt.store.ids import ObjectId, hash_bytes, validate_oid
from tmt.store.objects import ObjectStore

__all__ = ["ObjectId", "ObjectStore", "hash_bytes", "validate_oid"]
