"""Object ids: BLAKE3-256 hex digests, validated where they enter from outside."""
from __future__ import annotations

import re
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import NewType

from blake3 import blake3

from tmt.errors import InvalidObjectId

if TYPE_CHECKING:
    ObjectId = NewType("ObjectId", str)
else:
    def ObjectId(value: str) -> str:  # what typing.NewType is at run time: the identity
        return value

#: An object id's form, defined here only: every module that checks ids imports these.
OID_HEX_LEN = 64
OID_RE = re.compile(rf"[0-9a-f]{{{OID_HEX_LEN}}}\Z")
_OID_RE = OID_RE  # the older private name
HEX_DIGITS = frozenset("0123456789abcdef")


def is_oid(value: object) -> bool:
    """Whether `value` is an object id (a str of 64 lowercase hex digits)."""
    return isinstance(value, str) and OID_RE.match(value) is not None


def validate_oid(value: object) -> ObjectId:
    """Return `value` as an ObjectId, or raise InvalidObjectId naming it."""
    if isinstance(value, str) and OID_RE.match(value):
        return ObjectId(value)
    raise InvalidObjectId(
        f"{value!r} is not an object id (64 lowercase hex characters)",
        "object ids are BLAKE3-256 digests; a run ref or id prefix is not an object id",
    )


def hash_bytes(data: bytes | memoryview) -> ObjectId:
    return ObjectId(blake3(data).hexdigest())
