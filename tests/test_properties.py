"""Property tests: random file trees survive snapshot -> materialize/restore; trees round-trip."""
from __future__ import annotations

import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmt.errors import InvalidTree
from tmt.snapshot.build import snapshot
from tmt.snapshot.checkout import materialize, restore
from tmt.snapshot.tree import KINDS, TreeEntry, decode_tree, encode_tree
from tmt.store.objects import ObjectStore

RESERVED = {b".", b"..", b".git", b".tmt", b".gitignore", b".tmtignore"}

text_names = st.text(
    alphabet=st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)), min_size=1, max_size=12
).map(lambda s: s.encode("utf-8"))
names = st.one_of(
    text_names,
    st.sampled_from([b"a b", b" lead", b"trail ", b"caf\xc3\xa9", b"\xe9t\xe9", b"x\xff\xfe", b"-n", b"*?[]"]),
    st.tuples(text_names, st.binary(min_size=1, max_size=3).filter(lambda b: b"/" not in b and b"\0" not in b)).map(
        lambda t: t[0] + t[1]
    ),
).filter(lambda n: n not in RESERVED and len(n) <= 200)

files = st.tuples(st.just("file"), st.binary(max_size=300), st.booleans())
links = st.tuples(st.just("link"), st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b))
layouts = st.recursive(
    st.dictionaries(names, st.one_of(files, links), max_size=5),
    lambda children: st.dictionaries(names, st.one_of(files, links, children), max_size=5),
    max_leaves=25,
)


def write(base: bytes, layout: dict) -> None:
    os.makedirs(base, exist_ok=True)
    for name, node in layout.items():
        path = os.path.join(base, name)
        if isinstance(node, dict):
            write(path, node)
        elif node[0] == "file":
            with open(path, "wb") as f:
                f.write(node[1])
            os.chmod(path, 0o755 if node[2] else 0o644)
        else:
            os.symlink(node[1], path)


def expected(layout: dict, prefix: bytes = b"") -> dict[bytes, tuple]:
    """What a snapshot must keep: files and links (folders with none of them vanish)."""
    out: dict[bytes, tuple] = {}
    for name, node in layout.items():
        path = prefix + name
        if isinstance(node, dict):
            out.update(expected(node, path + b"/"))
        elif node[0] == "file":
            out[path] = ("file", node[1], node[2])
        else:
            out[path] = ("link", node[1])
    return out


def on_disk(base: bytes) -> dict[bytes, tuple]:
    out: dict[bytes, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, base)
            st_ = os.lstat(p)
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st_.st_mode):
                with open(p, "rb") as f:
                    out[rel] = ("file", f.read(), bool(st_.st_mode & 0o100), stat.S_IMODE(st_.st_mode))
    return out


@pytest.mark.slow
@given(layouts)
def test_snapshot_then_materialize_gives_identical_files(tmp_path_factory: pytest.TempPathFactory, layout: dict) -> None:
    base = os.fsencode(tmp_path_factory.mktemp("prop"))
    src = os.path.join(base, b"src")
    write(src, layout)
    store = ObjectStore(os.fsdecode(os.path.join(base, b"store")))
    res = snapshot(os.fsdecode(src), store, warn=lambda m: pytest.fail(m))
    want = expected(layout)
    assert res.files == len(want)

    view = os.path.join(base, b"view")
    materialize(store, res.tree, os.fsdecode(view))
    got = on_disk(view)
    assert {k: v[:3] for k, v in got.items()} == want
    for k, v in got.items():
        if v[0] == "file":
            assert v[3] == (0o555 if v[2] else 0o444)  # read-only view
    assert snapshot(os.fsdecode(view), store).tree == res.tree

    work = os.path.join(base, b"work")
    restore(store, res.tree, os.fsdecode(work))
    got = on_disk(work)
    assert {k: v[:3] for k, v in got.items()} == want
    for k, v in got.items():
        if v[0] == "file":
            assert v[3] & 0o200  # writable copies
    assert snapshot(os.fsdecode(work), store).tree == res.tree


entries = st.lists(
    st.builds(
        TreeEntry,
        name=names.filter(lambda n: n not in (b".", b"..")),
        kind=st.sampled_from(sorted(KINDS)),
        oid=st.binary(min_size=32, max_size=32).map(bytes.hex),
        size=st.integers(min_value=0, max_value=(1 << 63) - 1),
    ),
    max_size=20,
    unique_by=lambda e: e.name,
)


@pytest.mark.slow
@given(entries, st.randoms(use_true_random=False))
def test_tree_encode_decode_round_trip(items: list[TreeEntry], rnd) -> None:
    data = encode_tree(items)
    assert decode_tree(data) == sorted(items, key=lambda e: e.name)
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert encode_tree(shuffled) == data  # canonical


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_decode_never_fails_with_a_foreign_exception(data: bytes) -> None:
    try:
        decode_tree(data, "x")
    except InvalidTree:
        pass


@pytest.mark.slow
@settings(max_examples=100)
@given(entries, st.data())
def test_any_single_byte_flip_is_refused_or_still_canonical(items: list[TreeEntry], data: st.DataObject) -> None:
    encoded = encode_tree(items)
    i = data.draw(st.integers(0, len(encoded) - 1))
    flipped = bytearray(encoded)
    flipped[i] ^= data.draw(st.integers(1, 255))
    try:
        decoded = decode_tree(bytes(flipped), "x")
    except InvalidTree:
        return
    assert encode_tree(decoded) == bytes(flipped)  # whatever decodes re-encodes to itself
