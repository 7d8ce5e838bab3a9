"""Tree objects: canonical bytes, validated names and fields on encode and on decode."""
from __future__ import annotations

import msgpack
import pytest

from tmt.errors import InvalidTree
from tmt.snapshot.tree import TreeEntry, decode_tree, encode_tree, tree_id
from tmt.store.ids import hash_bytes

A = hash_bytes(b"a")
B = hash_bytes(b"b")
OID = "0123456789abcdef" * 4


def raw(*rows: list, version: object = 1) -> bytes:
    """Hand-encode a tree, bypassing every check of encode_tree."""
    return msgpack.packb([version, list(rows)], use_bin_type=True)


_DEFAULT = object()


def row(name: bytes, kind: object = "f", oid: object = _DEFAULT, size: object = 1) -> list:
    return [name, kind, bytes.fromhex(A) if oid is _DEFAULT else oid, size]


def test_encode_layout() -> None:
    data = encode_tree([TreeEntry(b"b", "f", B, 7), TreeEntry(b"a", "x", A, 3)])
    assert msgpack.unpackb(data, raw=False) == [1, [[b"a", "x", bytes.fromhex(A), 3], [b"b", "f", bytes.fromhex(B), 7]]]
    assert tree_id(data) == hash_bytes(data)


def test_exact_bytes_of_an_empty_tree() -> None:
    assert encode_tree([]) == bytes.fromhex("920190")  # fixarray(2) [1, fixarray(0)]
    assert tree_id(encode_tree([])) == "001a71110118961d057ebe96e71e996f0ccf168e1fd2e175af4c6a3b6ccd7ab0"  # docs/format.md


def test_canonical_regardless_of_order() -> None:
    entries = [
        TreeEntry(b"z", "f", A, 1),
        TreeEntry(b"a", "d", B, 10),
        TreeEntry(b"M", "l", A, 4),
        TreeEntry(b"\xff", "x", B, 0),
        TreeEntry(b"a b", "f", A, 2),
    ]
    first = encode_tree(entries)
    assert encode_tree(reversed(entries)) == first
    assert encode_tree(sorted(entries, key=lambda e: e.kind)) == first
    names = [e.name for e in decode_tree(first)]
    assert names == sorted(names) == [b"M", b"a", b"a b", b"z", b"\xff"]  # byte order, not locale


def test_round_trip_non_utf8_and_unicode_names() -> None:
    entries = [
        TreeEntry(b"caf\xc3\xa9.py", "f", A, 5),
        TreeEntry(b"latin1-\xe9.txt", "f", B, 6),
        TreeEntry(b"with space", "x", A, 1),
        TreeEntry(b"\x01ctrl", "l", B, 3),
    ]
    assert decode_tree(encode_tree(entries)) == sorted(entries, key=lambda e: e.name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (b"", "invalid entry name b''"),
        (b".", "invalid entry name b'.'"),
        (b"..", "invalid entry name b'..'"),
        (b"a/b", "invalid entry name b'a/b': contains '/' or NUL"),
        (b"/", "invalid entry name b'/': contains '/' or NUL"),
        (b"a\0b", "invalid entry name b'a\\x00b': contains '/' or NUL"),
        (b"x" * 4097, "entry name too long (4097 bytes)"),
        ("str-name", "entry name 'str-name' is not bytes"),
    ],
)
def test_bad_names(name: bytes, message: str) -> None:
    with pytest.raises(InvalidTree) as err:
        encode_tree([TreeEntry(name, "f", A, 1)])  # type: ignore[arg-type]
    assert err.value.message == message
    with pytest.raises(InvalidTree) as err:
        decode_tree(raw(row(name)), OID)
    if isinstance(name, bytes):
        assert err.value.message == f"tree {OID}: {message}"
    else:
        assert err.value.message == f"tree {OID} has a non-bytes entry name 'str-name'"


def test_duplicate_names() -> None:
    with pytest.raises(InvalidTree, match=r"duplicate entry name b'a'"):
        encode_tree([TreeEntry(b"a", "f", A, 1), TreeEntry(b"a", "x", B, 1)])
    with pytest.raises(InvalidTree) as err:
        decode_tree(raw(row(b"a"), row(b"a")), OID)
    assert err.value.message == f"tree {OID} entries are not sorted and unique at b'a'"


