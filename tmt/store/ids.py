"""Object ids: BLAKE3-256 hex digests, validated where they enter from outside."""
from __future__ import annotations

import re
from typing import NewType

from blake3 import blake3

from tmt.errors import InvalidObjectId

ObjectId = NewType("ObjectId", str)

OID_HEX_LEN = 64
_OID_RE = re.compile(r"[0-9a-f]{64}\Z")


def validate_oid(value: object) -> ObjectId:
    """Return `value` as an ObjectId, or raise InvalidObjectId naming it."""
    if isinstance(value, str) and _OID_RE.match(value):
        return ObjectId(value)
    raise InvalidObjectId(
        f"{value!r} is not an object id (64 lowercase hex characters)",
        "object ids are BLAKE3-256 digests; a run ref or id prefix is not an object id",
    )


def hash_bytes(data: bytes | memoryview) -> ObjectId:
    return ObjectId(blake3(data).hexdigest())


def oid_to_bytes(oid: ObjectId) -> bytes:
    return bytes.fromhex(oid)


def oid_from_bytes(raw: bytes) -> ObjectId:
    if len(raw) != 32:
        raise InvalidObjectId(f"binary object id has {len(raw)} bytes, expected 32")
    return ObjectId(raw.hex())
