"""The one place that owns msgpack options, so every encoded byte in the store is canonical.

- `use_bin_type=True`: bytes and str stay distinct (file names are bytes, kinds are str).
- `raw=False`: str decodes to str; `strict_map_key=True`: map keys only str/bytes.
- Decoding limits bound the memory a hostile object can make us allocate.
- Maps are never encoded by the tree format (arrays only), so key order cannot vary.
"""
from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any

import msgpack

MAX_OBJECT_DECODE = 256 * 1024 * 1024


def packb(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


_ERRORS = (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, TypeError)


def _options(max_len: int) -> dict[str, Any]:
    return dict(
        raw=False,
        strict_map_key=True,
        max_bin_len=max_len,
        max_str_len=max_len,
        max_array_len=max_len,
        max_map_len=max_len,
    )


def unpackb(data: bytes, max_len: int = MAX_OBJECT_DECODE, *, use_list: bool = True) -> Any:
    """Decode one msgpack value; raises ValueError (or a subclass) on any malformed input."""
    try:
        return msgpack.unpackb(data, use_list=use_list, **_options(max_len))
    except _ERRORS as e:  # UnicodeDecodeError is a ValueError
        raise ValueError(f"malformed msgpack: {e}") from None


def unpack_many(chunks: list[bytes], max_len: int = MAX_OBJECT_DECODE) -> list[Any]:
    """Decode many concatenated msgpack values in one C-level pass (index columns)."""
    if not chunks:
        return []
    import io

    try:
        return list(msgpack.Unpacker(io.BytesIO(b"".join(chunks)), **_options(max_len)))
    except _ERRORS as e:
        raise ValueError(f"malformed msgpack: {e}") from None