def test_unsorted_entries_on_decode() -> None:
    with pytest.raises(InvalidTree) as err:
        decode_tree(raw(row(b"b"), row(b"a")), OID)
    assert err.value.message == f"tree {OID} entries are not sorted and unique at b'a'"


@pytest.mark.parametrize("kind", ["z", "F", "", b"f", 1, None, ["f"], {"k": 1}])
def test_unknown_kind(kind: object) -> None:
    with pytest.raises(InvalidTree) as err:
        decode_tree(raw(row(b"a", kind=kind)), OID)
    assert err.value.message.startswith(f"tree {OID} entry b'a' has unknown kind ")
    with pytest.raises(InvalidTree) as err:
        encode_tree([TreeEntry(b"a", kind, A, 1)])  # type: ignore[arg-type]
    assert err.value.message.startswith("entry b'a' has unknown kind ")


@pytest.mark.parametrize("bad", [b"x" * 31, b"x" * 33, b"", "a" * 32, None, 5])
def test_malformed_oid_on_decode(bad: object) -> None:
    with pytest.raises(InvalidTree) as err:
        decode_tree(raw(row(b"a", oid=bad)), OID)
    assert err.value.message == f"tree {OID} entry b'a' has a malformed object id"


@pytest.mark.parametrize("bad", ["ab", "A" * 64, "../x", "", None])
def test_malformed_oid_on_encode(bad: object) -> None:
    with pytest.raises(InvalidTree, match="entry b'a' has a malformed object id"):
        encode_tree([TreeEntry(b"a", "f", bad, 1)])  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [-1, 1 << 63, (1 << 64) - 1, 1.5, True, "3", None])
def test_absurd_sizes(size: object) -> None:
    with pytest.raises(InvalidTree) as err:
        decode_tree(raw(row(b"a", size=size)), OID)
    assert err.value.message == f"tree {OID} entry b'a' has an invalid size {size!r}"
    with pytest.raises(InvalidTree, match="entry b'a' has an invalid size"):
        encode_tree([TreeEntry(b"a", "f", A, size)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # never-used msgpack byte
        b"\x92\x01",  # truncated
        encode_tree([]) + b"\x00",  # trailing bytes
        b"\xff" * 10,
    ],
)
def test_malformed_msgpack_names_the_object(data: bytes) -> None:
    with pytest.raises(InvalidTree) as err:
        decode_tree(data, OID)
    assert err.value.message.startswith(f"tree {OID} does not decode: malformed msgpack")


@pytest.mark.parametrize(
    "value",
    [{"v": 1}, [1], [1, [], 3], "tree", 1, [1, {}], None],
)
def test_wrong_shape(value: object) -> None:
    with pytest.raises(InvalidTree) as err:
        decode_tree(msgpack.packb(value, use_bin_type=True), OID)
    assert err.value.message == f"tree {OID} is not a [version, entries] array"


@pytest.mark.parametrize("version", [0, 2, True, 1.0, "1", None])
def test_other_versions_refused(version: object) -> None:
    with pytest.raises(InvalidTree) as err:
        decode_tree(raw(version=version), OID)
    assert err.value.message == (
        f"tree {OID} has format version {version!r}; this tmt reads version 1"
    )
    assert err.value.hint == "upgrade tmt"


@pytest.mark.parametrize("bad_row", [[b"a", "f", b"x" * 32], "row", [b"a", "f", b"x" * 32, 1, 2]])
def test_malformed_entry(bad_row: object) -> None:
    with pytest.raises(InvalidTree) as err:
        decode_tree(raw(bad_row), OID)
    assert err.value.message.startswith(f"tree {OID} has a malformed entry ")


def test_non_canonical_encoding_is_refused() -> None:
    # Same logical tree, size written as a uint64 instead of a positive fixint: a second id
    # for the same content would break "same content, same id".
    good = raw(row(b"a", size=1))
    assert decode_tree(good) == [TreeEntry(b"a", "f", A, 1)]
    wide = good[:-1] + b"\xcf" + (1).to_bytes(8, "big")
    assert msgpack.unpackb(wide, raw=False) == msgpack.unpackb(good, raw=False)
    with pytest.raises(InvalidTree) as err:
        decode_tree(wide, OID)
    assert err.value.message == f"tree {OID} is not canonically encoded"


def test_decode_without_oid_uses_placeholder() -> None:
    with pytest.raises(InvalidTree, match=r"^tree \? does not decode"):
        decode_tree(b"\xc1")
