"""Property: for any objects, trees, records and live pins, gc --grace 0 keeps exactly the
reachable set (closure over trees, computed here independently of tmt's marking code)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tmt.maintenance import fsck, gc
from tmt.records.io import write_record
from tmt.records.model import Record, new_run_id
from tmt.repo import Repo
from tmt.snapshot.tree import TreeEntry, encode_tree
from tmt.store.pins import PinFile

blobs_st = st.lists(st.binary(max_size=12), max_size=8)


@st.composite
def stores(draw):
    blobs = draw(blobs_st)
    n_trees = draw(st.integers(0, 5))
    trees = []  # each: list of ("b", i) / ("t", j<i)
    for i in range(n_trees):
        choices = [("b", k) for k in range(len(blobs))] + [("t", k) for k in range(i)]
        kids = draw(st.lists(st.sampled_from(choices), max_size=4)) if choices else []
        trees.append(kids)
    nodes = [("b", k) for k in range(len(blobs))] + [("t", k) for k in range(n_trees)]
    records = draw(st.lists(st.tuples(
        st.none() | (st.integers(0, n_trees - 1) if n_trees else st.none()),
        st.lists(st.integers(0, len(blobs) - 1), max_size=2) if blobs else st.just([]),
        st.lists(st.integers(0, len(blobs) - 1), max_size=2) if blobs else st.just([]),
        st.sampled_from(["running", "completed", "failed"]),
    ), max_size=4))
    pins = draw(st.lists(st.sampled_from(nodes), max_size=3)) if nodes else []
    return blobs, trees, records, pins


@pytest.mark.slow
@given(stores())
def test_gc_keeps_exactly_the_reachable_set(spec):
    blobs, trees, records, pins = spec
    with tempfile.TemporaryDirectory() as d:
        repo = Repo.init(Path(d))
        store = repo.store
        blob_ids = [store.put(b) for b in blobs]
        tree_ids, children = [], {}
        for kids in trees:
            entries = []
            for j, (kind, k) in enumerate(kids):
                oid = blob_ids[k] if kind == "b" else tree_ids[k]
                size = len(blobs[k]) if kind == "b" else 0
                entries.append(TreeEntry(f"e{j}".encode(), "f" if kind == "b" else "d", oid, size))
            tid = store.put(encode_tree(entries))
            tree_ids.append(tid)
            children[tid] = {e.oid for e in entries}
        roots = set()
        for tree, series, arts, status in records:
            rec = Record(
                id=new_run_id(), name="p", status=status, created_at="2026-01-01T00:00:00+00:00",
                code={"root": ".", "tree": tree_ids[tree]} if tree is not None else None,
                series={f"s{i}": blob_ids[k] for i, k in enumerate(series)},
                artifacts=[{"name": f"a{i}", "object": blob_ids[k], "size": len(blobs[k])} for i, k in enumerate(arts)],
            )
            write_record(repo.experiments_dir, repo.tmp_dir, rec)
            roots |= set(rec.object_ids())
        pin_ids = {blob_ids[k] if kind == "b" else tree_ids[k] for kind, k in pins}
        expected, stack = set(), list(roots | pin_ids)
        while stack:
            oid = stack.pop()
            if oid not in expected:
                expected.add(oid)
                stack.extend(children.get(oid, ()))
        with PinFile(repo.tmt_dir) as pin:
            pin.add(sorted(pin_ids))
            before = set(store)
            r = gc(repo, grace=0)
            assert set(store) == expected
            assert r.objects_deleted == len(before - expected)
            check = fsck(repo)
            assert check.ok and not check.by_kind("dangling_object")
